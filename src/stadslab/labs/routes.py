"""REST endpoints for living labs, projects, solutions and adoptions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, get_principal, known_up_front, require_authenticated, require_scope
from stadslab.core.crud import ItemRoutes, register_item_routes
from stadslab.core.database import get_session
from stadslab.core.listing import ListParams, RegistryFilters, list_params, make_page, registry_filters

from . import moderation, service
from .models import INFRASTRUCTURE, ModeratedContribution
from .schemas import (
    AdoptionIn,
    AdoptionOut,
    AdoptionPatch,
    ContributionOut,
    DecisionIn,
    LessonIn,
    LivingLabIn,
    LivingLabOut,
    LivingLabPatch,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    SolutionIn,
    SolutionOut,
    SolutionPatch,
    TestApplicationIn,
)

router = APIRouter()


def _adoption(a):
    return ContributionOut.model_validate(a) if isinstance(a, ModeratedContribution) else a


def _solution(s) -> SolutionOut:
    out = SolutionOut.model_validate(s)
    out.adoption_count = len(s.adoptions)
    return out


@router.get("/living-labs", tags=["living labs"])
def list_living_labs(request: Request, params: ListParams = Depends(list_params),
                     filters: RegistryFilters = Depends(registry_filters),
                     infrastructure: list[str] = Query([], description="Infrastructure code (all must be "
                                                       f"present); repeatable: {', '.join(INFRASTRUCTURE)}"),
                     province: list[str] = Query([], description="Province name; repeatable"),
                     open_to_external: str | None = Query(None, description="true or false"),
                     session: Session = Depends(get_session)) -> dict:
    """The lab directory: unknown filter values are a 400 that names the allowed values."""
    checked = service.check_lab_filters(session, theme=filters.theme, infrastructure=infrastructure,
                                        city=filters.city, province=province, status=filters.status,
                                        open_to_external=open_to_external)
    filters.city, filters.theme = checked["city"], checked["theme"]
    rows, total = service.list_living_labs(session, filters, params, checked["infrastructure"],
                                           checked["open_to_external"], checked["province"])
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
    update=service.update_adoption, delete=service.delete_adoption, shape=_adoption))


# --- moderated contributions ------------------------------------------------------------------

@router.get("/contributions", tags=["contributions"])
def list_contributions(request: Request, params: ListParams = Depends(list_params),
                       direction: str = Query("all", description="incoming (to decide), outgoing (to follow), all"),
                       status: list[str] = Query([], description="pending, accepted, declined; repeatable"),
                       kind: list[str] = Query([], description="project_to_lab, adoption, lesson, test_application"),
                       session: Session = Depends(get_session),
                       principal: Principal = Depends(get_principal)) -> dict:
    """Contributions the caller's organisation made or must decide on (others' are invisible)."""
    rows, total = moderation.list_contributions(session, principal, params, direction=direction, status=status,
                                                kind=kind)
    return make_page(request, params, [ContributionOut.model_validate(c) for c in rows], total)


@router.get("/contributions/{contribution_id}", tags=["contributions"], response_model=ContributionOut)
def get_contribution(contribution_id: int, session: Session = Depends(get_session),
                     principal: Principal = Depends(get_principal)):
    require_authenticated(principal)
    return moderation.get_contribution(session, principal, contribution_id)


@known_up_front(scope=moderation.SCOPE)
@router.post("/contributions/{contribution_id}/accept", tags=["contributions"], response_model=ContributionOut)
def accept_contribution(contribution_id: int, data: DecisionIn | None = None,
                        session: Session = Depends(get_session), principal: Principal = Depends(get_principal)):
    """The owner's editors accept: the project is linked, the adoption or lesson created. Decided: 409."""
    require_authenticated(principal)
    return moderation.decide(session, contribution_id, True, actor=principal, note=data.note if data else "")


@known_up_front(scope=moderation.SCOPE)
@router.post("/contributions/{contribution_id}/decline", tags=["contributions"], response_model=ContributionOut)
def decline_contribution(contribution_id: int, data: DecisionIn | None = None,
                         session: Session = Depends(get_session), principal: Principal = Depends(get_principal)):
    require_authenticated(principal)
    return moderation.decide(session, contribution_id, False, actor=principal, note=data.note if data else "")


@known_up_front(scope=moderation.SCOPE)
@router.post("/living-labs/{lab_id}/applications", tags=["living labs"], status_code=201,
             response_model=ContributionOut)
def apply_to_test(lab_id: int, data: TestApplicationIn, response: Response, session: Session = Depends(get_session),
                  principal: Principal = Depends(get_principal)):
    """Apply to test in a lab (who, what, when): pending in the lab owner's inbox; both sides follow it."""
    require_scope(principal, moderation.SCOPE)
    c = moderation.apply_to_test(session, lab_id, data, actor=principal)
    response.headers["Location"] = f"/api/v1/contributions/{c.id}"
    return c


@known_up_front(scope=moderation.SCOPE)
@router.post("/projects/{project_id}/lessons", tags=["projects"], status_code=201)
def add_lesson(project_id: int, data: LessonIn, session: Session = Depends(get_session),
               principal: Principal = Depends(get_principal)):
    """A lesson learned: added (201, the project) by the project's editors, else pending (202)."""
    require_scope(principal, moderation.SCOPE)
    result = moderation.add_lesson(session, project_id, data.text, actor=principal)
    if isinstance(result, ModeratedContribution):
        return JSONResponse(jsonable_encoder(ContributionOut.model_validate(result)), status_code=202,
                            headers={"Location": result.pending_location})
    return ProjectOut.model_validate(result)
