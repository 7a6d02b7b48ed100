"""REST endpoints for living labs, projects, solutions and adoptions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

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


def _created(response: Response, path: str, obj_id: int) -> None:
    response.headers["Location"] = f"/api/v1/{path}/{obj_id}"


def _solution(s) -> SolutionOut:
    out = SolutionOut.model_validate(s)
    out.adoption_count = len(s.adoptions)
    return out


# --- living labs ----------------------------------------------------------------------------

@router.get("/living-labs", tags=["living labs"])
def list_living_labs(request: Request, params: ListParams = Depends(list_params),
                     filters: RegistryFilters = Depends(registry_filters),
                     infrastructure: list[Infrastructure] = Query([]),
                     open_to_external: bool | None = Query(None),
                     session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_living_labs(session, filters, params, infrastructure, open_to_external)
    return make_page(request, params, [LivingLabOut.model_validate(r) for r in rows], total)


@router.get("/living-labs/{lab_id}", tags=["living labs"], response_model=LivingLabOut)
def get_living_lab(lab_id: int, session: Session = Depends(get_session)):
    return service.get_living_lab(session, lab_id)


@router.post("/living-labs", tags=["living labs"], status_code=201, response_model=LivingLabOut)
def create_living_lab(data: LivingLabIn, response: Response, session: Session = Depends(get_session)):
    lab = service.create_living_lab(session, data)
    _created(response, "living-labs", lab.id)
    return lab


@router.patch("/living-labs/{lab_id}", tags=["living labs"], response_model=LivingLabOut)
def patch_living_lab(lab_id: int, data: LivingLabPatch, session: Session = Depends(get_session)):
    return service.update_living_lab(session, lab_id, data)


@router.put("/living-labs/{lab_id}", tags=["living labs"], response_model=LivingLabOut)
def put_living_lab(lab_id: int, data: LivingLabIn, session: Session = Depends(get_session)):
    return service.update_living_lab(session, lab_id, data)


@router.delete("/living-labs/{lab_id}", tags=["living labs"], status_code=204)
def delete_living_lab(lab_id: int, session: Session = Depends(get_session)) -> Response:
    service.delete_living_lab(session, lab_id)
    return Response(status_code=204)


# --- projects -------------------------------------------------------------------------------

@router.get("/projects", tags=["projects"])
def list_projects(request: Request, params: ListParams = Depends(list_params),
                  filters: RegistryFilters = Depends(registry_filters),
                  living_lab: int | None = Query(None, description="Living lab id"),
                  session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_projects(session, filters, params, living_lab)
    return make_page(request, params, [ProjectOut.model_validate(r) for r in rows], total)


@router.get("/projects/{project_id}", tags=["projects"], response_model=ProjectOut)
def get_project(project_id: int, session: Session = Depends(get_session)):
    return service.get_project(session, project_id)


@router.post("/projects", tags=["projects"], status_code=201, response_model=ProjectOut)
def create_project(data: ProjectIn, response: Response, session: Session = Depends(get_session)):
    p = service.create_project(session, data)
    _created(response, "projects", p.id)
    return p


@router.patch("/projects/{project_id}", tags=["projects"], response_model=ProjectOut)
def patch_project(project_id: int, data: ProjectPatch, session: Session = Depends(get_session)):
    return service.update_project(session, project_id, data)


@router.put("/projects/{project_id}", tags=["projects"], response_model=ProjectOut)
def put_project(project_id: int, data: ProjectIn, session: Session = Depends(get_session)):
    return service.update_project(session, project_id, data)


@router.delete("/projects/{project_id}", tags=["projects"], status_code=204)
def delete_project(project_id: int, session: Session = Depends(get_session)) -> Response:
    service.delete_project(session, project_id)
    return Response(status_code=204)


# --- solutions ------------------------------------------------------------------------------

@router.get("/solutions", tags=["solutions"])
def list_solutions(request: Request, params: ListParams = Depends(list_params),
                   filters: RegistryFilters = Depends(registry_filters),
                   session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_solutions(session, filters, params)
    return make_page(request, params, [_solution(s) for s in rows], total)


@router.get("/solutions/{solution_id}", tags=["solutions"], response_model=SolutionOut)
def get_solution(solution_id: int, session: Session = Depends(get_session)):
    return _solution(service.get_solution(session, solution_id))


@router.post("/solutions", tags=["solutions"], status_code=201, response_model=SolutionOut)
def create_solution(data: SolutionIn, response: Response, session: Session = Depends(get_session)):
    s = service.create_solution(session, data)
    _created(response, "solutions", s.id)
    return _solution(s)


@router.patch("/solutions/{solution_id}", tags=["solutions"], response_model=SolutionOut)
def patch_solution(solution_id: int, data: SolutionPatch, session: Session = Depends(get_session)):
    return _solution(service.update_solution(session, solution_id, data))


@router.put("/solutions/{solution_id}", tags=["solutions"], response_model=SolutionOut)
def put_solution(solution_id: int, data: SolutionIn, session: Session = Depends(get_session)):
    return _solution(service.update_solution(session, solution_id, data))


@router.delete("/solutions/{solution_id}", tags=["solutions"], status_code=204)
def delete_solution(solution_id: int, session: Session = Depends(get_session)) -> Response:
    service.delete_solution(session, solution_id)
    return Response(status_code=204)


# --- adoptions ------------------------------------------------------------------------------

@router.get("/adoptions", tags=["adoptions"])
def list_adoptions(request: Request, params: ListParams = Depends(list_params),
                   filters: RegistryFilters = Depends(registry_filters),
                   solution: int | None = Query(None, description="Solution id"),
                   session: Session = Depends(get_session)) -> dict:
    rows, total = service.list_adoptions(session, filters, params, solution)
    return make_page(request, params, [AdoptionOut.model_validate(a) for a in rows], total)


@router.get("/adoptions/{adoption_id}", tags=["adoptions"], response_model=AdoptionOut)
def get_adoption(adoption_id: int, session: Session = Depends(get_session)):
    return service.get_adoption(session, adoption_id)


@router.post("/adoptions", tags=["adoptions"], status_code=201, response_model=AdoptionOut)
def create_adoption(data: AdoptionIn, response: Response, session: Session = Depends(get_session)):
    a = service.create_adoption(session, data)
    _created(response, "adoptions", a.id)
    return a


@router.patch("/adoptions/{adoption_id}", tags=["adoptions"], response_model=AdoptionOut)
def patch_adoption(adoption_id: int, data: AdoptionPatch, session: Session = Depends(get_session)):
    return service.update_adoption(session, adoption_id, data)


@router.put("/adoptions/{adoption_id}", tags=["adoptions"], response_model=AdoptionOut)
def put_adoption(adoption_id: int, data: AdoptionIn, session: Session = Depends(get_session)):
    return service.update_adoption(session, adoption_id, data)


@router.delete("/adoptions/{adoption_id}", tags=["adoptions"], status_code=204)
def delete_adoption(adoption_id: int, session: Session = Depends(get_session)) -> Response:
    service.delete_adoption(session, adoption_id)
    return Response(status_code=204)
