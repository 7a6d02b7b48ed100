"""The loket: one desk where cities ask the national government for room to experiment,
funding, cooperation or knowledge, and where the ministries' desks handle them.

A request is routed on submission to the responsible ministry or team (routing
table in ``data/loket_routing.json``) and gets a decision due date from its type
(received date + the type's term). Workflow::

    submitted → in_review ⇄ needs_info (the desk asks for more information; the
    submitter's answer moves it back to in_review) → decided (granted | rejected) → closed

A city may withdraw a request that is still submitted (submitted → closed); a desk may
forward an open request to another team (it lands there as submitted). Any other move is
a 409. Each step is a line in the request's history (``LoketComment.kind``), so the
submitter sees it. A granted experiment is an exemption with a validity period and the
living labs it applies to; the public overview shows current and expired ones.

Who may do what is :mod:`stadslab.governance.rights`. Every change that someone should
hear about writes an e-mail to the outbox in the same transaction (:mod:`.outbox`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session, object_session

from stadslab.core.auth import SYSTEM, Principal, require_authenticated
from stadslab.core.database import utcnow
from stadslab.core.errors import Conflict, NotFound, ValidationFailed, field_error
from stadslab.core.listing import ListParams
from stadslab.core.unit_of_work import commit
from stadslab.labs.models import LivingLab
from stadslab.network.models import Organisation

from . import audit, outbox, rights
from .models import LOKET_STATUSES, LoketComment, LoketRequest, User, loket_exemption_labs

ROUTING_FILE = Path(__file__).parent / "data" / "loket_routing.json"
TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"in_review", "closed"}),
    "in_review": frozenset({"needs_info", "decided"}),
    "needs_info": frozenset({"in_review", "decided"}),
    "decided": frozenset({"closed"}),
    "closed": frozenset(),
}
OPEN_STATUSES = ("submitted", "in_review", "needs_info")
#: A reminder about an overdue request is repeated at most this often.
REMIND_EVERY = timedelta(days=7)
#: An exemption that ends within this many days is flagged to its labs' editors.
EXPIRY_WARNING = timedelta(days=60)


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
            "decision": r.decision, "decision_due": r.decision_due, "valid_from": r.valid_from,
            "valid_until": r.valid_until}


def is_overdue(r: LoketRequest, today: date | None = None) -> bool:
    return r.status in OPEN_STATUSES and r.decision_due < (today or utcnow().date())


def facts(r: LoketRequest) -> rights.Facts:
    """What the rights table needs to know about a request."""
    earlier = tuple((c.detail or {}).get("from") for c in r.comments if c.kind == "forwarded")
    return rights.Facts(owner_org_id=r.organisation_id, team=r.routed_to,
                        also_teams=tuple(t for t in (*(r.consult or ()), *earlier) if t))


def exemption_labs(r: LoketRequest) -> list[tuple[int, str]]:
    """(id, name) of the labs a granted exemption applies to (``r`` must belong to a session)."""
    return _labs_of(object_session(r), [r.id])[r.id]


def exemption_lab_ids(r: LoketRequest) -> list[int]:
    return [i for i, _ in exemption_labs(r)] if r.decision == "granted" else []


def _known_team(team: str, loc: list) -> str:
    if team not in routing_table()["teams"]:
        raise ValidationFailed(f"unknown team {team!r}; one of {', '.join(routing_table()['teams'])}",
                               errors=[field_error(loc, "unknown team")])
    return team


# --- notifications (outbox, same transaction) ------------------------------------------------------

def _desk_addresses(session: Session, team: str) -> list[str]:
    return list(session.scalars(select(User.email).where(User.role == "desk", User.desk_team == team,
                                                         User.active.is_(True)).order_by(User.id)))


def _submitter_addresses(session: Session, r: LoketRequest) -> list[str]:
    found = []
    if r.submitted_by_user_id is not None:
        user = session.get(User, r.submitted_by_user_id)
        if user is not None and user.active:
            found.append(user.email)
    if r.contact_email and r.contact_email.lower() not in found:
        found.append(r.contact_email.lower())
    return found


def _notify(session: Session, r: LoketRequest, to: str, what: str, note: str | None = None) -> None:
    """An e-mail about request ``r`` to its submitter (``to="submitter"``) or its desk (``"desk"``)."""
    addresses = _submitter_addresses(session, r) if to == "submitter" else _desk_addresses(session, r.routed_to)
    subject = f"Loket #{r.id}: {what}"
    body = (f"{what}\n\nVerzoek #{r.id}: {r.title}\nBehandeld door: {team_name(r.routed_to)}\n"
            f"Status: {r.status}{' (' + r.decision + ')' if r.decision else ''}\n"
            f"Beslistermijn: {r.decision_due.isoformat()}\n" + (f"\n{note}\n" if note else "")
            + f"\nBekijk het verzoek: /loket/verzoeken/{r.id}\n")
    for address in addresses:
        outbox.enqueue(session, address, subject, body)


def _step(session: Session, r: LoketRequest, p: Principal, kind: str, body: str = "", detail: dict | None = None,
          now: datetime | None = None) -> LoketComment:
    step = LoketComment(request_id=r.id, author_user_id=p.user_id, body=body, kind=kind, detail=detail,
                        created_at=now or utcnow())
    r.comments.append(step)
    return step


# --- submitting and reading ------------------------------------------------------------------------

def submit(session: Session, p: Principal, data: dict, now: datetime | None = None) -> LoketRequest:
    now = now or utcnow()
    require_authenticated(p)
    organisation_id = data.pop("organisation_id", None)
    if organisation_id is None:
        organisation_id = p.organisation_id
    if organisation_id is None:
        rights.authorize("loket.submit", p, rights.Facts())
        raise ValidationFailed("organisation_id is required for an account without organisation",
                               errors=[field_error(["body", "organisation_id"], "required")])
    org = session.get(Organisation, organisation_id)
    rights.authorize("loket.submit", p, rights.Facts(org_kind=org.kind if org else None,
                                                     owner_org_id=organisation_id))
    if org is None:
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
    _notify(session, request, "desk", "Nieuw verzoek in uw wachtrij")
    audit.record(session, p, "loket.submit", "loket_request", request.id, None, snapshot(request))
    commit(session, "Request cannot be submitted")
    return request


def may_submit(session: Session, p: Principal) -> bool:
    """May ``p`` submit a request for its own organisation (to show or hide the form)?"""
    return rights.allowed("loket.submit", p, rights.Facts(org_kind=rights.organisation_kind(session, p),
                                                          owner_org_id=p.organisation_id)) \
        and p.organisation_id is not None


def get_request(session: Session, p: Principal, request_id: int) -> LoketRequest:
    require_authenticated(p)
    r = session.get(LoketRequest, request_id)
    if r is None or not rights.allowed("loket.view", p, facts(r)):
        raise NotFound(f"Loket request {request_id} does not exist")
    return r


def _overdue_clause(today: date, overdue: bool):
    late = (LoketRequest.status.in_(OPEN_STATUSES)) & (LoketRequest.decision_due < today)
    return late if overdue else ~late


def _filtered(stmt, *, status, type_, routed_to, organisation_id, overdue):
    if status:
        stmt = stmt.where(LoketRequest.status.in_(status))
    if type_:
        stmt = stmt.where(LoketRequest.type.in_(type_))
    if routed_to:
        stmt = stmt.where(LoketRequest.routed_to == routed_to)
    if organisation_id is not None:
        stmt = stmt.where(LoketRequest.organisation_id == organisation_id)
    if overdue is not None:
        stmt = stmt.where(_overdue_clause(utcnow().date(), overdue))
    return stmt


def _page(session: Session, stmt, params: ListParams) -> tuple[list[LoketRequest], int]:
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(LoketRequest.id).limit(params.limit).offset(params.offset)))
    return rows, total


def list_requests(session: Session, p: Principal, params: ListParams, *, status: list[str] | None = None,
                  type_: list[str] | None = None, routed_to: str | None = None, organisation_id: int | None = None,
                  overdue: bool | None = None) -> tuple[list[LoketRequest], int]:
    """The requests ``p`` sees: admins all, a desk those routed to its team, others their organisation's."""
    require_authenticated(p)
    stmt = select(LoketRequest)
    if p.role == "desk":
        stmt = stmt.where(LoketRequest.routed_to == (p.desk_team or ""))
    elif not p.is_admin:
        stmt = stmt.where(LoketRequest.organisation_id == (p.organisation_id or -1))
    return _page(session, _filtered(stmt, status=status, type_=type_, routed_to=routed_to,
                                    organisation_id=organisation_id, overdue=overdue), params)


