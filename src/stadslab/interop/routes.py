"""REST endpoints of the interoperability capability, mounted under ``/api/v1``.

Calendar (events, overview, RFC 5545 feeds, .ics import), funding programmes and
calls with project matching, the DCAT-AP-NL catalogue, GeoJSON and CSV/Excel
exports. The OGC API – Features router lives in :mod:`.ogcapi` (``/ogcapi``).
"""

# No ``from __future__ import annotations``: FastAPI must see the real parameter types.

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, authorize_write, get_principal, known_up_front
from stadslab.core.crud import SCOPE, ItemRoutes, register_item_routes
from stadslab.core.database import get_session
from stadslab.core.errors import NotFound
from stadslab.core.listing import ListParams, RegistryFilters, list_params, make_page, registry_filters

from . import calendar, dcat, exports, funding, ical, service
from .features import lab_feature, project_feature
from .ogcapi import base_url
from .schemas import (EventIn, EventOut, EventPatch, FundingCallIn, FundingCallOut, FundingCallPatch, ProgrammeIn,
                      ProgrammeOut, ProgrammePatch)

router = APIRouter()


def event_filters(theme: list[str] = Query([], description="Theme code; repeatable"),
                  city: list[str] = Query([], description="Dutch city represented (CBS code or name); repeatable"),
                  kind: list[str] = Query([], description="Event kind; repeatable"),
                  country: list[str] = Query([], description="Venue country (ISO 3166-1 alpha-2); repeatable"),
                  start: datetime | None = Query(None, alias="from", description="Occurs at or after (naive = NL time)"),
                  end: datetime | None = Query(None, alias="to", description="Occurs before"),
                  q: str | None = Query(None, max_length=200)) -> calendar.EventFilters:
    s, t = calendar.check_window(start, end)
    return calendar.EventFilters(theme=theme, city=city, kind=kind, country=country, start=s, end=t,
                                 q=(q or "").strip() or None)


def call_filters(theme: list[str] = Query([]), status: list[str] = Query([]),
                 programme: list[str] = Query([], description="Programme code; repeatable"),
                 deadline_after: datetime | None = Query(None), deadline_before: datetime | None = Query(None),
                 q: str | None = Query(None, max_length=200)) -> funding.CallFilters:
    return funding.CallFilters(theme=theme, status=status, programme=programme, deadline_after=deadline_after,
                               deadline_before=deadline_before, q=(q or "").strip() or None)


# --- calendar -------------------------------------------------------------------------------------


@router.get("/events", tags=["calendar"], summary="International calendar")
def list_events(request: Request, params: ListParams = Depends(list_params),
                f: calendar.EventFilters = Depends(event_filters), session: Session = Depends(get_session)) -> dict:
    rows, total = calendar.list_events(session, f, params)
    return make_page(request, params, [calendar.event_out(e) for e in rows], total)


@router.get("/events/overview", tags=["calendar"], summary="Where do we show the Netherlands: upcoming events")
def events_overview(days: int = Query(365, ge=1, le=3660), session: Session = Depends(get_session)) -> dict:
    return calendar.overview(session, days=days)


@router.post("/events/import", tags=["calendar"], summary="Import an .ics file (text/calendar body)")
@known_up_front(scope=SCOPE)
def import_events(body: bytes = Body(..., media_type="text/calendar"), session: Session = Depends(get_session),
                  principal: Principal = Depends(get_principal)) -> dict:
    authorize_write(principal, principal.organisation_id, SCOPE)
    report = ical.import_ics(session, body, actor=principal, owner_organisation_id=principal.organisation_id)
    return report.as_dict()


@router.get("/calendar.ics", tags=["calendar"], summary="RFC 5545 feed (everything, per theme, per city)",
            response_class=Response)
def calendar_feed(request: Request, theme: list[str] = Query([]), city: list[str] = Query([]),
                  deadlines: bool = Query(True, description="Include funding-call deadlines"),
                  session: Session = Depends(get_session)) -> Response:
    from stadslab.network.service import check_theme_filter, city_codes_for_filter

    check_theme_filter(session, theme)
    codes = city_codes_for_filter(session, city)
    name = "Stadslab agenda" + (f" — {', '.join(theme)}" if theme else "") + (f" — {', '.join(codes)}" if codes else "")
    body = ical.build_feed(session, base_url(request), theme=theme, city=codes, deadlines=deadlines, name=name)
    return Response(body, media_type=ical.CONTENT_TYPE,
                    headers={"Content-Disposition": 'inline; filename="stadslab.ics"'})


register_item_routes(router, ItemRoutes(
    path="events", tag="calendar", name="event", schema_in=EventIn, schema_patch=EventPatch, schema_out=EventOut,
    get=calendar.get_event, create=calendar.create_event, update=calendar.update_event,
    delete=calendar.delete_event, shape=calendar.event_out))


# --- funding --------------------------------------------------------------------------------------


@router.get("/funding-programmes", tags=["funding"], summary="Funding programmes")
def list_programmes(session: Session = Depends(get_session)) -> list[ProgrammeOut]:
    return [ProgrammeOut.model_validate(p) for p in funding.list_programmes(session)]


