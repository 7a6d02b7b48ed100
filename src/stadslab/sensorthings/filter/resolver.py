"""What the compiler needs from the entity layer: a small resolver per entity type.

The compiler knows SQL dialects, types and functions; the resolver knows which
table and column a STA property lives in and how to reach related entities.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Protocol, runtime_checkable

from sqlalchemy import ColumnElement


class ValueKind(str, Enum):
    """How a resolved property is stored, which decides how it is compared."""

    NUMBER = "number"        # Integer / Float / Numeric column
    STRING = "string"        # String / Text column
    BOOLEAN = "boolean"      # Boolean column
    DATETIME = "datetime"    # DateTime(timezone=True) column holding UTC instants
    DATE = "date"            # Date column
    INTERVAL = "interval"    # a time interval: ``expr`` is the start column, ``end`` the end column
    JSON = "json"            # JSON column; ``json_path`` selects a member inside it
    GEOMETRY = "geometry"    # GeoJSON (geometry or Feature) in a JSON or Text column


@dataclass(frozen=True)
class ResolvedValue:
    """A property as SQL.

    * ``expr``: the column (or any SQL expression) holding the value.
    * ``kind``: see :class:`ValueKind`.
    * ``end``: for ``INTERVAL`` only, the end column; NULL in a row means an
      instant (the interval is ``[start, start]``).
    * ``json_path``: for ``JSON`` only, the keys/indexes inside the document,
      e.g. ``("owner",)`` for ``properties/owner``; ``()`` for the whole value
      (the Observation ``result``).
    * ``number`` / ``string``: for ``JSON`` only, optional shadow columns that
      hold the value when, and only when, the JSON value at ``json_path`` is a
      number / a string. The compiler then compares on them (index friendly)
      instead of extracting from the JSON.
    """

    expr: ColumnElement
    kind: ValueKind
    end: ColumnElement | None = None
    json_path: tuple[str | int, ...] = ()
    number: ColumnElement | None = None
    string: ColumnElement | None = None


PredicateBuilder = Callable[["FilterResolver"], ColumnElement[bool]]


@runtime_checkable
class FilterResolver(Protocol):
    """Implemented by the entity layer, one instance per entity type (and per alias).

    ``dialect`` is ``"sqlite"`` or ``"postgresql"``.

    ``resolve_property(path)`` maps a property path relative to this entity to a
    :class:`ResolvedValue`, following to-one navigation (``Datastream/name``)
    with correlated scalar subqueries or joins as the entity layer prefers.
    Path segments are strings, or ints for JSON array indexes
    (``properties/tags[0]`` gives ``("properties", "tags", 0)``). Return
    ``None`` when the path is not a property: the compiler turns that into a 400
    naming the path and its column.

    ``resolve_any(path, variable, build_predicate)`` handles
    ``path/any(variable: ...)`` where ``path`` leads to a to-many collection
    (``Datastreams``, ``Datastream/Observations``). It builds a subquery over
    the related rows correlated to this entity, calls ``build_predicate`` with
    a resolver for the related entity type (its rows as seen inside the
    subquery), and returns ``EXISTS (subquery WHERE predicate)``. Return
    ``None`` when ``path`` is not a collection.

    Optional: an attribute ``spatial = False`` makes geospatial functions a 400
    ("not available") instead of SQL that needs PostGIS (see ``has_postgis``).
    """

    dialect: str

    def resolve_property(self, path: tuple[str | int, ...]) -> ResolvedValue | None: ...

    def resolve_any(self, path: tuple[str, ...], variable: str,
                    build_predicate: PredicateBuilder) -> ColumnElement[bool] | None: ...
