"""REST endpoints for evidence: KPI library, designs, evaluations, comparison, replication, advice, reports."""

# No ``from __future__ import annotations``: FastAPI must see the real body types.

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, authenticate_writer, authorize_write, get_principal, known_up_front
from stadslab.core.database import get_session
from stadslab.labs.service import get_project

from . import advice, comparison, consistency, graph, kpi_library, reports, service
from .schemas import DesignIn

router = APIRouter(tags=["evidence"])
SCOPE = "registry:write"
Lang = Literal["nl", "en"]


@router.get("/kpis", summary="The KPI library (CITYkeys, ISO 37120/37122)")
def list_kpis(lang: Lang = "nl", dimension: Optional[str] = None, theme: Optional[str] = None,
              measurable: Optional[bool] = Query(None, description="Only KPIs with (true) or without (false) a "
                                                                     "SensorThings ObservedProperty")):
    items = [kpi_library.localised(k, lang) for k in kpi_library.listing(dimension, theme, measurable)]
    return {"count": len(items), "value": items, "sources": kpi_library.sources(),
            "dimensions": kpi_library.dimensions()}


@router.get("/kpis/{code}", summary="One KPI of the library")
def get_kpi(code: str, lang: Lang = "nl"):
    return kpi_library.localised(kpi_library.get(code), lang)


@router.get("/projects/{project_id}/design", summary="The project's experiment design")
def get_design(project_id: int, session: Session = Depends(get_session),
               principal: Principal = Depends(get_principal)):
    return service.get_design(session, project_id, principal)


@router.put("/projects/{project_id}/design", summary="Create or replace the project's experiment design")
@known_up_front(scope=SCOPE)
def put_design(project_id: int, data: DesignIn, session: Session = Depends(get_session),
               principal: Principal = Depends(get_principal)):
    authorize_write(principal, get_project(session, project_id).owner_organisation_id, SCOPE)
    return service.put_design(session, project_id, data, actor=principal)


@router.post("/projects/{project_id}/evaluation", status_code=201, summary="Evaluate the project now and store it")
@known_up_front(scope=SCOPE)
def run_evaluation(project_id: int, session: Session = Depends(get_session),
                   principal: Principal = Depends(get_principal)):
    authenticate_writer(principal)  # before the project is looked up
    authorize_write(principal, get_project(session, project_id).owner_organisation_id, SCOPE)
    ev = service.run_evaluation(session, project_id, actor=principal)
    return service.evaluation_out(service.published(session, ev, principal))


@router.get("/projects/{project_id}/evaluation", summary="Latest evaluation and history")
def get_evaluations(project_id: int, session: Session = Depends(get_session),
                    principal: Principal = Depends(get_principal)):
    return service.evaluations(session, project_id, principal=principal)


@router.get("/projects/{project_id}/evaluations/{evaluation_id}", summary="One stored evaluation")
def get_evaluation(project_id: int, evaluation_id: int, session: Session = Depends(get_session),
                   principal: Principal = Depends(get_principal)):
    return service.evaluation_out(service.get_evaluation(session, project_id, evaluation_id, principal))


@router.get("/evidence/contradictions", summary="Projects whose own results and sensor evaluation disagree")
def list_contradictions(session: Session = Depends(get_session)):
    items = consistency.flagged_projects(session)
    return {"count": len(items), "value": items}


@router.get("/projects/{project_id}/report.html", response_class=HTMLResponse, summary="Project evidence report")
def project_report(project_id: int, lang: Lang = "nl", session: Session = Depends(get_session)):
    return HTMLResponse(reports.project_report(session, project_id, lang), headers=reports.HEADERS)


@router.get("/solutions/{solution_id}/comparison", summary="Effects of a solution across adopting cities")
def solution_comparison(solution_id: int, session: Session = Depends(get_session)):
    return comparison.compare(session, solution_id)


@router.get("/solutions/{solution_id}/graph", summary="Replication graph of a solution (nodes and edges)")
def solution_graph(solution_id: int, session: Session = Depends(get_session)):
    return graph.solution_graph(session, solution_id)


@router.get("/multiplier", summary="National overview: which solutions spread and which stay single-city")
def multiplier(session: Session = Depends(get_session)):
    return graph.multiplier(session)


@router.get("/solutions/{solution_id}/advice", summary="Where the solution is most likely to work next")
def solution_advice(solution_id: int, limit: int = Query(10, ge=1, le=100), lang: Lang = "nl",
                    session: Session = Depends(get_session)):
    return advice.advise(session, solution_id, limit=limit, lang=lang)


@router.get("/municipalities/{code}/opportunities", summary="Proven solutions this city has not adopted yet")
def opportunities(code: str, limit: int = Query(10, ge=1, le=100), lang: Lang = "nl",
                  session: Session = Depends(get_session)):
    return advice.opportunities(session, code, limit=limit, lang=lang)


@router.get("/solutions/{solution_id}/report.html", response_class=HTMLResponse, summary="Solution evidence report")
def solution_report(solution_id: int, lang: Lang = "nl", session: Session = Depends(get_session)):
    return HTMLResponse(reports.solution_report(session, solution_id, lang), headers=reports.HEADERS)
