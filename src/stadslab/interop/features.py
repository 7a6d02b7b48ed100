"""GeoJSON features of living labs, projects and open sensors, and the OGC API query parameters.

One place builds a feature per kind, used by the OGC API – Features collections and
by the plain ``.geojson`` exports, so both always agree. Spatial and temporal filters
run in Python on a light column query: the collections are registries (hundreds to a
few thousand items), and shapely gives the same answer on both databases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Callable

from shapely.geometry import box, shape
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from stadslab.core.errors import BadRequest
from stadslab.labs.models import LivingLab, Project
from stadslab.network.models import Municipality
from stadslab.sensorthings.model import tables as sta

from . import timeutil

MAX_PARAM_CHARS = 200


def _bad(param: str, msg: str) -> BadRequest:
    return BadRequest(f"{param}: {msg}", errors=[{"loc": ["query", param], "field": param, "msg": msg}])


def parse_bbox(text: str | None):
    """``minLon,minLat,maxLon,maxLat`` in CRS84 → a shapely box; 400 naming ``bbox`` otherwise."""
    if text is None:
        return None
    if len(text) > MAX_PARAM_CHARS:
        raise _bad("bbox", f"too long (at most {MAX_PARAM_CHARS} characters)")
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 6:
        raise _bad("bbox", "3D bounding boxes are not supported; give minLon,minLat,maxLon,maxLat")
    if len(parts) != 4:
        raise _bad("bbox", "expected 4 numbers: minLon,minLat,maxLon,maxLat")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise _bad("bbox", "values must be numbers") from None
    if any(v != v or v in (float("inf"), float("-inf")) for v in (minx, miny, maxx, maxy)):
        raise _bad("bbox", "values must be finite numbers")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise _bad("bbox", "longitudes must lie in [-180, 180] and latitudes in [-90, 90] (CRS84)")
    if miny > maxy:
        raise _bad("bbox", "minLat is greater than maxLat")
    if minx > maxx:
        raise _bad("bbox", "minLon is greater than maxLon (boxes across the antimeridian are not supported)")
    return box(minx, miny, maxx, maxy)


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _instant(text: str, end: bool) -> datetime:
    text = text.strip()
    try:
        if _DATE_RE.match(text):
            day = date.fromisoformat(text)
            return timeutil.as_utc(datetime.combine(day + timedelta(days=1) if end else day, time()), "UTC")
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _bad("datetime", f"{text[:40]!r} is not an RFC 3339 date or date-time") from None
    if value.tzinfo is None:
        raise _bad("datetime", f"{text[:40]!r} has no time zone offset (use Z or +01:00)")
    return value.astimezone(timeutil.UTC)


def parse_datetime(text: str | None) -> tuple[datetime | None, datetime | None] | None:
    """An instant, or an interval ``start/end`` with ``..`` or empty for an open end."""
    if text is None:
        return None
    if len(text) > MAX_PARAM_CHARS:
        raise _bad("datetime", f"too long (at most {MAX_PARAM_CHARS} characters)")
    if "/" not in text:
        start = _instant(text, end=False)
        end = _instant(text, end=True) if _DATE_RE.match(text.strip()) else start
        return start, end
    parts = text.split("/")
    if len(parts) != 2:
        raise _bad("datetime", "an interval has exactly one '/'")
    lo, hi = (None if p.strip() in ("", "..") else p for p in parts)
    if lo is None and hi is None:
        raise _bad("datetime", "an interval needs at least one end")
    start = _instant(lo, end=False) if lo else None
    end = _instant(hi, end=True) if hi else None
    if start and end and end < start:
        raise _bad("datetime", "the interval ends before it starts")
    return start, end


def overlaps(window: tuple[datetime | None, datetime | None] | None, start: Any, end: Any) -> bool:
    """Does a feature's [start, end] (open when None) meet the requested window?"""
    if window is None:
        return True
    if start is None and end is None:
        return False
    fs = _as_instant(start, False)
    fe = _as_instant(end, True)
    ws, we = window
    if we is not None and fs is not None and fs > we:
        return False
    if ws is not None and fe is not None and fe < ws:
        return False
    return True