def queue(session: Session, p: Principal, team: str | None, params: ListParams, *, status: list[str] | None = None,
          type_: list[str] | None = None, organisation_id: int | None = None,
          overdue: bool | None = None) -> tuple[str, list[LoketRequest], int]:
    """A desk's queue: the requests routed to ``team`` (default: the caller's own team). 403 for
    another team's queue."""
    require_authenticated(p)
    team = team or p.desk_team
    if team is None:
        rights.authorize("loket.queue", p, rights.Facts(team=None))
        team = next(iter(routing_table()["teams"]))
    _known_team(team, ["query", "team"])
    rights.authorize("loket.queue", p, rights.Facts(team=team))
    stmt = _filtered(select(LoketRequest), status=status, type_=type_, routed_to=team,
                     organisation_id=organisation_id, overdue=overdue)
    rows, total = _page(session, stmt, params)
    return team, rows, total


def overdue_count(session: Session, today: date | None = None) -> int:
    """Open requests past their decision date (the admin dashboard)."""
    stmt = select(func.count()).select_from(LoketRequest).where(_overdue_clause(today or utcnow().date(), True))
    return session.scalar(stmt) or 0


# --- acting on a request -----------------------------------------------------------------------------

def _check_move(r: LoketRequest, status: str) -> None:
    allowed = TRANSITIONS[r.status]
    if status not in allowed:
        nexts = ", ".join(sorted(allowed)) or "none (the request is closed)"
        raise Conflict(f"A {r.status} request cannot move to {status}; allowed: {nexts}")


