"""Public location precision: the grid a Thing's position is snapped to for everyone but its owner.

A sensor's exact position can be personal data (a citizen's sensor on a balcony, a
counter in a shop, a tracker on a bicycle), so the register lets its owner publish
it coarsened: ``properties.register.locationPrecision`` in metres, ``0`` for exact.
Without that field the default from the settings applies:
``public_location_precision_m`` for fixed sensors that process no personal data,
``public_location_precision_sensitive_m`` for mobile ones and ones that do.

Coarsening is deterministic snapping to the centre of a grid cell, never random
noise: noise averages out over repeated requests, a snapped value is the same
answer every time and carries no more than "somewhere in this cell". The grid is
in WGS 84 with cells of about ``m`` metres on each side: rows are ``m / 111 320``
degrees of latitude; each row's cells are as many degrees of longitude as make
``m`` metres at the row's central latitude. No projection library is needed and
the same input gives the same cell on every server.

This module is pure (no database): ``public_geometry`` applies it to stored rows.
"""

from __future__ import annotations

import math
from typing import Any

from ..model.values import bad

#: The levels an owner may choose (metres); 0 is exact. Fixed steps keep the register
#: comparable and stop "1 m" from posing as coarsening.
LEVELS = (0, 10, 100, 250, 500, 1000, 5000)
FIELD = "locationPrecision"
METRES_PER_DEGREE = 111_320.0
DECIMALS = 7


def parse_level(reg: dict, here: list) -> int | None:
    """``register.locationPrecision`` -> metres, or None when absent (the default applies)."""
    value = reg.get(FIELD)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in LEVELS:
        raise bad([*here, FIELD], f"must be one of {', '.join(map(str, LEVELS))} (metres; 0 is exact)")
    return value


def effective(explicit: int | None, placement: str | None, personal: bool | None, *, default_m: int,
              sensitive_m: int) -> int:
    """The precision a Thing's position is published with."""
    if explicit is not None:
        return explicit
    return sensitive_m if placement == "mobile" or personal else default_m


def snap_point(lon: float, lat: float, m: int) -> list[float]:
    """The centre of the grid cell of about ``m`` metres that holds (lon, lat)."""
    lat_step = m / METRES_PER_DEGREE
    row = math.floor(lat / lat_step)
    centre_lat = max(-90.0, min(90.0, (row + 0.5) * lat_step))
    lon_step = min(360.0, m / (METRES_PER_DEGREE * max(math.cos(math.radians(centre_lat)), 1e-6)))
    centre_lon = (math.floor(lon / lon_step) + 0.5) * lon_step
    return [round(centre_lon, DECIMALS), round(centre_lat, DECIMALS)]


def _position(p: Any, m: int) -> list[float] | None:
    if not isinstance(p, (list, tuple)) or len(p) < 2:
        return None
    lon, lat = p[0], p[1]
    if isinstance(lon, bool) or isinstance(lat, bool) or not isinstance(lon, (int, float)) \
            or not isinstance(lat, (int, float)) or not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    return snap_point(float(lon), float(lat), m)  # a height (third value) is dropped: it locates too


def _line(points: Any, m: int) -> list[list[float]]:
    out: list[list[float]] = []
    for p in points if isinstance(points, list) else []:
        q = _position(p, m)
        if q is not None and (not out or out[-1] != q):
            out.append(q)
    return out


def _geometry(g: Any, m: int) -> dict | None:
    """A GeoJSON geometry with every position snapped; shapes that collapse become Points."""
    if not isinstance(g, dict):
        return None
    kind, coords = g.get("type"), g.get("coordinates")
    if kind == "Point":
        p = _position(coords, m)
        return None if p is None else {"type": "Point", "coordinates": p}
    if kind == "GeometryCollection":
        parts = [x for x in (_geometry(p, m) for p in g.get("geometries") or []) if x is not None]
        return {"type": "GeometryCollection", "geometries": parts}
    if kind in ("MultiPoint", "LineString"):
        line = _line(coords, m)
        if kind == "MultiPoint":
            unique = [list(p) for p in dict.fromkeys(tuple(p) for p in line)]
            return {"type": "MultiPoint", "coordinates": unique} if unique else None
        return _collapse({"type": "LineString", "coordinates": line}, line, 2)
    if kind in ("MultiLineString", "Polygon"):
        lines = [_line(c, m) for c in coords] if isinstance(coords, list) else []
        need = 2 if kind == "MultiLineString" else 4
        kept = [ln for ln in lines if len(ln) >= need]
        first = lines[0] if lines else []
        if kind == "Polygon" and (not lines or len(lines[0]) < 4):
            return _collapse(None, first, 4)
        return {"type": kind, "coordinates": kept} if kept else _collapse(None, first, need)
    if kind == "MultiPolygon":
        polys = [_geometry({"type": "Polygon", "coordinates": c}, m) for c in coords or []] \
            if isinstance(coords, list) else []
        kept = [p["coordinates"] for p in polys if p is not None and p["type"] == "Polygon"]
        if kept:
            return {"type": "MultiPolygon", "coordinates": kept}
        points = [p for p in polys if p is not None]
        return points[0] if points else None
    return None


def _collapse(shape: dict | None, line: list[list[float]], need: int) -> dict | None:
    if shape is not None and len(line) >= need:
        return shape
    return {"type": "Point", "coordinates": line[0]} if line else None


def snap(doc: Any, m: int) -> Any:
    """A stored GeoJSON value (geometry or Feature) as the public sees it at precision ``m``.

    Anything unreadable becomes ``None``: what cannot be coarsened is not shown.
    """
    if not m:
        return doc
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        # a Feature's properties are the owner's text (often an address): not part of the public position
        return {"type": "Feature", "geometry": _geometry(doc.get("geometry"), m), "properties": {}}
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        return {"type": "FeatureCollection", "features": [
            snap(f, m) for f in doc.get("features") or [] if isinstance(f, dict)]}
    return _geometry(doc, m)