register_item_routes(router, ItemRoutes(
    path="funding-programmes", tag="funding", name="funding_programme", schema_in=ProgrammeIn,
    schema_patch=ProgrammePatch, schema_out=ProgrammeOut, get=funding.get_programme,
    create=funding.create_programme, update=funding.update_programme, delete=funding.delete_programme,
    owner_of=lambda obj: None, owned=False))


@router.get("/funding-calls", tags=["funding"], summary="Funding calls")
def list_calls(request: Request, params: ListParams = Depends(list_params),
               f: funding.CallFilters = Depends(call_filters), session: Session = Depends(get_session)) -> dict:
    rows, total = funding.list_calls(session, f, params)
    return make_page(request, params, [funding.call_out(c) for c in rows], total)


@router.get("/funding-calls/{call_id}/matches", tags=["funding"], summary="Projects that fit this call")
def call_matches(call_id: int, limit: int = Query(10, ge=1, le=100), session: Session = Depends(get_session)) -> dict:
    return {"funding_call_id": call_id, "matches": service.call_matches(session, call_id, limit=limit)}


@router.get("/projects/{project_id}/funding-matches", tags=["funding"], summary="Open calls that fit this project")
def project_matches(project_id: int, limit: int = Query(10, ge=1, le=100),
                    session: Session = Depends(get_session)) -> dict:
    return {"project_id": project_id, "matches": service.project_matches(session, project_id, limit=limit)}


@router.get("/municipalities/{code}/funding-matches", tags=["funding"],
            summary="Open calls that fit this city's projects, best call first")
def city_funding_matches(code: str, limit: int = Query(5, ge=1, le=50), session: Session = Depends(get_session)) -> dict:
    return {"municipality": code.upper(), "matches": service.city_matches(session, code, limit=limit)}


register_item_routes(router, ItemRoutes(
    path="funding-calls", tag="funding", name="funding_call", schema_in=FundingCallIn,
    schema_patch=FundingCallPatch, schema_out=FundingCallOut, get=funding.get_call, create=funding.create_call,
    update=funding.update_call, delete=funding.delete_call, shape=funding.call_out))


# --- DCAT-AP-NL catalogue -------------------------------------------------------------------------