def _grant_terms(session: Session, r: LoketRequest, valid_from: date | None, valid_until: date | None,
                 living_lab_ids: list[int] | None) -> list[int]:
    """Validate the validity period and labs of a granted exemption; the lab ids it applies to."""
    errors = []
    if valid_from is None:
        errors.append(field_error(["body", "valid_from"], "required when an exemption is granted"))
    if valid_until is None:
        errors.append(field_error(["body", "valid_until"], "required when an exemption is granted"))
    if valid_from and valid_until and valid_until < valid_from:
        errors.append(field_error(["body", "valid_until"], "must not be before valid_from"))
    labs = list(dict.fromkeys(living_lab_ids if living_lab_ids else
                              ([r.living_lab_id] if r.living_lab_id else [])))
    if labs:
        known = set(session.scalars(select(LivingLab.id).where(LivingLab.id.in_(labs))))
        missing = [i for i in labs if i not in known]
        if missing:
            errors.append(field_error(["body", "living_lab_ids"],
                                      f"living lab {', '.join(map(str, missing))} does not exist"))
    if errors:
        raise ValidationFailed("an exemption needs a valid period (valid_from, valid_until) and existing labs",
                               errors=errors)
    return labs


def transition(session: Session, p: Principal, request_id: int, status: str, decision: str | None = None,
               note: str | None = None, now: datetime | None = None, *, valid_from: date | None = None,
               valid_until: date | None = None, living_lab_ids: list[int] | None = None) -> LoketRequest:
    """Move a request on. 404 when the caller may not see it, 403 when they may not make this move,
    409 when the move does not follow the workflow, 422 for missing or invalid details."""
    now = now or utcnow()
    r = get_request(session, p, request_id)
    if status not in LOKET_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(LOKET_STATUSES)}",
                               errors=[field_error(["body", "status"], "unknown status")])
    withdraw = r.status == "submitted" and status == "closed"
    rights.authorize("loket.withdraw" if withdraw else "loket.handle", p, facts(r))
    _check_move(r, status)
    if status == "decided" and decision is None:
        raise ValidationFailed("a decision (granted or rejected) is required",
                               errors=[field_error(["body", "decision"], "required when status is decided")])
    if status != "decided" and decision is not None:
        raise ValidationFailed("decision is only given with status decided",
                               errors=[field_error(["body", "decision"], "only with status decided")])
    if status == "needs_info" and not (note or "").strip():
        raise ValidationFailed("say which information is needed",
                               errors=[field_error(["body", "note"], "required when asking for information")])
    granted_exemption = status == "decided" and decision == "granted" and r.type == "experiment"
    if not granted_exemption and (valid_from or valid_until or living_lab_ids):
        raise ValidationFailed("a validity period and labs belong to a granted experiment only",
                               errors=[field_error(["body", "valid_from"], "only when granting an experiment")])
    labs = _grant_terms(session, r, valid_from, valid_until, living_lab_ids) if granted_exemption else []
    before = snapshot(r)
    r.status = status
    kind = "withdrawn" if withdraw else status
    if status == "decided":
        r.decision, r.decided_at = decision, now
        if note:
            r.decision_note = note
        if granted_exemption:
            r.valid_from, r.valid_until = valid_from, valid_until
            session.execute(delete(loket_exemption_labs).where(loket_exemption_labs.c.request_id == r.id))
            if labs:
                session.execute(insert(loket_exemption_labs), [{"request_id": r.id, "living_lab_id": i}
                                                              for i in labs])
    if status == "closed":
        r.closed_at = now
    _step(session, r, p, kind, note or "", {"decision": decision, "valid_from": valid_from and valid_from.isoformat(),
                                            "valid_until": valid_until and valid_until.isoformat(),
                                            "living_lab_ids": labs} if status == "decided" else None, now)
    session.flush()
    messages = {"in_review": "Uw verzoek is in behandeling genomen",
                "needs_info": "Er is meer informatie nodig voor uw verzoek",
                "decided": f"Op uw verzoek is besloten: {'toegekend' if decision == 'granted' else 'afgewezen'}",
                "closed": "Uw verzoek is gesloten"}
    if withdraw:
        _notify(session, r, "desk", "Het verzoek is ingetrokken")
    else:
        _notify(session, r, "submitter", messages.get(status, status), note)
    audit.record(session, p, "loket.withdraw" if withdraw else f"loket.{status}", "loket_request", r.id,
                 before, snapshot(r))
    commit(session, "Request cannot change status")
    session.refresh(r)
    return r


