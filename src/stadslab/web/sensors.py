"""The sensor register in the browser: ``/sensoren`` (map, filters, table) and ``/sensoren/{id}``.

Both pages show only what the visitor may see in the hub: the register is read
through ``sensorthings.register.query_register`` with the request's principal,
and a sensor's page reads the Thing through the SensorThings service itself
(``dispatch.handle``), so a hidden Thing is a 404 here exactly as in the API.
The charts fetch ``$aggregate`` from the STA API in the browser (with the same
cookie, hence the same visibility); the table under each chart carries the same
figures for readers without JavaScript.
"""

from __future__ import annotations

import inspect
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from stadslab.core.errors import BadRequest, NotFound

from . import vocabulary
from .auth import page_principal
from .i18n import language_of, translations
from .pages import _session
from .profiles import _id
from .rendering import render
from .vocabulary import N_

router = APIRouter(include_in_schema=False)

#: More sensors than this are listed in pages of the table; the map shows the first ones.
MAP_LIMIT = 2000
FILTERS = ("purpose", "legal_ground", "personal_data", "sensor_type", "city")
UNKNOWN_CITY = N_("Choose a city from the list.")
UNKNOWN_GROUND = N_("Choose a legal ground from the list.")
#: Chart window: the last 30 days of a Datastream, hourly when that is at most 3 days.
CHART_DAYS = 30


def _register(session, principal, **kwargs):
    """The register as this visitor may see it.

    ``query_register`` takes the principal since access classes apply to the
    register; an older signature without it listed every Thing.
    """
    from stadslab.sensorthings.register import query_register

    if "principal" in inspect.signature(query_register).parameters:
        return query_register(session, principal, **kwargs)
    return query_register(session, **kwargs)


def _json_block(data) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _point(geometry: dict | None) -> tuple[float, float] | None:
    """(lon, lat) of a register geometry, or None."""
    if not geometry:
        return None
    try:
        if geometry.get("type") == "Point":
            lon, lat = geometry["coordinates"][:2]
            return float(lon), float(lat)
        from shapely.geometry import shape

        p = shape(geometry).representative_point()
        return p.x, p.y
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _filters(request: Request, lang: str) -> tuple[dict, dict, dict]:
    """(values as typed, arguments for the register, errors per field)."""
    params = request.query_params
    typed = {name: (params.get(name) or "").strip()[:200] for name in FILTERS}
    args: dict = {}
    errors: dict = {}
    if typed["purpose"]:
        args["purpose"] = typed["purpose"]
    if typed["sensor_type"]:
        args["sensor_type"] = typed["sensor_type"]
    if typed["city"]:
        args["city"] = typed["city"]
    if typed["legal_ground"]:
        if typed["legal_ground"] in vocabulary.LEGAL_GROUNDS:
            args["legal_ground"] = typed["legal_ground"]
        else:
            errors["legal_ground"] = translations(lang).gettext(UNKNOWN_GROUND)
    if typed["personal_data"] in ("ja", "nee"):
        args["personal_data"] = typed["personal_data"] == "ja"
    return typed, args, errors


def _options(items: list[dict], city_names: dict[str, str], lang: str) -> dict:
    types = sorted({i["sensor_type"] for i in items if i.get("sensor_type")}, key=str.lower)
    cities = sorted({i["municipality_code"] for i in items if i.get("municipality_code")},
                    key=lambda c: city_names.get(c, c))
    return {"sensor_type": [(t, t) for t in types],
            "city": [(c, city_names.get(c, c)) for c in cities],
            "legal_ground": [(g, vocabulary.label(vocabulary.LEGAL_GROUNDS, g, lang)) for g in vocabulary.LEGAL_GROUNDS]}


def _row(item: dict, city_names: dict[str, str], lang: str) -> dict:
    gettext = translations(lang).gettext
    point = _point(item.get("geometry"))
    return {
        "id": item["id"], "name": item["name"], "purpose": item.get("purpose"),
        "owner": (item.get("owner") or {}).get("organisation"), "sensor_type": item.get("sensor_type"),
        "personal": item.get("processes_personal_data"),
        "legal_ground": vocabulary.label(vocabulary.LEGAL_GROUNDS, item.get("legal_ground"), lang),
        "retention": item.get("retention"), "privacy_url": item.get("privacy_statement_url"),
        "city": city_names.get(item.get("municipality_code") or "", ""),
        "lab": item.get("living_lab"), "point": point,
        "personal_text": gettext("Yes") if item.get("processes_personal_data") else gettext("No"),
    }