def _as_instant(value: Any, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return timeutil.aware_utc(value)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(), tzinfo=timeutil.UTC) - (timedelta(microseconds=1) if end else timedelta())


# --- features -------------------------------------------------------------------------------------


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}


def _themes(items) -> list[str]:
    return [t.code for t in items]


def lab_feature(lab: LivingLab, base: str) -> dict[str, Any]:
    geom = lab.geometry or _point(lab.municipality.centroid_lon, lab.municipality.centroid_lat)
    return {"type": "Feature", "id": lab.id, "geometry": geom, "properties": {
        "name": lab.name, "city_code": lab.municipality_code, "city": lab.municipality.name, "status": lab.status,
        "themes": _themes(lab.themes), "infrastructure": lab.infrastructure or [],
        "open_to_external": lab.open_to_external, "description": lab.description, "website": lab.website,
        "geometry_source": "lab" if lab.geometry else "municipality centroid", "is_demo": lab.is_demo,
        "updated_at": timeutil.aware_utc(lab.updated_at).isoformat(), "url": f"{base}/api/v1/living-labs/{lab.id}"}}


def project_feature(p: Project, base: str) -> dict[str, Any]:
    if p.living_lab is not None and p.living_lab.geometry:
        c = shape(p.living_lab.geometry).centroid
        geom, source = _point(c.x, c.y), "living lab"
    else:
        geom, source = _point(p.municipality.centroid_lon, p.municipality.centroid_lat), "municipality centroid"
    return {"type": "Feature", "id": p.id, "geometry": geom, "properties": {
        "title": p.title, "city_code": p.municipality_code, "city": p.municipality.name, "status": p.status,
        "themes": _themes(p.themes), "living_lab_id": p.living_lab_id,
        "start_date": p.start_date.isoformat() if p.start_date else None,
        "end_date": p.end_date.isoformat() if p.end_date else None, "budget_eur": p.budget_eur,
        "summary": p.summary, "geometry_source": source, "is_demo": p.is_demo,
        "updated_at": timeutil.aware_utc(p.updated_at).isoformat(), "url": f"{base}/api/v1/projects/{p.id}"}}


def _thing_geometry(session: Session, thing_ids: list[int]) -> dict[int, dict]:
    """The public position of each Thing: this collection is open data, so every caller (owners
    too) gets the published precision, and bbox filters and the extent are computed on it."""
    from stadslab.core.auth import ANONYMOUS
    from stadslab.sensorthings.access.public_geometry import thing_geometries

    return thing_geometries(session, ANONYMOUS, thing_ids)


def sensor_feature(t: sta.Thing, geometry: dict | None, base: str) -> dict[str, Any]:
    reg = t.register or {}
    return {"type": "Feature", "id": t.id, "geometry": geometry, "properties": {
        "name": t.name, "description": t.description, "owner": t.owner_name, "sensor_type": t.sensor_type,
        "purpose": t.purpose, "processes_personal_data": bool(t.processes_personal_data),
        "legal_ground": t.legal_ground, "placement": t.placement, "living_lab_id": t.living_lab_id,
        "active_from": t.active_from.isoformat() if t.active_from else None,
        "active_until": t.active_until.isoformat() if t.active_until else None,
        "measures": reg.get("measures") or [], "access_class": t.access_class,
        "sta_url": f"{base}/sta/v1.1/Things({t.id})"}}