def forward(session: Session, p: Principal, request_id: int, team: str, note: str | None = None,
            now: datetime | None = None) -> LoketRequest:
    """Hand an open request to another desk; it lands there as submitted (its term stays)."""
    now = now or utcnow()
    r = get_request(session, p, request_id)
    rights.authorize("loket.handle", p, facts(r))
    if r.status not in OPEN_STATUSES:
        raise Conflict(f"A {r.status} request cannot be forwarded; only open requests can")
    _known_team(team, ["body", "team"])
    if team == r.routed_to:
        raise ValidationFailed("the request is already with this team",
                               errors=[field_error(["body", "team"], "already routed to this team")])
    before = snapshot(r)
    previous = r.routed_to
    r.routed_to, r.status = team, "submitted"
    _step(session, r, p, "forwarded", note or "", {"from": previous, "to": team}, now)
    session.flush()
    _notify(session, r, "desk", "Een verzoek is naar uw team doorgestuurd", note)
    _notify(session, r, "submitter", f"Uw verzoek is doorgestuurd naar {team_name(team)}", note)
    audit.record(session, p, "loket.forward", "loket_request", r.id, before, snapshot(r))
    commit(session, "Request cannot be forwarded")
    session.refresh(r)
    return r


def add_comment(session: Session, p: Principal, request_id: int, body: str,
                now: datetime | None = None) -> LoketComment:
    """A comment; the submitter's comment on a request that waits for information is the answer,
    which moves it back to in_review."""
    now = now or utcnow()
    r = get_request(session, p, request_id)
    rights.authorize("loket.comment", p, facts(r))
    if r.status == "closed":
        raise Conflict("A closed request takes no more comments")
    answer = r.status == "needs_info" and p.organisation_id == r.organisation_id and p.role != "desk"
    before = snapshot(r)
    if answer:
        r.status = "in_review"
    comment = _step(session, r, p, "answered" if answer else "comment", body, None, now)
    session.flush()
    if answer or p.organisation_id == r.organisation_id:
        _notify(session, r, "desk", "Antwoord van de indiener" if answer else "Nieuwe reactie van de indiener", body)
    else:
        _notify(session, r, "submitter", "Nieuwe reactie op uw verzoek", body)
    audit.record(session, p, "loket.answer" if answer else "loket.comment", "loket_request", r.id,
                 before if answer else None, {**snapshot(r), "comment_id": comment.id} if answer
                 else {"comment_id": comment.id})
    commit(session, "Comment cannot be added")
    return comment