def _map_data(rows: list[dict], lang: str) -> dict:
    gettext = translations(lang).gettext
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": list(r["point"])},
                 "properties": {"kind": "sensor", "name": r["name"], "purpose": r["purpose"] or "",
                                "owner": r["owner"] or "", "legal_ground": r["legal_ground"] or "",
                                "retention": r["retention"] or "", "privacy_url": r["privacy_url"] or "",
                                "personal": bool(r["personal"]), "url": f"/sensoren/{r['id']}"}}
                for r in rows if r["point"]]
    labels = {"purpose": gettext("Purpose"), "owner": gettext("Owner"), "legal_ground": gettext("Legal ground"),
              "retention": gettext("Retention period"), "privacy": gettext("Privacy statement"),
              "personal": gettext("Processes personal data"), "open": gettext("Open sensor page"),
              "unknown": gettext("not stated"), "yes": gettext("Yes"), "no": gettext("No"),
              "tiles_failed": gettext("Background map unavailable; showing outlines and points only.")}
    return {"type": "FeatureCollection", "features": features, "labels": labels}


@router.get("/sensoren", response_class=HTMLResponse)
def sensor_register(request: Request):
    from sqlalchemy import select

    from stadslab.network.models import Municipality

    lang = language_of(request)
    principal = page_principal(request)
    typed, args, errors = _filters(request, lang)
    settings = request.app.state.settings
    with _session(request) as session:
        everything, _ = _register(session, principal)
        codes = {i["municipality_code"] for i in everything if i.get("municipality_code")} | (
            {typed["city"]} if typed["city"] else set())
        city_names = dict(session.execute(select(Municipality.code, Municipality.name)
                                          .where(Municipality.code.in_(codes))).all()) if codes else {}
        items, total = [], 0
        if not errors:
            try:
                items, total = _register(session, principal, **args, limit=MAP_LIMIT)
            except BadRequest as exc:
                field = next((e.get("field") for e in exc.errors if e.get("field") in FILTERS), "city")
                errors[field] = translations(lang).gettext(UNKNOWN_CITY if field == "city" else UNKNOWN_GROUND)
    rows = [_row(i, city_names, lang) for i in items]
    map_data = _map_data(rows, lang)
    active = {k: v for k, v in typed.items() if v}
    csv_query = urlencode({k: ("true" if v == "ja" else "false") if k == "personal_data" else v
                           for k, v in active.items() if k != "personal_data" or v in ("ja", "nee")})
    return render(request, "sensors.html", {
        "rows": rows, "total": total, "limit": MAP_LIMIT, "all_count": len(everything), "typed": typed,
        "options": _options(everything, city_names, lang), "errors": errors, "filtered": bool(active),
        "map_json": _json_block(map_data), "has_points": bool(map_data["features"]),
        "tile_url": settings.map_tile_url or "", "tile_attribution": settings.map_tile_attribution,
        "csv_url": "/api/v1/sensor-register.csv" + (f"?{csv_query}" if csv_query else ""),
        "geojson_url": "/api/v1/sensor-register.geojson" + (f"?{csv_query}" if csv_query else ""),
    }, status_code=200, lang=lang)


# --- one sensor -------------------------------------------------------------------------------

def _parse_instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _window(phenomenon_time: str | None) -> tuple[str | None, str, str]:
    """(from, interval, interval label) for a Datastream's chart: its last 30 days."""
    start_text, _, end_text = (phenomenon_time or "").partition("/")
    start, end = _parse_instant(start_text), _parse_instant(end_text or start_text)
    if start is None or end is None:
        return None, "1d", "day"
    try:
        first = max(start, end - timedelta(days=CHART_DAYS))
    except OverflowError:  # a stream stored before the supported time range, next to year 1
        first = start
    hourly = end - first <= timedelta(days=3)
    first = first.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    if not hourly:
        first = first.replace(hour=0)
    # isoformat, not strftime: the latter writes year 1 as "1", which no parser reads back
    return first.replace(tzinfo=None).isoformat() + "Z", "1h" if hourly else "1d", "hour" if hourly else "day"


def _chart(session, settings, links, principal, ds_id: int, query: list[tuple[str, str]]) -> list[dict]:
    """The chart buckets of one Datastream; none when its times lie outside what ``$aggregate``
    accepts (Observations stored before the supported range, docs/sensorthings.md "Limits"):
    the page still shows the sensor, only without that chart."""
    from stadslab.sensorthings.api import dispatch

    try:
        agg = dispatch.handle(session, settings, links, "GET", f"Datastreams({ds_id})/Observations/$aggregate",
                              query, principal=principal).body
    except BadRequest:
        return []
    return _buckets(agg.get("value", []))


