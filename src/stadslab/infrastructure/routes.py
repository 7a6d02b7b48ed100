"""HTTP endpoints of the infrastructure capability, mounted under /api/v1.

``/infrastructure`` (the register, its GeoJSON and CSV/xlsx exports, coverage, neighbourhoods,
city figures) and ``/investments`` (the joint investment agenda). Thin: parse, authorise
(``service`` applies the registry write rule), call one service function, shape the answer.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, authenticate_writer, get_principal, known_up_front
from stadslab.core.database import get_session
from stadslab.interop import exports

from . import coverage, service
from .models import ALL
from .schemas import AssetIn, AssetOut, AssetPatch, InvestmentIn, InvestmentOut

router = APIRouter(tags=["infrastructure"])
Format = Literal["csv", "xlsx"]
GEOJSON = "application/geo+json"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def asset_filters(type: list[str] = Query([], description="lorawan-gateway, 5g-site, fibre, public-wifi, "
                                                          "nb-iot, other"),
                  municipality: list[str] = Query([], description="CBS code, e.g. GM0363"),
                  openness: list[str] = Query([], description="open, community, private"),
                  status: list[str] = Query([], description="planned, building, live, retired"),
                  living_lab: int | None = Query(None, ge=1, le=2**31 - 1,
                                                 description="only assets serving this living lab")) -> dict:
    return {"types": type, "municipality": municipality, "openness": openness, "status": status,
            "living_lab": living_lab}


@router.get("/infrastructure/coverage", summary="LoRaWAN coverage per H3 cell, with the share per municipality")
def get_coverage(period: str = Query(ALL, max_length=7, description="'all' or a month, e.g. 2024-05"),
                 municipality: str | None = Query(None, max_length=6),
                 session: Session = Depends(get_session)) -> dict:
    coverage.refresh(session)
    service.check_period(period)
    if municipality:
        service.check_municipalities(session, [municipality], ["query", "municipality"])
    cells = coverage.cells(session, period=period, municipality=municipality)
    codes = [municipality] if municipality else sorted({c.municipality_code for c in cells if c.municipality_code})
    return {"type": "FeatureCollection", "period": period,
            "municipalities": [coverage.share(session, code) for code in codes],
            "features": [coverage.cell_feature(c) for c in cells]}


@router.get("/infrastructure/neighbourhoods", summary="Coverage per neighbourhood next to income")
def get_neighbourhoods(municipality: str | None = Query(None, max_length=6),
                       session: Session = Depends(get_session)) -> dict:
    if municipality:
        service.check_municipalities(session, [municipality], ["query", "municipality"])
    rows = service.neighbourhood_coverage(session, municipality)
    return {"neighbourhoods": rows, "without_coverage": service.uncovered_neighbourhoods(rows)}


@router.get("/infrastructure/figures/{municipality_code}", summary="Infrastructure figures of one municipality")
def get_figures(municipality_code: str, session: Session = Depends(get_session)) -> dict:
    return service.city_figures(session, municipality_code[:10])


@router.get("/infrastructure", summary="The infrastructure register (observed gateways included)")
def list_assets(filters: dict = Depends(asset_filters), session: Session = Depends(get_session)) -> dict:
    assets = service.list_assets(session, **filters)
    items = service.assets_out(session, assets)
    return {"items": [i.model_dump(mode="json") for i in items], "total": len(items)}


@router.get("/infrastructure.geojson", summary="The infrastructure register as GeoJSON", response_class=Response)
def assets_geojson(request: Request, filters: dict = Depends(asset_filters),
                   session: Session = Depends(get_session)) -> JSONResponse:
    items = service.assets_out(session, service.list_assets(session, **filters))
    return JSONResponse({"type": "FeatureCollection",
                         "features": [service.asset_feature(i, _base(request)) for i in items]}, media_type=GEOJSON)


def _stream(request: Request, name: str, fmt: str, stmt) -> StreamingResponse:
    db = request.app.state.db
    body, media = ((exports.stream_csv(db, name, stmt, None), exports.CSV_TYPE) if fmt == "csv"
                   else (exports.stream_xlsx(db, name, stmt, None), exports.XLSX_TYPE))
    return StreamingResponse(body, media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@router.get("/infrastructure.{fmt}", tags=["exports"], summary="The register as CSV or Excel",
            response_class=Response)
def export_assets(request: Request, fmt: Format, filters: dict = Depends(asset_filters),
                  session: Session = Depends(get_session)) -> StreamingResponse:
    return _stream(request, "infrastructure", fmt, service.export_statement(session, filters))


@router.post("/infrastructure", status_code=201, response_model=AssetOut,
             summary="Register an asset, or claim an observed gateway (give its EUI or id in 'gateway')")
@known_up_front(scope=service.SCOPE)
def create_asset(data: AssetIn, response: Response, session: Session = Depends(get_session),
                 principal: Principal = Depends(get_principal)) -> AssetOut:
    asset = service.create_asset(session, data, principal)
    response.headers["Location"] = f"/api/v1/infrastructure/{asset.id}"
    return service.asset_out(session, asset)


@router.get("/infrastructure/{asset_id}", response_model=AssetOut, summary="One asset")
def get_asset(asset_id: int, session: Session = Depends(get_session)) -> AssetOut:
    return service.asset_out(session, service.get_asset(session, asset_id))


@router.patch("/infrastructure/{asset_id}", response_model=AssetOut, summary="Change an asset")
@known_up_front(scope=service.SCOPE)
def update_asset(asset_id: int, data: AssetPatch, session: Session = Depends(get_session),
                 principal: Principal = Depends(get_principal)) -> AssetOut:
    return service.asset_out(session, service.update_asset(session, asset_id, data, principal))


@router.delete("/infrastructure/{asset_id}", status_code=204, response_class=Response, summary="Remove an asset")
@known_up_front(scope=service.SCOPE)
def delete_asset(asset_id: int, session: Session = Depends(get_session),
                 principal: Principal = Depends(get_principal)) -> Response:
    service.delete_asset(session, asset_id, principal)
    return Response(status_code=204)


# --- investments -----------------------------------------------------------------------------

def investment_filters(technology: list[str] = Query([]), municipality: list[str] = Query([]),
                       phase: list[str] = Query([], description="idea, committed, realised")) -> dict:
    return {"technology": technology, "municipality": municipality, "phase": phase}


@router.get("/investments", tags=["investments"], summary="The joint investment agenda, with totals")
def list_investments(filters: dict = Depends(investment_filters), session: Session = Depends(get_session),
                     principal: Principal = Depends(get_principal)) -> dict:
    found = service.list_investments(session, **filters)
    return {"items": [service.investment_out(i, principal).model_dump(mode="json") for i in found],
            "total": len(found),
            "totals": service.totals(found)}


@router.get("/investments.{fmt}", tags=["exports"], summary="Investments as CSV or Excel", response_class=Response)
def export_investments(request: Request, fmt: Format, filters: dict = Depends(investment_filters),
                       session: Session = Depends(get_session)) -> StreamingResponse:
    return _stream(request, "investments", fmt, service.investment_export_statement(session, filters))


@router.post("/investments", tags=["investments"], status_code=201, response_model=InvestmentOut)
@known_up_front(scope=service.SCOPE)
def create_investment(data: InvestmentIn, response: Response, session: Session = Depends(get_session),
                      principal: Principal = Depends(get_principal)) -> InvestmentOut:
    inv = service.create_investment(session, data, principal)
    response.headers["Location"] = f"/api/v1/investments/{inv.id}"
    return service.investment_out(inv, principal)


@router.get("/investments/{investment_id}", tags=["investments"], response_model=InvestmentOut)
def get_investment(investment_id: int, session: Session = Depends(get_session),
                   principal: Principal = Depends(get_principal)) -> InvestmentOut:
    return service.investment_out(service.get_investment(session, investment_id), principal)


@router.get("/investments/{investment_id}/funding-matches", tags=["investments"],
            summary="Open funding calls matching the investment")
def investment_matches(investment_id: int, session: Session = Depends(get_session)) -> list[dict]:
    return service.investment_matches(session, investment_id)


@router.put("/investments/{investment_id}", tags=["investments"], response_model=InvestmentOut)
@known_up_front(scope=service.SCOPE)
def replace_investment(investment_id: int, data: InvestmentIn, session: Session = Depends(get_session),
                       principal: Principal = Depends(get_principal)) -> InvestmentOut:
    return service.investment_out(service.update_investment(session, investment_id, data, principal), principal)


@router.delete("/investments/{investment_id}", tags=["investments"], status_code=204, response_class=Response)
@known_up_front(scope=service.SCOPE)
def delete_investment(investment_id: int, session: Session = Depends(get_session),
                      principal: Principal = Depends(get_principal)) -> Response:
    authenticate_writer(principal)
    service.delete_investment(session, investment_id, principal)
    return Response(status_code=204)
