"""The loket: one desk where cities ask the national government for room to experiment,
funding, cooperation or knowledge.

A request is routed on submission to the responsible ministry or team (routing
table in ``data/loket_routing.json``) and gets a decision due date from its type.
Workflow: submitted → in_review → decided (granted | rejected) → closed; a city may
withdraw a request that is still submitted (submitted → closed). Any other move is
a 409. Granted experiments are public as the experimenteerruimte overview.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM, Principal, authorize_write, require_authenticated, require_role
from stadslab.core.database import utcnow
from stadslab.core.errors import Conflict, NotFound, ValidationFailed, field_error
from stadslab.core.listing import ListParams
from stadslab.core.unit_of_work import commit
from stadslab.labs.models import LivingLab
from stadslab.network.models import Organisation

from . import audit
from .models import LOKET_STATUSES, LoketComment, LoketRequest

ROUTING_FILE = Path(__file__).parent / "data" / "loket_routing.json"
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"in_review", "closed"}),
    "in_review": frozenset({"decided"}),
    "decided": frozenset({"closed"}),
    "closed": frozenset(),
}
OPEN_STATUSES = ("submitted", "in_review")
#: A reminder about an overdue request is repeated at most this often.
REMIND_EVERY = timedelta(days=7)


@dataclass(frozen=True)
class Route:
    team: str
    team_name: str
    consult: tuple[str, ...]
    decision_days: int


@lru_cache(maxsize=1)
def routing_table() -> dict:
    return json.loads(ROUTING_FILE.read_text(encoding="utf-8"))


def team_name(team: str) -> str:
    return routing_table()["teams"].get(team, team)


def route(type_: str, topic: str) -> Route:
    table = routing_table()
    for rule in table["routes"]:
        if rule["type"] == type_ and rule.get("topic") in (None, topic):
            return Route(rule["team"], team_name(rule["team"]), tuple(rule.get("consult", ())),
                         table["decision_days"][type_])
    raise ValidationFailed(f"no route for a {type_} request", errors=[field_error(["body", "type"], "no route")])


def snapshot(r: LoketRequest) -> dict:
    return {"id": r.id, "type": r.type, "topic": r.topic, "organisation_id": r.organisation_id,
            "living_lab_id": r.living_lab_id, "routed_to": r.routed_to, "status": r.status,
            "decision": r.decision, "decision_due": r.decision_due}


def is_overdue(r: LoketRequest, today: date | None = None) -> bool:
    return r.status in OPEN_STATUSES and r.decision_due < (today or utcnow().date())


def submit(session: Session, p: Principal, data: dict, now: datetime | None = None) -> LoketRequest:
    now = now or utcnow()
    organisation_id = data.pop("organisation_id", None)
    if organisation_id is None:
        organisation_id = p.organisation_id
    if organisation_id is None:
        require_authenticated(p)
        raise ValidationFailed("organisation_id is required for an account without organisation",
                               errors=[field_error(["body", "organisation_id"], "required")])
    authorize_write(p, organisation_id, "loket:write")
    if session.get(Organisation, organisation_id) is None:
        raise ValidationFailed(f"organisation {organisation_id} does not exist",
                               errors=[field_error(["body", "organisation_id"], "does not exist")])
    lab_id = data.get("living_lab_id")
    if lab_id is not None and session.get(LivingLab, lab_id) is None:
        raise ValidationFailed(f"living lab {lab_id} does not exist",
                               errors=[field_error(["body", "living_lab_id"], f"living lab {lab_id} does not exist")])
    r_ = route(data["type"], data["topic"])
    request = LoketRequest(**data, organisation_id=organisation_id, submitted_by_user_id=p.user_id,
                           routed_to=r_.team, consult=list(r_.consult), status="submitted", submitted_at=now,
                           decision_due=now.date() + timedelta(days=r_.decision_days))
    session.add(request)
    session.flush()
    audit.record(session, p, "loket.submit", "loket_request", request.id, None, snapshot(request))
    commit(session, "Request cannot be submitted")
    return request


def _visible(p: Principal, r: LoketRequest) -> bool:
    return p.role == "admin" or (p.organisation_id is not None and r.organisation_id == p.organisation_id)


def get_request(session: Session, p: Principal, request_id: int) -> LoketRequest:
    require_authenticated(p)
    r = session.get(LoketRequest, request_id)
    if r is None or not _visible(p, r):
        raise NotFound(f"Loket request {request_id} does not exist")
    return r


def list_requests(session: Session, p: Principal, params: ListParams, *, status: list[str] | None = None,
                  type_: list[str] | None = None, routed_to: str | None = None,
                  overdue: bool | None = None) -> tuple[list[LoketRequest], int]:
    require_authenticated(p)
    stmt = select(LoketRequest)
    if p.role != "admin":
        stmt = stmt.where(LoketRequest.organisation_id == (p.organisation_id or -1))
    if status:
        stmt = stmt.where(LoketRequest.status.in_(status))
    if type_:
        stmt = stmt.where(LoketRequest.type.in_(type_))
    if routed_to:
        stmt = stmt.where(LoketRequest.routed_to == routed_to)
    if overdue is not None:
        late = (LoketRequest.status.in_(OPEN_STATUSES)) & (LoketRequest.decision_due < utcnow().date())
        stmt = stmt.where(late if overdue else ~late)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(LoketRequest.id).limit(params.limit).offset(params.offset)))
    return rows, total


def transition(session: Session, p: Principal, request_id: int, status: str, decision: str | None = None,
               note: str | None = None, now: datetime | None = None) -> LoketRequest:
    now = now or utcnow()
    r = get_request(session, p, request_id)
    if status not in LOKET_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(LOKET_STATUSES)}",
                               errors=[field_error(["body", "status"], "unknown status")])
    withdraw = r.status == "submitted" and status == "closed"
    if withdraw:
        authorize_write(p, r.organisation_id, "loket:write")
    else:
        require_role(p, "admin")
    allowed = TRANSITIONS[r.status]
    if status not in allowed:
        nexts = ", ".join(sorted(allowed)) or "none (the request is closed)"
        raise Conflict(f"A {r.status} request cannot move to {status}; allowed: {nexts}")
    if status == "decided" and decision is None:
        raise ValidationFailed("a decision (granted or rejected) is required",
                               errors=[field_error(["body", "decision"], "required when status is decided")])
    if status != "decided" and decision is not None:
        raise ValidationFailed("decision is only given with status decided",
                               errors=[field_error(["body", "decision"], "only with status decided")])
    before = snapshot(r)
    r.status = status
    if status == "decided":
        r.decision, r.decided_at = decision, now
        if note:
            r.decision_note = note
    if status == "closed":
        r.closed_at = now
    if note and status != "decided":
        session.add(LoketComment(request_id=r.id, author_user_id=p.user_id, body=note, created_at=now))
    session.flush()
    audit.record(session, p, "loket.withdraw" if withdraw else f"loket.{status}", "loket_request", r.id,
                 before, snapshot(r))
    commit(session, "Request cannot change status")
    session.refresh(r)
    return r


def add_comment(session: Session, p: Principal, request_id: int, body: str) -> LoketComment:
    r = get_request(session, p, request_id)
    if p.role != "admin":
        authorize_write(p, r.organisation_id, "loket:write")
    if r.status == "closed":
        raise Conflict("A closed request takes no more comments")
    comment = LoketComment(request_id=r.id, author_user_id=p.user_id, body=body)
    session.add(comment)
    session.flush()
    audit.record(session, p, "loket.comment", "loket_request", r.id, None, {"comment_id": comment.id})
    commit(session, "Comment cannot be added")
    return comment


def due_reminders(session: Session, now: datetime | None = None, *, mark: bool = True) -> list[LoketRequest]:
    """Open requests past their decision date that were not reminded in the last week.

    With ``mark`` the reminder is recorded (``reminded_at``, audit ``loket.reminder``)
    and committed, so running the job twice does not remind twice.
    """
    now = now or utcnow()
    stmt = (select(LoketRequest)
            .where(LoketRequest.status.in_(OPEN_STATUSES), LoketRequest.decision_due < now.date(),
                   or_(LoketRequest.reminded_at.is_(None), LoketRequest.reminded_at <= now - REMIND_EVERY))
            .order_by(LoketRequest.decision_due, LoketRequest.id))
    due = list(session.scalars(stmt))
    if mark and due:
        for r in due:
            r.reminded_at = now
            audit.record(session, SYSTEM, "loket.reminder", "loket_request", r.id, None,
                         {"routed_to": r.routed_to, "decision_due": r.decision_due})
        commit(session, "Reminders cannot be recorded")
    return due


def exemptions(session: Session, params: ListParams, *, living_lab_id: int | None = None,
               topic: str | None = None) -> tuple[list[tuple[LoketRequest, str | None, str | None]], int]:
    """Granted experiment requests (experimenteerruimte), with organisation and lab names."""
    stmt = (select(LoketRequest, Organisation.name, LivingLab.name)
            .join(Organisation, Organisation.id == LoketRequest.organisation_id)
            .outerjoin(LivingLab, LivingLab.id == LoketRequest.living_lab_id)
            .where(LoketRequest.type == "experiment", LoketRequest.decision == "granted"))
    if living_lab_id is not None:
        stmt = stmt.where(LoketRequest.living_lab_id == living_lab_id)
    if topic:
        stmt = stmt.where(LoketRequest.topic == topic)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(LoketRequest.decided_at.desc(), LoketRequest.id.desc())
                           .limit(params.limit).offset(params.offset)).all()
    return [tuple(row) for row in rows], total
