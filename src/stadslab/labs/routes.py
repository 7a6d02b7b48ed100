"""REST endpoints for living labs, projects, solutions and adoptions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from stadslab.core.crud import ItemRoutes, register_item_routes
from stadslab.core.database import get_session
from stadslab.core.listing import ListParams, RegistryFilters, list_params, make_page, registry_filters

from . import service
from .schemas import (
    AdoptionIn,
    AdoptionOut,
    AdoptionPatch,
    Infrastructure,
    LivingLabIn,
    LivingLabOut,
    LivingLabPatch,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    SolutionIn,
    SolutionOut,
    SolutionPatch,
)

router = APIRouter()


def _solution(s) -> SolutionOut:
    out = SolutionOut.model_validate(s)
    out.adoption_count = len(s.adoptions)
    return out


@router.get("/living-labs", tags=["living labs"])
def list_living_labs(request: Request, params: ListParams = Depends(list_params),
                     filters: RegistryFilters = Depends(registry_filters),
                     infrastructure: list[Infrastructure] = Query([]),
                     open_to_external: bool | None = Query(None),
                     session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_living_labs(session, filters, params, infrastructure, open_to_external)
    return make_page(request, params, [LivingLabOut.model_validate(r) for r in rows], total)


@router.get("/projects", tags=["projects"])
def list_projects(request: Request, params: ListParams = Depends(list_params),
                  filters: RegistryFilters = Depends(registry_filters),
                  living_lab: int | None = Query(None, description="Living lab id"),
                  session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_projects(session, filters, params, living_lab)
    return make_page(request, params, [ProjectOut.model_validate(r) for r in rows], total)


@router.get("/solutions", tags=["solutions"])
def list_solutions(request: Request, params: ListParams = Depends(list_params),
                   filters: RegistryFilters = Depends(registry_filters),
                   session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_solutions(session, filters, params)
    return make_page(request, params, [_solution(s) for s in rows], total)


@router.get("/adoptions", tags=["adoptions"])
def list_adoptions(request: Request, params: ListParams = Depends(list_params),
                   filters: RegistryFilters = Depends(registry_filters),
                   solution: int | None = Query(None, description="Solution id"),
                   session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_adoptions(session, filters, params, solution)
    return make_page(request, params, [AdoptionOut.model_validate(a) for a in rows], total)


register_item_routes(router, ItemRoutes(
    path="living-labs", tag="living labs", name="living_lab", schema_in=LivingLabIn,
    schema_patch=LivingLabPatch, schema_out=LivingLabOut, get=service.get_living_lab,
    create=service.create_living_lab, update=service.update_living_lab, delete=service.delete_living_lab))
register_item_routes(router, ItemRoutes(
    path="projects", tag="projects", name="project", schema_in=ProjectIn, schema_patch=ProjectPatch,
    schema_out=ProjectOut, get=service.get_project, create=service.create_project,
    update=service.update_project, delete=service.delete_project))
register_item_routes(router, ItemRoutes(
    path="solutions", tag="solutions", name="solution", schema_in=SolutionIn, schema_patch=SolutionPatch,
    schema_out=SolutionOut, get=service.get_solution, create=service.create_solution,
    update=service.update_solution, delete=service.delete_solution, shape=_solution))
register_item_routes(router, ItemRoutes(
    path="adoptions", tag="adoptions", name="adoption", schema_in=AdoptionIn, schema_patch=AdoptionPatch,
    schema_out=AdoptionOut, get=service.get_adoption, create=service.create_adoption,
    update=service.update_adoption, delete=service.delete_adoption))
