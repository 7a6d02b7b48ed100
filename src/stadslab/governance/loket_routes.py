"""REST endpoints of the loket under /api/v1/loket (thin: parse, call a service, shape)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, get_principal, known_up_front
from stadslab.core.database import get_session
from stadslab.core.listing import ListParams, list_params, make_page

from . import loket
from .models import LoketRequest
from .schemas import (CommentIn, CommentOut, ExemptionOut, LoketRequestIn, LoketRequestOut, LoketStatus, LoketTopic,
                      LoketType, TransitionIn)

router = APIRouter(prefix="/loket", tags=["loket"])


def _out(r: LoketRequest, with_comments: bool = True) -> LoketRequestOut:
    data = {k: getattr(r, k) for k in LoketRequestOut.model_fields if hasattr(r, k) and k != "comments"}
    data.update(routed_to_name=loket.team_name(r.routed_to), overdue=loket.is_overdue(r),
                comments=[CommentOut.model_validate(c) for c in r.comments] if with_comments else [])
    return LoketRequestOut(**data)


@router.get("/routing", summary="Who handles which kind of request, and the decision terms (public)")
def routing() -> dict:
    table = loket.routing_table()
    return {"teams": table["teams"], "routes": table["routes"], "decision_days": table["decision_days"]}


@router.post("/requests", status_code=201, response_model=LoketRequestOut, summary="Submit a request")
@known_up_front(scope="loket:write")
def submit(body: LoketRequestIn, p: Principal = Depends(get_principal),
           session: Session = Depends(get_session)) -> LoketRequestOut:
    return _out(loket.submit(session, p, body.model_dump()))


@router.get("/requests", summary="Requests of the own organisation (admins: all)")
def list_requests(request: Request, params: ListParams = Depends(list_params),
                  status: list[LoketStatus] = Query([]), type: list[LoketType] = Query([]),
                  routed_to: str | None = Query(None, max_length=40), overdue: bool | None = Query(None),
                  p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    rows, total = loket.list_requests(session, p, params, status=status, type_=type, routed_to=routed_to,
                                      overdue=overdue)
    return make_page(request, params, [_out(r, with_comments=False) for r in rows], total)


@router.get("/requests/{request_id}", response_model=LoketRequestOut, summary="One request with its comments")
def get_request(request_id: int, p: Principal = Depends(get_principal),
                session: Session = Depends(get_session)) -> LoketRequestOut:
    return _out(loket.get_request(session, p, request_id))


@router.post("/requests/{request_id}/transitions", response_model=LoketRequestOut,
             summary="Move a request on: in_review, decided (with decision), closed")
@known_up_front(scope="loket:write")
def transition(request_id: int, body: TransitionIn, p: Principal = Depends(get_principal),
               session: Session = Depends(get_session)) -> LoketRequestOut:
    return _out(loket.transition(session, p, request_id, body.status, body.decision, body.note))


@router.post("/requests/{request_id}/comments", status_code=201, response_model=CommentOut, summary="Comment")
@known_up_front(scope="loket:write")
def comment(request_id: int, body: CommentIn, p: Principal = Depends(get_principal),
            session: Session = Depends(get_session)):
    return loket.add_comment(session, p, request_id, body.body)


@router.get("/exemptions", summary="Granted room to experiment (experimenteerruimte), public")
def exemptions(request: Request, params: ListParams = Depends(list_params),
               living_lab_id: int | None = Query(None), topic: LoketTopic | None = Query(None),
               session: Session = Depends(get_session)) -> dict:
    rows, total = loket.exemptions(session, params, living_lab_id=living_lab_id, topic=topic)
    items = [ExemptionOut(id=r.id, title=r.title, topic=r.topic, regulation=r.regulation,
                          decision_note=r.decision_note, decided_at=r.decided_at, organisation_id=r.organisation_id,
                          organisation_name=org_name, living_lab_id=r.living_lab_id, living_lab_name=lab_name,
                          routed_to=r.routed_to, routed_to_name=loket.team_name(r.routed_to))
             for r, org_name, lab_name in rows]
    return make_page(request, params, items, total)
