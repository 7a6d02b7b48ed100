"""Geospatial functions: shapely on SQLite, PostGIS on PostgreSQL.

Geometries are stored as GeoJSON (a geometry or a Feature) in JSON/Text
columns on both dialects, and geometry literals arrive as WKT. On SQLite the
compiler calls small deterministic Python functions registered on every
connection (:func:`register_sqlite_functions`, wired to an engine with
:func:`install_sqlite_functions`); they accept GeoJSON or WKT text and return
NULL for anything they cannot read, never an error. The same registration adds
Unicode-aware ``stadslab_lower``/``stadslab_upper``, a float ``stadslab_mod`` and
NULL-safe ``stadslab_floor``/``stadslab_ceil``,
so string and math functions agree with PostgreSQL.

On PostgreSQL the compiler emits PostGIS calls (``ST_GeomFromGeoJSON``,
``ST_GeomFromText``, ``ST_Intersects``...), which need ``CREATE EXTENSION
postgis`` in the database. Distances and lengths are planar, in the units of
the coordinates (degrees for WGS 84), on both dialects.
"""

from __future__ import annotations

import json
import math
import sqlite3
from functools import lru_cache

from sqlalchemy import Text, case, cast, event, func, literal, null, text
from sqlalchemy.engine import Connection, Engine

from .sqlexpr import GEOJSON_TYPES

#: $filter name -> shapely predicate method / PostGIS function.
PREDICATES: dict[str, tuple[str, str]] = {
    "geo.intersects": ("intersects", "ST_Intersects"),
    "st_intersects": ("intersects", "ST_Intersects"),
    "st_equals": ("equals", "ST_Equals"),
    "st_disjoint": ("disjoint", "ST_Disjoint"),
    "st_touches": ("touches", "ST_Touches"),
    "st_within": ("within", "ST_Within"),
    "st_overlaps": ("overlaps", "ST_Overlaps"),
    "st_crosses": ("crosses", "ST_Crosses"),
    "st_contains": ("contains", "ST_Contains"),
}


def read_geometry(value):
    """GeoJSON (geometry, Feature, FeatureCollection) or WKT text -> shapely geometry, or None.

    Small values (literals, points) are cached: a filter compares every row
    against the same literal, and parsing dominates the cost.
    """
    if isinstance(value, str) and len(value) <= 4096:
        return _read_cached(value)
    return _read(value)


@lru_cache(maxsize=2048)
def _read_cached(value):
    return _read(value)


def _read(value):
    import shapely.wkt
    from shapely.geometry import GeometryCollection, shape

    if not isinstance(value, str) or not value.strip():
        return None
    body = value.strip()
    try:
        if body[0] == "{":
            obj = json.loads(body)
            if not isinstance(obj, dict):
                return None
            if obj.get("type") == "Feature":
                obj = obj.get("geometry")
            elif obj.get("type") == "FeatureCollection":
                parts = [read_geometry(json.dumps(f.get("geometry"))) for f in obj.get("features") or []
                         if isinstance(f, dict) and isinstance(f.get("geometry"), dict)]
                return GeometryCollection([p for p in parts if p is not None])
            if not isinstance(obj, dict) or obj.get("type") not in GEOJSON_TYPES:
                return None
            return shape(obj)
        if body[:5].upper() == "SRID=":
            body = body.split(";", 1)[1] if ";" in body else ""
        return shapely.wkt.loads(body)
    except Exception:  # noqa: BLE001 - a bad stored value must read as NULL, not fail the query
        return None


def _predicate(method: str):
    def run(a, b):
        try:
            ga, gb = read_geometry(a), read_geometry(b)
            if ga is None or gb is None:
                return None
            return 1 if getattr(ga, method)(gb) else 0
        except Exception:  # noqa: BLE001
            return None
    return run


def _relate(a, b, pattern):
    try:
        ga, gb = read_geometry(a), read_geometry(b)
        if ga is None or gb is None or not isinstance(pattern, str):
            return None
        return 1 if ga.relate_pattern(gb, pattern) else 0
    except Exception:  # noqa: BLE001
        return None


def _distance(a, b):
    try:
        ga, gb = read_geometry(a), read_geometry(b)
        if ga is None or gb is None or ga.is_empty or gb.is_empty:
            return None
        return float(ga.distance(gb))
    except Exception:  # noqa: BLE001
        return None


def _length(a):
    try:
        g = read_geometry(a)
        return None if g is None else float(g.length)
    except Exception:  # noqa: BLE001
        return None


def _lower(s):
    return s.lower() if isinstance(s, str) else s


def _upper(s):
    return s.upper() if isinstance(s, str) else s


def _mod(a, b):
    try:
        if a is None or b is None or b == 0:
            return None
        return math.fmod(a, b)
    except (TypeError, ValueError):
        return None


def _floor(x):
    try:
        return None if x is None else float(math.floor(x))
    except (TypeError, ValueError, OverflowError):  # text, NaN, infinity
        return None


def _ceil(x):
    try:
        return None if x is None else float(math.ceil(x))
    except (TypeError, ValueError, OverflowError):
        return None


def sqlite_name(method: str) -> str:
    return f"stadslab_st_{method}"


def register_sqlite_functions(dbapi_connection, _connection_record=None) -> None:
    """Add the filter's SQL functions to one sqlite3 connection (usable as a ``connect`` listener)."""
    conn: sqlite3.Connection = dbapi_connection
    add = conn.create_function
    for method in {m for m, _ in PREDICATES.values()}:
        add(sqlite_name(method), 2, _predicate(method), deterministic=True)
    add("stadslab_st_relate", 3, _relate, deterministic=True)
    add("stadslab_geo_distance", 2, _distance, deterministic=True)
    add("stadslab_geo_length", 1, _length, deterministic=True)
    add("stadslab_lower", 1, _lower, deterministic=True)
    add("stadslab_upper", 1, _upper, deterministic=True)
    add("stadslab_mod", 2, _mod, deterministic=True)
    # Own names: SQLite's math functions are a build option, and SQLAlchemy's pysqlite
    # dialect replaces floor() with math.floor, which raises on NULL.
    add("stadslab_floor", 1, _floor, deterministic=True)
    add("stadslab_ceil", 1, _ceil, deterministic=True)


def install_sqlite_functions(engine: Engine) -> None:
    """Register the functions on every new connection of a SQLite ``engine`` (no-op otherwise).

    Call it right after creating the engine (``core/database.py``), before the
    pool opens connections.
    """
    if engine.dialect.name != "sqlite":
        return
    if not event.contains(engine, "connect", register_sqlite_functions):
        event.listen(engine, "connect", register_sqlite_functions)


def has_postgis(connection: Connection) -> bool:
    row = connection.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first()
    return row is not None


# --- PostgreSQL expressions -----------------------------------------------------------------

def pg_from_geojson(doc):
    """A PostGIS geometry from a jsonb GeoJSON geometry or Feature (NULL for anything else)."""
    inner = doc.op("->")(literal("geometry", Text))
    geometry = case((func.jsonb_typeof(inner) == "object", inner), else_=doc)
    kind = geometry.op("->>")(literal("type", Text))
    return case((kind.in_(GEOJSON_TYPES),
                 func.ST_SetSRID(func.ST_GeomFromGeoJSON(cast(geometry, Text)), 4326)),
                else_=null())


def pg_from_wkt(wkt: str):
    return func.ST_GeomFromText(literal(wkt, Text), 4326)
