"""The public sensor register: which sensors are in public space, who owns them, and why.

Built from the Things of the hub and their ``properties.register`` metadata.
The register shows the Things the caller may see in the hub (``visibility``):
open ones to everybody, network ones to signed-in callers with ``sta:read``,
restricted ones to the owner organisation and administrators, so the register
can never reveal more than the STA API itself. ``measures`` lists only the
ObservedProperties of visible Datastreams.
Served at ``/api/v1/sensor-register`` as JSON, ``.geojson`` and ``.csv``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, get_principal
from stadslab.core.database import get_session
from stadslab.core.errors import BadRequest
from stadslab.labs.models import LivingLab
from stadslab.network.models import Municipality, Organisation

from .model import tables as m
from .access import public_geometry, visibility
from .model.tables import LEGAL_GROUNDS
from .read.serialize import links_for

register_router = APIRouter(tags=["sensor register"])

T = m.Thing.__table__
L = m.Location.__table__
LAB = LivingLab.__table__
ORG = Organisation.__table__
CSV_COLUMNS = ("id", "name", "description", "owner_organisation", "owner_contact", "purpose", "measures",
               "sensor_type", "processes_personal_data", "legal_ground", "privacy_statement_url", "retention",
               "active_from", "active_until", "placement", "living_lab_id", "living_lab", "municipality_code",
               "access_class", "longitude", "latitude", "url", "location_precision_m")


def _city_codes(session: Session, city: str) -> list[str]:
    text = city.strip()
    codes = list(session.scalars(select(Municipality.code).where(
        or_(func.lower(Municipality.code) == text.lower(), func.lower(Municipality.name) == text.lower()))))
    if not codes:
        raise BadRequest(f"city: unknown municipality '{text[:60]}' (give a name or a CBS code like GM0363)",
                         errors=[{"loc": ["query", "city"], "field": "city", "msg": "unknown municipality"}])
    return codes


def query_register(session: Session, principal: Principal, *, city: str | None = None, purpose: str | None = None,
                   legal_ground: str | None = None, personal_data: bool | None = None,
                   sensor_type: str | None = None, living_lab_id: int | None = None,
                   limit: int | None = None, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Filters and the total apply to the Things ``principal`` may see, and to nothing else."""
    stmt = (select(T.c.id, T.c.name, T.c.description, T.c.register, T.c.living_lab_id, T.c.owner_name,
                   T.c.owner_organisation_id,
                   T.c.sensor_type, T.c.purpose, T.c.processes_personal_data, T.c.legal_ground, T.c.placement,
                   T.c.active_from, T.c.active_until, T.c.access_class, T.c.location_precision_m,
                   LAB.c.name.label("lab_name"),
                   func.coalesce(LAB.c.municipality_code, ORG.c.municipality_code).label("municipality_code"))
            .outerjoin(LAB, LAB.c.id == T.c.living_lab_id)
            .outerjoin(ORG, ORG.c.id == T.c.owner_organisation_id)
            .where(*visibility.where(principal, "Thing")))
    if city:
        codes = _city_codes(session, city)
        stmt = stmt.where(or_(LAB.c.municipality_code.in_(codes), ORG.c.municipality_code.in_(codes)))
    if purpose:
        stmt = stmt.where(func.lower(T.c.purpose).contains(purpose.strip().lower(), autoescape=True))
    if legal_ground:
        if legal_ground not in LEGAL_GROUNDS:
            raise BadRequest(f"legal_ground: must be one of {', '.join(LEGAL_GROUNDS)}",
                             errors=[{"loc": ["query", "legal_ground"], "field": "legal_ground",
                                      "msg": "unknown legal ground"}])
        stmt = stmt.where(T.c.legal_ground == legal_ground)
    if personal_data is not None:
        stmt = stmt.where(T.c.processes_personal_data.is_(personal_data))
    if sensor_type:
        stmt = stmt.where(func.lower(T.c.sensor_type) == sensor_type.strip().lower())
    if living_lab_id is not None:
        stmt = stmt.where(T.c.living_lab_id == living_lab_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = stmt.order_by(T.c.id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = [r._mapping for r in session.execute(stmt)]
    ids = [r["id"] for r in rows]
    # positions at the precision this caller may see (owners exact, everyone else the public grid)
    locations = public_geometry.thing_geometries(session, principal, ids)
    measures, d = _measures(session, ids, principal), public_geometry.defaults(session)
    return [_entry(r, locations.get(r["id"]), measures.get(r["id"], []),
                   d.of(r["location_precision_m"], r["placement"], r["processes_personal_data"])) for r in rows], total


def _measures(session: Session, ids: list[int], principal: Principal) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    ds, op = m.Datastream.__table__, m.ObservedProperty.__table__
    for thing_id, name in session.execute(
            select(ds.c.thing_id, op.c.name).join(op, op.c.id == ds.c.observed_property_id)
            .where(ds.c.thing_id.in_(ids), *visibility.where(principal, "Datastream", ds))
            .distinct().order_by(op.c.name)):
        out.setdefault(thing_id, []).append(name)
    return out


def _entry(r, geometry: dict | None, observed: list[str], precision_m: int) -> dict[str, Any]:
    reg = r["register"] or {}
    owner = reg.get("owner") or {}
    measures = list(dict.fromkeys([*(reg.get("measures") or []), *observed]))
    return {
        "id": r["id"], "name": r["name"], "description": r["description"],
        "owner": {"organisation": r["owner_name"], "organisation_id": r["owner_organisation_id"],
                  "contact": owner.get("contact")},
        "purpose": r["purpose"], "measures": measures, "sensor_type": r["sensor_type"],
        "processes_personal_data": bool(r["processes_personal_data"]), "legal_ground": r["legal_ground"],
        "privacy_statement_url": reg.get("privacy_statement_url"), "retention": reg.get("retention"),
        "active_from": r["active_from"].isoformat() if r["active_from"] else None,
        "active_until": r["active_until"].isoformat() if r["active_until"] else None,
        "placement": r["placement"],
        "living_lab": {"id": r["living_lab_id"], "name": r["lab_name"]} if r["living_lab_id"] else None,
        "municipality_code": r["municipality_code"], "access_class": r["access_class"],
        "geometry": geometry,
        #: the grid (metres, 0 exact) the position is published on; owners see it exactly
        "location_precision_m": precision_m,
    }


def _filters(city: str | None = Query(None, description="Municipality name or CBS code (via living lab or owner)"),
             purpose: str | None = Query(None, max_length=200, description="Text in the stated purpose"),
             legal_ground: str | None = Query(None, description="AVG legal ground"),
             personal_data: bool | None = Query(None, description="Processes personal data"),
             sensor_type: str | None = Query(None, max_length=120),
             living_lab_id: int | None = Query(None, ge=1)) -> dict[str, Any]:
    for name, value in (("city", city), ("purpose", purpose), ("sensor_type", sensor_type)):
        if value is not None and "\x00" in value:
            raise BadRequest(f"{name}: contains a NUL character",
                             errors=[{"loc": ["query", name], "field": name, "msg": "NUL character"}])
    return {"city": city, "purpose": purpose, "legal_ground": legal_ground, "personal_data": personal_data,
            "sensor_type": sensor_type, "living_lab_id": living_lab_id}


def _sta_url(request: Request, thing_id: int) -> str:
    links = links_for(request.headers, str(request.base_url), request.app.state.settings.external_base_url)
    return f"{links.root}/Things({thing_id})"


@register_router.get("/sensor-register", summary="Public sensor register (JSON)")
def register_json(request: Request, filters: dict = Depends(_filters),
                  limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                  session: Session = Depends(get_session), principal: Principal = Depends(get_principal)) -> Response:
    items, total = query_register(session, principal, **filters, limit=limit, offset=offset)
    for item in items:
        item["url"] = _sta_url(request, item["id"])
    body = {"items": items, "total": total, "limit": limit, "offset": offset}
    return Response(orjson.dumps(body), media_type="application/json")


@register_router.get("/sensor-register.geojson", summary="Public sensor register (GeoJSON)")
def register_geojson(request: Request, filters: dict = Depends(_filters),
                     session: Session = Depends(get_session),
                     principal: Principal = Depends(get_principal)) -> Response:
    items, _ = query_register(session, principal, **filters)
    features = []
    for item in items:
        geometry = item.pop("geometry")
        item["url"] = _sta_url(request, item["id"])
        features.append({"type": "Feature", "id": item["id"], "geometry": geometry, "properties": item})
    return Response(orjson.dumps({"type": "FeatureCollection", "features": features}),
                    media_type="application/geo+json")


@register_router.get("/sensor-register.csv", summary="Public sensor register (CSV)")
def register_csv(request: Request, filters: dict = Depends(_filters),
                 session: Session = Depends(get_session), principal: Principal = Depends(get_principal)) -> Response:
    items, _ = query_register(session, principal, **filters)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for it in items:
        point = _point(it["geometry"])
        writer.writerow(_safe_cell(v) for v in [
            it["id"], it["name"], it["description"], it["owner"]["organisation"], it["owner"]["contact"],
            it["purpose"], "; ".join(it["measures"]), it["sensor_type"],
            "ja" if it["processes_personal_data"] else "nee", it["legal_ground"], it["privacy_statement_url"],
            it["retention"], it["active_from"], it["active_until"], it["placement"],
            (it["living_lab"] or {}).get("id"), (it["living_lab"] or {}).get("name"), it["municipality_code"],
            it["access_class"], *(point or ("", "")), _sta_url(request, it["id"]), it["location_precision_m"]])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="sensor-register.csv"'})


def _safe_cell(value: Any) -> Any:
    """Spreadsheets execute cells starting with = + - @ as formulas; neutralise text ones."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _point(geometry: dict | None) -> tuple[float, float] | None:
    if not geometry:
        return None
    from shapely.geometry import shape
    p = shape(geometry).representative_point()
    return round(p.x, 7), round(p.y, 7)
