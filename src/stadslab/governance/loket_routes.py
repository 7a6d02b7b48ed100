"""REST endpoints of the loket under /api/v1/loket (thin: parse, call a service, shape)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, get_principal, known_up_front
from stadslab.core.database import get_session
from stadslab.core.listing import ListParams, list_params, make_page

from . import loket
from .models import LoketRequest
from .schemas import (CommentIn, CommentOut, ExemptionOut, ForwardIn, LoketRequestIn, LoketRequestOut, LoketStatus,
                      LoketTopic, LoketType, TransitionIn)

router = APIRouter(prefix="/loket", tags=["loket"])


def _out(r: LoketRequest, with_comments: bool = True) -> LoketRequestOut:
    data = {k: getattr(r, k) for k in LoketRequestOut.model_fields if hasattr(r, k) and k != "comments"}
    data.update(routed_to_name=loket.team_name(r.routed_to), overdue=loket.is_overdue(r),
                exemption_lab_ids=loket.exemption_lab_ids(r),
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


@router.get("/requests", summary="Requests of the own organisation (a desk: routed to its team; admins: all)")
def list_requests(request: Request, params: ListParams = Depends(list_params),
                  status: list[LoketStatus] = Query([]), type: list[LoketType] = Query([]),
                  routed_to: str | None = Query(None, max_length=40), organisation_id: int | None = Query(None),
                  overdue: bool | None = Query(None),
                  p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    rows, total = loket.list_requests(session, p, params, status=status, type_=type, routed_to=routed_to,
                                      organisation_id=organisation_id, overdue=overdue)
    return make_page(request, params, [_out(r, with_comments=False) for r in rows], total)


@router.get("/queue", summary="A desk's queue: requests routed to a team (default: the caller's own; "
                              "another team's queue is 403 except for admins)")
def queue(request: Request, params: ListParams = Depends(list_params), team: str | None = Query(None, max_length=40),
          status: list[LoketStatus] = Query([]), type: list[LoketType] = Query([]),
          organisation_id: int | None = Query(None), overdue: bool | None = Query(None),
          p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    _team, rows, total = loket.queue(session, p, team, params, status=status, type_=type,
                                     organisation_id=organisation_id, overdue=overdue)
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
    return _out(loket.transition(session, p, request_id, body.status, body.decision, body.note,
                                 valid_from=body.valid_from, valid_until=body.valid_until,
                                 living_lab_ids=body.living_lab_ids))


@router.post("/requests/{request_id}/forward", response_model=LoketRequestOut,
             summary="Forward an open request to another desk (the desk it is routed to, or an admin)")
@known_up_front(scope="loket:write")
def forward(request_id: int, body: ForwardIn, p: Principal = Depends(get_principal),
            session: Session = Depends(get_session)) -> LoketRequestOut:
    return _out(loket.forward(session, p, request_id, body.team, body.note))


@router.post("/requests/{request_id}/comments", status_code=201, response_model=CommentOut, summary="Comment")
@known_up_front(scope="loket:write")
def comment(request_id: int, body: CommentIn, p: Principal = Depends(get_principal),
            session: Session = Depends(get_session)):
    return loket.add_comment(session, p, request_id, body.body)


@router.get("/exemptions", summary="Granted room to experiment (experimenteerruimte), public; "
                                   "state=current or expired")
def exemptions(request: Request, params: ListParams = Depends(list_params),
               living_lab_id: int | None = Query(None), topic: LoketTopic | None = Query(None),
               state: Literal["current", "expired"] | None = Query(None),
               session: Session = Depends(get_session)) -> dict:
    rows, total = loket.exemptions(session, params, living_lab_id=living_lab_id, topic=topic, state=state)
    items = []
    for e in rows:
        r = e.request
        first = e.labs[0] if e.labs else (None, None)
        items.append(ExemptionOut(id=r.id, title=r.title, topic=r.topic, regulation=r.regulation,
                                  decision_note=r.decision_note, decided_at=r.decided_at,
                                  organisation_id=r.organisation_id, organisation_name=e.organisation,
                                  living_lab_id=first[0], living_lab_name=first[1], routed_to=r.routed_to,
                                  routed_to_name=loket.team_name(r.routed_to), valid_from=r.valid_from,
                                  valid_until=r.valid_until, expired=e.expired,
                                  living_labs=[{"id": i, "name": n} for i, n in e.labs]))
    return make_page(request, params, items, total)
