"""The SensorThings API 1.1 / OData ``$filter`` language: parser, canonical printer, SQL compiler.

Two calls do the work::

    tree = parse_filter("result gt 5 and Datastream/name eq 'NO2'")   # FilterSyntaxError (400)
    where = compile_filter(tree, resolver)                              # FilterCompileError (400)
    rows = session.execute(select(obs).where(where))

``compile_filter`` also accepts the text directly. ``unparse(tree)`` gives the
canonical text (``parse_filter(unparse(t)) == t``). Both errors subclass
``stadslab.core.errors.BadRequest`` and name the column of the problem.

The compiler does not know the data model: the entity layer implements
:class:`FilterResolver` for each entity type. A minimal resolver::

    from sqlalchemy import exists, select
    from stadslab.sensorthings.filter import FilterResolver, ResolvedValue, ValueKind

    class ObservationResolver:
        dialect = "sqlite"                      # or "postgresql": engine.dialect.name
        def __init__(self, table):              # the (aliased) table in the outer query
            self.t = table

        def resolve_property(self, path):
            t = self.t
            if path == ("result",):             # JSON, with optional typed shadow columns
                return ResolvedValue(t.c.result, ValueKind.JSON,
                                     number=t.c.result_number, string=t.c.result_string)
            if path and path[0] == "parameters":
                return ResolvedValue(t.c.parameters, ValueKind.JSON, json_path=path[1:])
            if path == ("phenomenonTime",):     # interval: start + end (NULL end = instant)
                return ResolvedValue(t.c.phenomenon_time_start, ValueKind.INTERVAL,
                                     end=t.c.phenomenon_time_end)
            if path == ("resultTime",):
                return ResolvedValue(t.c.result_time, ValueKind.DATETIME)
            if path == ("id",):
                return ResolvedValue(t.c.id, ValueKind.NUMBER)
            if path[:1] == ("Datastream",):     # to-one: correlated scalar subquery
                ds = datastreams.alias()
                inner = DatastreamResolver(ds).resolve_property(path[1:])
                if inner is None:
                    return None
                sub = (select(inner.expr).where(ds.c.id == t.c.datastream_id)
                       .scalar_subquery())
                return ResolvedValue(sub, inner.kind, json_path=inner.json_path)
            return None                          # -> 400 "unknown property ..."

        def resolve_any(self, path, variable, build_predicate):
            return None                          # Observations have no to-many navigation

    class ThingResolver:
        ...
        def resolve_any(self, path, variable, build_predicate):
            if path == ("Datastreams",):
                ds = datastreams.alias()
                cond = build_predicate(DatastreamResolver(ds))
                return exists(select(1).select_from(ds)
                              .where(ds.c.thing_id == self.t.c.id, cond))
            return None

Value kinds (:class:`ValueKind`): NUMBER, STRING, BOOLEAN, DATETIME (UTC
``DateTime(timezone=True)``), DATE, INTERVAL (``expr`` = start, ``end``),
JSON (``expr`` = JSON column, ``json_path`` inside it, optional ``number`` /
``string`` shadow columns valid only when the JSON value has that type), and
GEOMETRY (GeoJSON geometry or Feature in a JSON/Text column). For an interval
or JSON reached through a to-one subquery, return a subquery per part.

Dialect set-up the application must do:

* SQLite: :func:`install_sqlite_functions` ``(engine)`` right after creating the
  engine (it registers shapely-based ``stadslab_st_*`` and ``stadslab_geo_*``
  functions, Unicode ``stadslab_lower``/``stadslab_upper``, ``stadslab_mod``,
  ``stadslab_floor``/``stadslab_ceil``
  on every connection); or use :func:`register_sqlite_functions` as a
  ``connect`` listener yourself.
* PostgreSQL: geospatial functions use PostGIS; a migration must run
  ``CREATE EXTENSION IF NOT EXISTS postgis`` (see :func:`has_postgis`).

Every value from the filter text reaches SQL as a bound parameter; property
names only select columns through the resolver.

This room owns the whole ``$filter`` pipeline of the hub: the language above (lexer, parser,
compiler; no knowledge of the hub), the STA entities' resolver (``sta_resolver``), the spatial
indexes (``index``) and the entrance the reads use (``sta.compile_filter``, which binds a filter
to what its principal may see). Imports ``model`` and ``access``; never ``read`` or ``write``.
"""

from .ast import Node
from .compiler import compile_filter
from .errors import FilterCompileError, FilterError, FilterSyntaxError
from .parser import DEFAULT_MAX_DEPTH, DEFAULT_MAX_LENGTH, parse_filter
from .resolver import FilterResolver, PredicateBuilder, ResolvedValue, ValueKind
from .spatial import has_postgis, install_sqlite_functions, register_sqlite_functions
from .unparse import unparse

parse = parse_filter

__all__ = [
    "parse_filter", "parse", "unparse", "compile_filter",
    "FilterError", "FilterSyntaxError", "FilterCompileError",
    "FilterResolver", "ResolvedValue", "ValueKind", "PredicateBuilder", "Node",
    "install_sqlite_functions", "register_sqlite_functions", "has_postgis",
    "DEFAULT_MAX_LENGTH", "DEFAULT_MAX_DEPTH",
]