def _catalog(request: Request, session: Session, media: str, page: int) -> Response:
    settings = request.app.state.settings
    keys = dcat.dataset_keys(session)
    last = max(1, -(-len(keys) // settings.catalog_page_size))
    if page > last:
        raise NotFound(f"The catalogue has {last} page(s)")
    url = f"{base_url(request)}{request.url.path}"
    graph = dcat.build_catalog(session, settings, base_url(request), page=page, paged_url=url)
    return Response(dcat.serialize(graph, media), media_type=media, headers={"Vary": "Accept"})


@router.get("/catalog", tags=["catalogue"], summary="DCAT-AP-NL catalogue (JSON-LD or Turtle by Accept)",
            response_class=Response)
def catalog(request: Request, page: int = Query(1, ge=1, le=100_000), session: Session = Depends(get_session)):
    return _catalog(request, session, dcat.negotiate(request.headers.get("accept")), page)


@router.get("/catalog.jsonld", tags=["catalogue"], summary="DCAT-AP-NL catalogue as JSON-LD", response_class=Response)
def catalog_jsonld(request: Request, page: int = Query(1, ge=1, le=100_000), session: Session = Depends(get_session)):
    return _catalog(request, session, dcat.JSONLD, page)


@router.get("/catalog.ttl", tags=["catalogue"], summary="DCAT-AP-NL catalogue as Turtle", response_class=Response)
def catalog_ttl(request: Request, page: int = Query(1, ge=1, le=100_000), session: Session = Depends(get_session)):
    return _catalog(request, session, dcat.TURTLE, page)


@router.get("/catalog/datasets/{key}", tags=["catalogue"], summary="One dataset of the catalogue (dereferenceable URI)",
            response_class=Response)
def catalog_dataset(key: str, request: Request, session: Session = Depends(get_session)):
    moved = dcat.moved_project(session, key)
    if moved is not None:  # a project was a "dataset" in older versions; it is a project record
        return RedirectResponse(f"{base_url(request)}/api/v1/projects/{moved}", status_code=301)
    if key not in dcat.dataset_keys(session):
        raise NotFound(f"No dataset {key[:80]!r} in the catalogue")
    graph = dcat.build_catalog(session, request.app.state.settings, base_url(request), only=key)
    media = dcat.negotiate(request.headers.get("accept"))
    return Response(dcat.serialize(graph, media), media_type=media, headers={"Vary": "Accept"})


# --- GeoJSON and CSV/Excel exports ----------------------------------------------------------------


def _labs_extra(infrastructure: list[str] = Query([]), open_to_external: bool | None = Query(None),
                session: Session = Depends(get_session)) -> dict:
    """The lab directory's infrastructure filter, checked by the directory's own rule: never silently ignored."""
    from stadslab.labs.service import check_lab_filters

    check_lab_filters(session, infrastructure=infrastructure)
    return {"infrastructure": infrastructure, "open_to_external": open_to_external}


def _geojson(features: list[dict], name: str) -> JSONResponse:
    return JSONResponse({"type": "FeatureCollection", "features": features}, media_type="application/geo+json",
                        headers={"Content-Disposition": f'inline; filename="{name}.geojson"'})


#: Registry ids are 32-bit INTEGER columns on PostgreSQL. Exports stream, so an id the database
#: refuses would only fail after the 200 went out: bound it at the door instead (422 naming it).
_REGISTRY_ID = {"ge": 1, "le": 2**31 - 1}


@router.get("/living-labs.geojson", tags=["exports"], summary="Living labs as GeoJSON")
def labs_geojson(request: Request, filters: RegistryFilters = Depends(registry_filters),
                 extra: dict = Depends(_labs_extra), session: Session = Depends(get_session)) -> JSONResponse:
    stmt = exports.prepare(session, "living-labs", filters, extra)
    base = base_url(request)
    return _geojson([lab_feature(o, base) for o in session.scalars(stmt)], "living-labs")


@router.get("/projects.geojson", tags=["exports"], summary="Projects as GeoJSON")
def projects_geojson(request: Request, filters: RegistryFilters = Depends(registry_filters),
                     living_lab: int | None = Query(None, **_REGISTRY_ID),
                     session: Session = Depends(get_session)) -> JSONResponse:
    stmt = exports.prepare(session, "projects", filters, {"living_lab": living_lab})
    base = base_url(request)
    return _geojson([project_feature(o, base) for o in session.scalars(stmt)], "projects")


Format = Literal["csv", "xlsx"]


def _stream(request: Request, name: str, fmt: str, stmt, filters) -> StreamingResponse:
    db = request.app.state.db
    if fmt == "csv":
        body, media = exports.stream_csv(db, name, stmt, filters), exports.CSV_TYPE
    else:
        body, media = exports.stream_xlsx(db, name, stmt, filters), exports.XLSX_TYPE
    return StreamingResponse(body, media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


def _registry_export(name: str, extra_params):
    def export(request: Request, fmt: Format, filters: RegistryFilters = Depends(registry_filters),
               extra: dict = Depends(extra_params), session: Session = Depends(get_session)) -> StreamingResponse:
        stmt = exports.prepare(session, name, filters, extra)
        return _stream(request, name, fmt, stmt, filters)

    export.__name__ = f"export_{name.replace('-', '_')}"
    return export


def _projects_extra(living_lab: int | None = Query(None, **_REGISTRY_ID)) -> dict:
    return {"living_lab": living_lab}


def _adoptions_extra(solution: int | None = Query(None, **_REGISTRY_ID)) -> dict:
    return {"solution": solution}


def _organisations_extra(kind: list[str] = Query([])) -> dict:
    return {"kind": kind}


def _no_extra() -> dict:
    return {}


for _name, _extra in (("living-labs", _labs_extra), ("projects", _projects_extra), ("solutions", _no_extra),
                      ("adoptions", _adoptions_extra), ("organisations", _organisations_extra),
                      ("coalitions", _no_extra)):
    router.add_api_route(f"/{_name}.{{fmt}}", _registry_export(_name, _extra), methods=["GET"], tags=["exports"],
                         summary=f"{_name} as CSV or Excel (same filters as the list)", response_class=Response)


@router.get("/events.{fmt}", tags=["exports"], summary="Events as CSV or Excel", response_class=Response)
def export_events(request: Request, fmt: Format, f: calendar.EventFilters = Depends(event_filters),
                  session: Session = Depends(get_session)) -> StreamingResponse:
    exports.prepare(session, "events", f, {})
    return _stream(request, "events", fmt, None, f)


@router.get("/funding-calls.{fmt}", tags=["exports"], summary="Funding calls as CSV or Excel", response_class=Response)
def export_calls(request: Request, fmt: Format, f: funding.CallFilters = Depends(call_filters),
                 session: Session = Depends(get_session)) -> StreamingResponse:
    stmt = exports.prepare(session, "funding-calls", f, {})
    return _stream(request, "funding-calls", fmt, stmt, f)


@router.get("/datastreams/{datastream_id}/observations.csv", tags=["exports"], response_class=Response,
            summary="Observations of one Datastream as CSV (open data, or data the caller may read)")
def observations_csv(datastream_id: int, request: Request, session: Session = Depends(get_session),
                     principal: Principal = Depends(get_principal)) -> StreamingResponse:
    from stadslab.sensorthings.access.visibility import visible_ids

    # the Datastream's own access class and its Thing's, as in /sta: hidden is answered as unknown
    if datastream_id not in visible_ids(session, principal, "Datastream", [datastream_id]):
        raise NotFound(f"No Datastream with id {datastream_id}")
    return StreamingResponse(exports.stream_observations(request.app.state.db, datastream_id),
                             media_type=exports.CSV_TYPE,
                             headers={"Content-Disposition":
                                      f'attachment; filename="datastream-{datastream_id}.csv"'})