def _buckets(value: list[dict]) -> list[dict]:
    out = []
    for b in value:
        start_text = (b.get("phenomenonTime") or "").split("/")[0]
        out.append({"start": _parse_instant(start_text), "mean": b.get("mean"), "min": b.get("min"),
                    "max": b.get("max"), "count": b.get("count")})
    return out


@router.get("/sensoren/{thing_id}", response_class=HTMLResponse)
def sensor_page(request: Request, thing_id: str):
    from stadslab.labs.models import LivingLab
    from stadslab.sensorthings.api import dispatch
    from stadslab.sensorthings.model.tables import Thing
    from stadslab.sensorthings.read.serialize import links_for

    lang = language_of(request)
    principal = page_principal(request)
    settings = request.app.state.settings
    ident = _id(thing_id)
    links = links_for(request.headers, str(request.base_url), settings.external_base_url)
    with _session(request) as session:
        answer = dispatch.handle(session, settings, links, "GET", f"Things({ident})",
                                 [("$expand", "Datastreams($expand=ObservedProperty;$orderby=id),Locations")],
                                 principal=principal)
        thing = answer.body
        if not isinstance(thing, dict):
            raise NotFound(f"No sensor {ident}")
        row = session.get(Thing, ident)  # register columns; visibility was settled by the read above
        register = dict(row.register or {}) if row is not None else {}
        lab = session.get(LivingLab, row.living_lab_id) if row is not None and row.living_lab_id else None
        facts = {
            "owner": row.owner_name if row is not None else None, "purpose": row.purpose if row else None,
            "sensor_type": row.sensor_type if row else None,
            "personal": bool(row.processes_personal_data) if row else False,
            "legal_ground": vocabulary.label(vocabulary.LEGAL_GROUNDS, row.legal_ground if row else None, lang),
            "retention": register.get("retention"), "privacy_url": register.get("privacy_statement_url"),
            "contact": (register.get("owner") or {}).get("contact"), "placement": row.placement if row else None,
            "active_from": row.active_from if row else None, "active_until": row.active_until if row else None,
            "access_class": row.access_class if row else None,
            "lab": {"id": lab.id, "name": lab.name} if lab is not None else None,
        }
        streams = []
        for ds in thing.get("Datastreams", []):
            first, interval, step = _window(ds.get("phenomenonTime"))
            query = [("interval", interval)] + ([("from", first)] if first else [])
            unit = ds.get("unitOfMeasurement") or {}
            streams.append({
                "id": ds["@iot.id"], "name": ds.get("name"), "description": ds.get("description"),
                "property": (ds.get("ObservedProperty") or {}).get("name"), "unit": unit.get("symbol") or "",
                "unit_name": unit.get("name") or "", "step": step,
                "buckets": _chart(session, settings, links, principal, ds["@iot.id"], query),
                "url": f"/sta/v1.1/Datastreams({ds['@iot.id']})/Observations/$aggregate?{urlencode(query)}",
                "observations_url": f"/sta/v1.1/Datastreams({ds['@iot.id']})/Observations",
            })
    point = None
    for loc in thing.get("Locations", []):
        geometry = loc.get("location") or {}
        point = _point(geometry.get("geometry") if geometry.get("type") == "Feature" else geometry)
        if point:
            break
    map_json = None
    if point:
        map_json = _json_block(_map_data([{"id": ident, "name": thing.get("name"), "purpose": facts["purpose"],
                                           "owner": facts["owner"], "legal_ground": facts["legal_ground"],
                                           "retention": facts["retention"], "privacy_url": facts["privacy_url"],
                                           "personal": facts["personal"], "point": point}], lang))
    from stadslab.core.auth import may_write

    can_edit = row is not None and may_write(principal, row.owner_organisation_id, "sta:write")
    saved = request.query_params.get("melding") == "opgeslagen"
    return render(request, "sensor.html", {
        "thing": thing, "facts": facts, "streams": streams, "map_json": map_json, "can_edit": can_edit,
        "notice": translations(lang).gettext("The register entry has been saved.") if saved else None,
        "tile_url": settings.map_tile_url or "", "tile_attribution": settings.map_tile_attribution,
        "sta_url": f"/sta/v1.1/Things({ident})",
    }, lang=lang)
