"""Parsing and formatting of STA value types: ISO 8601 instants and intervals, GeoJSON, results.

Every parser raises ``BadValue`` with a human message; callers add the JSON
path of the field, so the client learns both what is wrong and where.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from shapely.geometry import shape

from stadslab.core.errors import BadRequest, field_error

GEOJSON_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                 "GeometryCollection")
GEOJSON_ENCODINGS = ("application/geo+json", "application/vnd.geo+json", "application/json")


class BadValue(ValueError):
    pass


def bad(loc: list, msg: str) -> BadRequest:
    """The 400 for a bad field of a request body at ``loc``: here, below every room, so the access
    rules (registration, precision, authorization) and the writer name a bad field the same way."""
    where = ".".join(str(p) for p in loc) or "body"
    return BadRequest(f"{where}: {msg}", errors=[field_error(loc or ["body"], msg)])


_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$")
#: The form nearly every client sends (UTC, ``Z``); parsed without the general path's extra work,
#: which matters on the bulk ingest path (one call per Observation).
_UTC_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")


#: The instants the hub accepts (docs/sensorthings.md "Limits"). Python's datetime ends at the
#: years 1 and 9999; a millennium of headroom on both sides keeps every computation on a stored
#: time (chart windows, ``$aggregate`` buckets, time zone shifts) inside that range.
MIN_INSTANT = datetime(1000, 1, 1, tzinfo=timezone.utc)
MAX_INSTANT = datetime(9000, 1, 1, tzinfo=timezone.utc)  # exclusive
SUPPORTED_RANGE = ": from 1000-01-01T00:00:00Z up to (not including) 9000-01-01T00:00:00Z"


def in_range(dt: datetime, value: str) -> datetime:
    """``dt`` (aware) when it lies in the supported range, else ``BadValue`` quoting ``value``."""
    if MIN_INSTANT <= dt < MAX_INSTANT:
        return dt
    raise BadValue(f"'{value[:60]}' lies outside the supported range{SUPPORTED_RANGE}")


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 date-time within the supported range; without an offset it is taken as UTC.

    Returns aware UTC.
    """
    if type(value) is str and _UTC_RE.fullmatch(value):
        try:
            fast = datetime.fromisoformat(value)  # Python >= 3.11 reads "Z" as UTC
        except ValueError:
            fast = None  # e.g. month 13: the general path below words the error
        if fast is not None:
            return in_range(fast, value)
    if not isinstance(value, str):
        raise BadValue("expected an ISO 8601 date-time string")
    text = value.strip()
    if not _ISO_RE.match(text):
        raise BadValue(f"'{value[:60]}' is not an ISO 8601 date-time (e.g. 2024-05-01T12:00:00Z)")
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:  # Python parses at most microseconds
        text = text.replace(frac.group(0), "." + frac.group(1)[:6], 1)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadValue(f"'{value[:60]}' is not a valid date-time: {exc}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        dt = dt.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 lies before year 1
        raise BadValue(f"'{value[:60]}' lies outside the supported range{SUPPORTED_RANGE}") from None
    return in_range(dt, value)


def parse_interval(value: Any) -> tuple[datetime, datetime]:
    if not isinstance(value, str) or "/" not in value:
        raise BadValue("expected an ISO 8601 interval 'start/end'")
    start_s, _, end_s = value.partition("/")
    start, end = parse_instant(start_s), parse_instant(end_s)
    if end < start:
        raise BadValue("interval end lies before its start")
    return start, end


def parse_time_object(value: Any) -> tuple[datetime, datetime | None]:
    """phenomenonTime: an instant or an interval."""
    if isinstance(value, str) and "/" in value:
        return parse_interval(value)
    return parse_instant(value), None


def as_utc(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    if dt is None:
        return None
    if isinstance(dt, str):  # raw SQL on SQLite
        dt = datetime.fromisoformat(dt)
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def format_instant(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``, milliseconds only when there are sub-seconds.

    Called for every instant of every entity on a page, hence ``isoformat`` (C) rather than
    ``strftime``; SQLite hands back naive UTC datetimes, PostgreSQL aware ones.
    """
    if dt is None:
        return None
    if isinstance(dt, str):  # raw SQL on SQLite
        dt = datetime.fromisoformat(dt)
    offset = dt.utcoffset()
    if offset:
        dt = dt.astimezone(timezone.utc)
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return (text[:-6] if offset is not None else text) + "Z"


def format_interval(start: datetime | None, end: datetime | None) -> str | None:
    if start is None:
        return None
    return f"{format_instant(start)}/{format_instant(end or start)}"


def format_time_object(start: datetime | None, end: datetime | None) -> str | None:
    if start is None:
        return None
    if end is None:
        return format_instant(start)
    return f"{format_instant(start)}/{format_instant(end)}"


def check_geojson(value: Any) -> dict:
    """A GeoJSON geometry or Feature that shapely can build into a valid shape."""
    if not isinstance(value, dict):
        raise BadValue("expected a GeoJSON object")
    geometry = value.get("geometry") if value.get("type") == "Feature" else value
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOJSON_TYPES:
        raise BadValue(f"GeoJSON type must be one of {', '.join(GEOJSON_TYPES)} or Feature")
    try:
        geom = shape(geometry)
    except Exception as exc:  # noqa: BLE001 - shapely raises many kinds for bad coordinates
        raise BadValue(f"invalid GeoJSON {geometry.get('type')}: {exc}") from None
    if geom.is_empty:
        raise BadValue("GeoJSON geometry is empty")
    if not geom.is_valid:
        from shapely.validation import explain_validity
        raise BadValue(f"invalid GeoJSON geometry: {explain_validity(geom)}")
    coords = _all_coords(geometry)
    for x, y, *_ in coords:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise BadValue("GeoJSON coordinates must be finite numbers")
    return value


def _all_coords(geometry: dict) -> list:
    if geometry.get("type") == "GeometryCollection":
        return [c for g in geometry.get("geometries", []) for c in _all_coords(g)]
    from shapely.geometry import mapping
    out: list = []

    def walk(c):
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            out.append(tuple(c))
        elif isinstance(c, (list, tuple)):
            for item in c:
                walk(item)
    walk(mapping(shape(geometry))["coordinates"])
    return out


def geometry_of(value: dict | None):
    if not value:
        return None
    geometry = value.get("geometry") if value.get("type") == "Feature" else value
    return shape(geometry)


def result_columns(result: Any) -> tuple[float | None, str | None]:
    """Shadow columns of an Observation result: a number (numbers only) and a string.

    Booleans get no numeric shadow: ``$filter=result eq 1`` must not match ``true``,
    and a chart's mean over a boolean series would be a misleading number.
    """
    if isinstance(result, bool):
        return None, None
    if isinstance(result, (int, float)):
        if isinstance(result, float) and not math.isfinite(result):
            raise BadValue("result must be a finite number")
        return float(result), None
    if isinstance(result, str):
        return None, result
    return None, None


_DURATION_RE = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_SHORT_RE = re.compile(r"^(\d+)\s*(s|sec|min|m|h|d|w)$")


def parse_duration(text: str) -> timedelta:
    """Fixed-length durations: ISO 8601 (PT15M, PT1H, P1D) or short forms (15min, 1h, 1d, 1w)."""
    t = (text or "").strip()
    m = _SHORT_RE.match(t)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        seconds = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit] * n
    else:
        m = _DURATION_RE.match(t.upper())
        if not m or t.upper() in ("P", "PT"):
            raise BadValue(f"'{text[:40]}' is not a duration (use e.g. 15min, 1h, 1d or PT1H)")
        d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        seconds = d * 86400 + h * 3600 + mi * 60 + s
    if seconds <= 0:
        raise BadValue("duration must be positive")
    return timedelta(seconds=seconds)