def due_reminders(session: Session, now: datetime | None = None, *, mark: bool = True) -> list[LoketRequest]:
    """Open requests past their decision date that were not reminded in the last week.

    With ``mark`` the reminder is recorded (``reminded_at``, audit ``loket.reminder``), the
    desk gets an e-mail, and it is committed, so running the job twice does not remind twice.
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
            _notify(session, r, "desk", "Herinnering: de beslistermijn is verstreken")
            audit.record(session, SYSTEM, "loket.reminder", "loket_request", r.id, None,
                         {"routed_to": r.routed_to, "decision_due": r.decision_due})
        commit(session, "Reminders cannot be recorded")
    return due


# --- exemptions (granted experiments) ----------------------------------------------------------------

@dataclass(frozen=True)
class Exemption:
    request: LoketRequest
    organisation: str | None
    labs: list[tuple[int, str]]

    @property
    def expired(self) -> bool:
        return self.request.valid_until is not None and self.request.valid_until < utcnow().date()


def _labs_of(session: Session, request_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    out: dict[int, list[tuple[int, str]]] = {i: [] for i in request_ids}
    if request_ids:
        rows = session.execute(select(loket_exemption_labs.c.request_id, LivingLab.id, LivingLab.name)
                               .join(LivingLab, LivingLab.id == loket_exemption_labs.c.living_lab_id)
                               .where(loket_exemption_labs.c.request_id.in_(request_ids))
                               .order_by(LivingLab.name))
        for request_id, lab_id, name in rows:
            out[request_id].append((lab_id, name))
    return out


def exemptions(session: Session, params: ListParams, *, living_lab_id: int | None = None,
               topic: str | None = None, state: str | None = None,
               today: date | None = None) -> tuple[list[Exemption], int]:
    """Granted experiment requests (experimenteerruimte), with organisation and lab names.

    ``state``: ``current`` (no end date, or ending today or later) or ``expired``; None both.
    """
    today = today or utcnow().date()
    stmt = (select(LoketRequest, Organisation.name)
            .join(Organisation, Organisation.id == LoketRequest.organisation_id)
            .where(LoketRequest.type == "experiment", LoketRequest.decision == "granted"))
    if living_lab_id is not None:
        stmt = stmt.where(LoketRequest.id.in_(select(loket_exemption_labs.c.request_id)
                                              .where(loket_exemption_labs.c.living_lab_id == living_lab_id)))
    if topic:
        stmt = stmt.where(LoketRequest.topic == topic)
    if state == "current":
        stmt = stmt.where(or_(LoketRequest.valid_until.is_(None), LoketRequest.valid_until >= today))
    elif state == "expired":
        stmt = stmt.where(LoketRequest.valid_until < today)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(LoketRequest.decided_at.desc(), LoketRequest.id.desc())
                           .limit(params.limit).offset(params.offset)).all()
    labs = _labs_of(session, [r.id for r, _ in rows])
    return [Exemption(r, org, labs[r.id]) for r, org in rows], total


def expiring(session: Session, today: date | None = None, *, living_lab_ids: list[int] | None = None) -> list[Exemption]:
    """Granted exemptions that end within 60 days (from today), optionally of some labs only."""
    today = today or utcnow().date()
    stmt = (select(LoketRequest, Organisation.name)
            .join(Organisation, Organisation.id == LoketRequest.organisation_id)
            .where(LoketRequest.type == "experiment", LoketRequest.decision == "granted",
                   and_(LoketRequest.valid_until >= today, LoketRequest.valid_until <= today + EXPIRY_WARNING)))
    if living_lab_ids is not None:
        stmt = stmt.where(LoketRequest.id.in_(select(loket_exemption_labs.c.request_id)
                                              .where(loket_exemption_labs.c.living_lab_id.in_(living_lab_ids))))
    rows = session.execute(stmt.order_by(LoketRequest.valid_until, LoketRequest.id)).all()
    labs = _labs_of(session, [r.id for r, _ in rows])
    return [Exemption(r, org, labs[r.id]) for r, org in rows]


def notify_expiring(session: Session, now: datetime | None = None) -> list[LoketRequest]:
    """Tell the editors of each lab's owner that an exemption ends within 60 days (once per exemption)."""
    now = now or utcnow()
    told = []
    for e in expiring(session, now.date()):
        r = e.request
        if r.expiry_notified_at is not None:
            continue
        owners = set(session.scalars(select(LivingLab.owner_organisation_id)
                                     .where(LivingLab.id.in_([i for i, _ in e.labs]))))
        editors = list(session.scalars(select(User.email).where(User.role == "editor", User.active.is_(True),
                                                                User.organisation_id.in_(owners - {None}))))
        for address in editors:
            outbox.enqueue(session, address, f"Loket #{r.id}: de ontheffing loopt af op {r.valid_until.isoformat()}",
                           f"De ontheffing '{r.title}' voor {', '.join(n for _, n in e.labs)} loopt af op "
                           f"{r.valid_until.isoformat()}.\n\nBekijk het verzoek: /loket/verzoeken/{r.id}\n")
        r.expiry_notified_at = now
        audit.record(session, SYSTEM, "loket.expiry_notice", "loket_request", r.id, None,
                     {"valid_until": r.valid_until, "recipients": len(editors)})
        told.append(r)
    if told:
        commit(session, "Expiry notices cannot be recorded")
    return told
