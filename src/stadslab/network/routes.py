"""REST endpoints of the network registry (thin: parse, call a service, shape)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from stadslab.core.database import get_session
from stadslab.core.listing import ListParams, RegistryFilters, list_params, make_page, registry_filters

from . import service
from .models import Coalition, Municipality, Organisation
from .schemas import (
    CoalitionIn,
    CoalitionOut,
    CoalitionPatch,
    MunicipalityDetail,
    MunicipalityOut,
    OrganisationIn,
    OrganisationKind,
    OrganisationOut,
    OrganisationPatch,
    SpecialisationOut,
    ThemeOut,
)

router = APIRouter()


def _municipality(m: Municipality) -> MunicipalityOut:
    return MunicipalityOut(code=m.code, name=m.name, province=m.province, population=m.population,
                           land_area_km2=m.land_area_km2, density=m.density, networks=m.networks,
                           centroid={"lat": m.centroid_lat, "lon": m.centroid_lon})


@router.get("/municipalities", tags=["network"], summary="Dutch municipalities (2025)")
def list_municipalities(request: Request, params: ListParams = Depends(list_params),
                        province: str | None = Query(None, max_length=40),
                        network: Literal["G4", "G40"] | None = Query(None, description="City network"),
                        q: str | None = Query(None, max_length=100),
                        session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_municipalities(session, params, province=province, network=network, q=q)
    return make_page(request, params, [_municipality(m) for m in rows], total)


@router.get("/municipalities/{code}", tags=["network"], response_model=MunicipalityDetail)
def get_municipality(code: str, session: Session = Depends(get_session)) -> MunicipalityDetail:
    m = service.get_municipality(session, code)
    specs = [SpecialisationOut(theme=s.theme_code, label_nl=s.label_nl, label_en=s.label_en,
                               partners=[p for p in [s.municipality_code, *s.partner_codes.split()]
                                         if p != m.code])
             for s in service.specialisations_of(session, m.code)]
    return MunicipalityDetail(**_municipality(m).model_dump(), outline=service.municipality_outline(m),
                              specialisations=specs)


@router.get("/themes", tags=["network"], response_model=list[ThemeOut])
def list_themes(session: Session = Depends(get_session)):
    return service.list_themes(session)


# --- organisations --------------------------------------------------------------------------

@router.get("/organisations", tags=["organisations"])
def list_organisations(request: Request, params: ListParams = Depends(list_params),
                       filters: RegistryFilters = Depends(registry_filters),
                       kind: list[OrganisationKind] = Query([]),
                       session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_organisations(session, filters, params, kind=kind)
    return make_page(request, params, [OrganisationOut.model_validate(o) for o in rows], total)


@router.get("/organisations/{org_id}", tags=["organisations"], response_model=OrganisationOut)
def get_organisation(org_id: int, session: Session = Depends(get_session)) -> Organisation:
    return service.get_organisation(session, org_id)


@router.post("/organisations", tags=["organisations"], status_code=201, response_model=OrganisationOut)
def create_organisation(data: OrganisationIn, response: Response, session: Session = Depends(get_session)):
    org = service.create_organisation(session, data)
    response.headers["Location"] = f"/api/v1/organisations/{org.id}"
    return org


@router.patch("/organisations/{org_id}", tags=["organisations"], response_model=OrganisationOut)
def patch_organisation(org_id: int, data: OrganisationPatch, session: Session = Depends(get_session)):
    return service.update_organisation(session, org_id, data)


@router.put("/organisations/{org_id}", tags=["organisations"], response_model=OrganisationOut)
def put_organisation(org_id: int, data: OrganisationIn, session: Session = Depends(get_session)):
    return service.update_organisation(session, org_id, data)


@router.delete("/organisations/{org_id}", tags=["organisations"], status_code=204)
def delete_organisation(org_id: int, session: Session = Depends(get_session)) -> Response:
    service.delete_organisation(session, org_id)
    return Response(status_code=204)


# --- coalitions -----------------------------------------------------------------------------

@router.get("/coalitions", tags=["coalitions"])
def list_coalitions(request: Request, params: ListParams = Depends(list_params),
                    filters: RegistryFilters = Depends(registry_filters),
                    session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_coalitions(session, filters, params)
    return make_page(request, params, [CoalitionOut.model_validate(c) for c in rows], total)


@router.get("/coalitions/{coalition_id}", tags=["coalitions"], response_model=CoalitionOut)
def get_coalition(coalition_id: int, session: Session = Depends(get_session)) -> Coalition:
    return service.get_coalition(session, coalition_id)


@router.post("/coalitions", tags=["coalitions"], status_code=201, response_model=CoalitionOut)
def create_coalition(data: CoalitionIn, response: Response, session: Session = Depends(get_session)):
    c = service.create_coalition(session, data)
    response.headers["Location"] = f"/api/v1/coalitions/{c.id}"
    return c


@router.patch("/coalitions/{coalition_id}", tags=["coalitions"], response_model=CoalitionOut)
def patch_coalition(coalition_id: int, data: CoalitionPatch, session: Session = Depends(get_session)):
    return service.update_coalition(session, coalition_id, data)


@router.put("/coalitions/{coalition_id}", tags=["coalitions"], response_model=CoalitionOut)
def put_coalition(coalition_id: int, data: CoalitionIn, session: Session = Depends(get_session)):
    return service.update_coalition(session, coalition_id, data)


@router.delete("/coalitions/{coalition_id}", tags=["coalitions"], status_code=204)
def delete_coalition(coalition_id: int, session: Session = Depends(get_session)) -> Response:
    service.delete_coalition(session, coalition_id)
    return Response(status_code=204)
