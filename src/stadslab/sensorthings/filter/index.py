"""Spatial ``$filter`` functions on indexed geometry (migration 0005).

The ``filter`` compiler knows GeoJSON columns only: on PostgreSQL it parses the
GeoJSON of every row (``ST_GeomFromGeoJSON``), on SQLite it calls shapely for
every row. That is correct but scans the table. Migration 0005 adds, where the
database can, an index per spatial table:

* PostgreSQL + PostGIS: a generated ``geom`` column (SRID 4326) with a GiST index;
* SQLite: an R*Tree ``<table>_rtree(id, min_x, max_x, min_y, max_y)`` of bounding boxes.

The STA resolver hands the compiler the GeoJSON column wrapped in
:class:`IndexedGeoJSON`, which compiles to the plain column, so the compiler
needs no change. :func:`use_spatial_index` then rewrites the compiled condition:

* PostgreSQL: a geometry argument of an ``ST_*`` call that the compiler built
  from a marked column (``CASE .. ST_GeomFromGeoJSON(column) ..``) becomes the
  ``geom`` column, which the GiST index serves (PostGIS adds the ``&&`` test);
* SQLite: ``stadslab_st_<predicate>(column, literal) = 1`` for predicates that
  imply intersecting bounding boxes (intersects, within, contains, equals,
  touches, overlaps, crosses) becomes ``id IN (R*Tree box query) AND <same>``:
  shapely only sees the rows whose box meets the literal's box.

Both rewrites keep the result identical (the generated column uses the same
GeoJSON rules as the compiler; the R*Tree boxes are rounded outwards and values
without a readable box get an infinite one). A marked column reached through a
subquery (``FeatureOfInterest/feature`` from Observations) is left as compiled.

The coarsened public copies (``public_location``, ``public_feature``; migration 0013) have the
same two indexes under their own names (``public_geom``, ``<table>_public_rtree``), so a
non-owner's filter, which reads the copy (``public_geometry.filter_geometry``), is indexed too.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import and_, column, func, select, table, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, Case, ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Exists, ScalarSelect, Select
from sqlalchemy.sql.visitors import InternalTraversal, replacement_traverse

#: tables with a spatial index (migration 0005) -> GeoJSON column
SPATIAL_TABLES = {"sta_locations": "location", "sta_features_of_interest": "feature"}
#: tables -> their coarsened copy column, indexed as ``public_geom`` / ``<table>_public_rtree``
PUBLIC_COLUMNS = {"sta_locations": "public_location", "sta_features_of_interest": "public_feature"}
#: PostGIS functions whose geometry arguments may use the ``geom`` column
_PG_FUNCTIONS = {"st_intersects", "st_equals", "st_disjoint", "st_touches", "st_within", "st_overlaps",
                 "st_crosses", "st_contains", "st_relate", "st_distance", "st_length"}
#: SQLite predicates that are false unless the two bounding boxes meet
_SQLITE_BOX_PREDICATES = {f"stadslab_st_{m}" for m in
                          ("intersects", "equals", "touches", "within", "overlaps", "crosses", "contains")}


class IndexedGeoJSON(ColumnElement):
    """A GeoJSON column of a spatially indexed table (or an alias of it); compiles to the column."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column_: ColumnElement, source, table_name: str, prefix: str = ""):
        self.column = column_
        self.type = column_.type
        self.source = source  # the table or alias the column belongs to
        self.table_name = table_name
        self.prefix = prefix  # "public_" for the coarsened copy's index

    @property
    def index_key(self) -> str:
        """The name ``indexed_tables`` lists when this column's index exists."""
        return f"{self.table_name}_{self.prefix}".rstrip("_")

    @property
    def _from_objects(self):
        return self.column._from_objects


@compiles(IndexedGeoJSON)
def _compile_indexed(element: IndexedGeoJSON, compiler, **kw) -> str:
    return compiler.process(element.column, **kw)


def mark(entity_table, source, column_: ColumnElement) -> ColumnElement:
    """The resolver's GeoJSON column, marked when its table has a spatial index."""
    if entity_table.name in SPATIAL_TABLES:
        public = PUBLIC_COLUMNS[entity_table.name] == getattr(column_, "name", None)
        return IndexedGeoJSON(column_, source, entity_table.name, "public_" if public else "")
    return column_


# --- what the database offers ------------------------------------------------------------

_CAPABILITIES: "weakref.WeakKeyDictionary[Engine, frozenset[str]]" = weakref.WeakKeyDictionary()