@dataclass
class CollectionDef:
    id: str
    model: Any
    title: str
    description: str
    #: a statement of the collection's objects (already filtered to what is public)
    statement: Callable[[], Select]
    #: (geometry, temporal start, temporal end) of one object, without building the whole feature
    light: Callable[[Session, list[Any]], dict[int, tuple[dict | None, Any, Any]]]
    feature: Callable[[Session, Any, str], dict[str, Any]]
    temporal_note: str
    #: brings derived data up to date before the collection is read (e.g. coverage cells)
    prepare: Callable[[Session], Any] | None = None


def register_collection(coll: CollectionDef) -> None:
    """Another capability adds a collection (infrastructure: its register and coverage)."""
    COLLECTIONS[coll.id] = coll


def prepare(session: Session, coll: CollectionDef) -> None:
    if coll.prepare is not None:
        coll.prepare(session)


def _labs_light(session, objs):
    return {o.id: (o.geometry or _point(o.municipality.centroid_lon, o.municipality.centroid_lat),
                   o.updated_at, o.updated_at) for o in objs}


def _projects_light(session, objs):
    out = {}
    for p in objs:
        out[p.id] = (project_feature(p, "")["geometry"], p.start_date, p.end_date)
    return out


def _sensors_light(session, objs):
    geoms = _thing_geometry(session, [t.id for t in objs])
    return {t.id: (geoms.get(t.id), t.active_from, t.active_until) for t in objs}


COLLECTIONS: dict[str, CollectionDef] = {
    "living-labs": CollectionDef(
        "living-labs", LivingLab, "Living labs", "Proeftuinen van het Nederlandse Smart City netwerk.",
        lambda: select(LivingLab).order_by(LivingLab.id), _labs_light,
        lambda s, o, base: lab_feature(o, base), "datetime filters on the last modification (updated_at)"),
    "projects": CollectionDef(
        "projects", Project, "Projects", "Smart city projecten; punt = locatie van het living lab of het midden van de gemeente.",
        lambda: select(Project).order_by(Project.id), _projects_light,
        lambda s, o, base: project_feature(o, base), "datetime filters on the project period (start_date/end_date)"),
    "sensors": CollectionDef(
        "sensors", sta.Thing, "Sensors (open data)", "Het sensorregister: sensoren in de openbare ruimte met open data.",
        lambda: select(sta.Thing).where(sta.Thing.access_class == "open").order_by(sta.Thing.id), _sensors_light,
        lambda s, o, base: sensor_feature(o, _thing_geometry(s, [o.id]).get(o.id), base),
        "datetime filters on the active period (active_from/active_until)"),
}


def select_ids(session: Session, coll: CollectionDef, bbox, window) -> list[int]:
    """Ids of the collection's objects matching bbox and datetime, in id order."""
    prepare(session, coll)
    objs = list(session.scalars(coll.statement()))
    light = coll.light(session, objs)
    out = []
    for o in objs:
        geom, start, end = light[o.id]
        if bbox is not None:
            if geom is None:
                continue
            try:
                if not shape(geom).intersects(bbox):
                    continue
            except Exception:  # noqa: BLE001 - a stored broken geometry simply does not match
                continue
        if not overlaps(window, start, end):
            continue
        out.append(o.id)
    return out


def extent(session: Session, coll: CollectionDef) -> dict[str, Any]:
    prepare(session, coll)
    objs = list(session.scalars(coll.statement()))
    light = coll.light(session, objs)
    bounds = [shape(g).bounds for g, _, _ in light.values() if g]
    spatial = [[min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds),
                max(b[3] for b in bounds)]] if bounds else [[-180, -90, 180, 90]]
    starts = [_as_instant(s, False) for _, s, _ in light.values() if s is not None]
    ends = [_as_instant(e, True) for _, _, e in light.values() if e is not None]
    interval = [[min(starts).isoformat() if starts else None, max(ends).isoformat() if ends else None]]
    return {"spatial": {"bbox": [[round(v, 6) for v in spatial[0]]],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
            "temporal": {"interval": interval, "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}}


def municipality_of(session: Session, code: str) -> Municipality | None:
    return session.get(Municipality, code)
