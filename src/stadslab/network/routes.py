"""REST endpoints of the network registry (thin: parse, call a service, shape)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from stadslab.core.crud import ItemRoutes, register_item_routes
from stadslab.core.database import get_session
from stadslab.core.listing import ListParams, RegistryFilters, list_params, make_page, registry_filters

from . import service
from .models import Municipality
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
                           facts=list(m.facts or []),
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


# --- coalitions -----------------------------------------------------------------------------

@router.get("/coalitions", tags=["coalitions"])
def list_coalitions(request: Request, params: ListParams = Depends(list_params),
                    filters: RegistryFilters = Depends(registry_filters),
                    session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_coalitions(session, filters, params)
    return make_page(request, params, [CoalitionOut.model_validate(c) for c in rows], total)


register_item_routes(router, ItemRoutes(
    path="organisations", tag="organisations", name="organisation", schema_in=OrganisationIn,
    schema_patch=OrganisationPatch, schema_out=OrganisationOut, get=service.get_organisation,
    create=service.create_organisation, update=service.update_organisation,
    delete=service.delete_organisation, owner_of=lambda org: org.id, owned=False,
    delete_role="admin"))
register_item_routes(router, ItemRoutes(
    path="coalitions", tag="coalitions", name="coalition", schema_in=CoalitionIn, schema_patch=CoalitionPatch,
    schema_out=CoalitionOut, get=service.get_coalition, create=service.create_coalition,
    update=service.update_coalition, delete=service.delete_coalition))