def indexed_tables(session: Session) -> frozenset[str]:
    """Spatial tables that have their index in this database (checked once per engine); the public
    copies' indexes are listed as ``<table>_public``."""
    engine = session.get_bind()
    found = _CAPABILITIES.get(engine)
    if found is None:
        conn = session.connection()
        if engine.dialect.name == "postgresql":
            rows = conn.execute(text(
                "SELECT table_name || CASE column_name WHEN 'public_geom' THEN '_public' ELSE '' END "
                "FROM information_schema.columns WHERE column_name IN ('geom', 'public_geom') "
                "AND table_schema = current_schema() AND table_name IN ('sta_locations', 'sta_features_of_interest')"))
        else:
            rows = conn.execute(text(
                "SELECT substr(name, 1, length(name) - 6) FROM sqlite_master WHERE type = 'table' "
                "AND name IN ('sta_locations_rtree', 'sta_features_of_interest_rtree', "
                "'sta_locations_public_rtree', 'sta_features_of_interest_public_rtree')"))
        found = frozenset(r[0] for r in rows)
        _CAPABILITIES[engine] = found
    return found


def forget_capabilities(engine: Engine) -> None:
    """After migrating a database an engine already used (tests)."""
    _CAPABILITIES.pop(engine, None)


# --- the rewrite ---------------------------------------------------------------------------

def _markers(element) -> set[IndexedGeoJSON]:
    """Marked columns inside ``element``, not looking into subqueries."""
    found: dict[int, IndexedGeoJSON] = {}
    stack = [element]
    while stack:
        e = stack.pop()
        if isinstance(e, IndexedGeoJSON):
            found[id(e)] = e
            continue
        if isinstance(e, (Select, ScalarSelect, Exists)):
            continue
        stack.extend(e.get_children())
    return set(found.values())


def _native(marker: IndexedGeoJSON) -> ColumnElement:
    return column(f"{marker.prefix}geom", _selectable=marker.source)


def _envelope(marker: IndexedGeoJSON, bounds: tuple[float, float, float, float]) -> ColumnElement:
    min_x, min_y, max_x, max_y = bounds
    rtree = table(f"{marker.index_key}_rtree", column("id"), column("min_x"), column("max_x"),
                  column("min_y"), column("max_y"))
    boxes = select(rtree.c.id).where(rtree.c.min_x <= max_x, rtree.c.max_x >= min_x,
                                     rtree.c.min_y <= max_y, rtree.c.max_y >= min_y)
    return marker.source.c.id.in_(boxes)


def _literal_bounds(element) -> tuple[float, float, float, float] | None:
    if not isinstance(element, BindParameter) or not isinstance(element.value, str):
        return None
    from .spatial import read_geometry
    geometry = read_geometry(element.value)
    if geometry is None or geometry.is_empty:
        return None
    return tuple(float(v) for v in geometry.bounds)  # type: ignore[return-value]


def use_spatial_index(session: Session, where: ColumnElement) -> ColumnElement:
    """Rewrite a compiled ``$filter`` condition to use the spatial indexes of this database."""
    available = indexed_tables(session)
    if not available:
        return where
    postgres = session.get_bind().dialect.name == "postgresql"

    def pg_replace(element: Any):
        if not isinstance(element, FunctionElement) or element.name.lower() not in _PG_FUNCTIONS:
            return None
        args = list(element.clauses)
        changed = False
        for i, arg in enumerate(args):
            if not isinstance(arg, Case):
                continue
            markers = _markers(arg)
            if len(markers) == 1:
                marker = markers.pop()
                if marker.index_key in available:
                    args[i] = _native(marker)
                    changed = True
        if not changed:
            return None
        return getattr(func, element.name)(*[replacement_traverse(a, {}, pg_replace) for a in args])

    def sqlite_replace(element: Any):
        if not (isinstance(element, BinaryExpression) and element.operator is operators.eq
                and isinstance(element.left, FunctionElement)
                and element.left.name.lower() in _SQLITE_BOX_PREDICATES):
            return None
        args = list(element.left.clauses)
        if len(args) != 2:
            return None
        for mine, other in ((args[0], args[1]), (args[1], args[0])):
            if isinstance(mine, IndexedGeoJSON) and mine.index_key in available:
                bounds = _literal_bounds(other)
                if bounds is not None:
                    return and_(_envelope(mine, bounds), element)
        return None

    return replacement_traverse(where, {}, pg_replace if postgres else sqlite_replace)
