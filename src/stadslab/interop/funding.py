"""Funding programmes and calls: what money is there, until when, for which themes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM, Principal
from stadslab.core.errors import Conflict, NotFound, ValidationFailed, field_error
from stadslab.core.listing import ListParams, apply_sort, like_pattern, paginate
from stadslab.core.unit_of_work import unit_of_work
from stadslab.governance import audit
from stadslab.network.models import Organisation
from stadslab.network.service import check_status_filter, check_theme_filter, resolve_themes

from . import timeutil
from .calendar import new_uid
from .models import CALL_STATUSES, FundingCall, FundingProgramme, funding_call_themes
from .schemas import FundingCallIn, FundingCallOut, FundingCallPatch, ProgrammeIn, ProgrammeOut, ProgrammePatch


def _invalid(loc: list, msg: str) -> ValidationFailed:
    return ValidationFailed(f"{'.'.join(str(p) for p in loc[1:])}: {msg}", errors=[field_error(loc, msg)])


# --- programmes -----------------------------------------------------------------------------------


def programme_record(p: FundingProgramme) -> dict[str, Any]:
    return {"code": p.code, "name": p.name, "level": p.level, "description": p.description, "url": p.url}


def list_programmes(session: Session) -> list[FundingProgramme]:
    return list(session.scalars(select(FundingProgramme).order_by(FundingProgramme.name, FundingProgramme.id)))


def get_programme(session: Session, programme_id: int) -> FundingProgramme:
    p = session.get(FundingProgramme, programme_id)
    if p is None:
        raise NotFound(f"No funding programme with id {programme_id}")
    return p


def programme_by_code(session: Session, code: str, loc: list | None = None) -> FundingProgramme:
    p = session.scalar(select(FundingProgramme).where(FundingProgramme.code == code))
    if p is None:
        raise _invalid(loc or ["body", "programme"], f"unknown funding programme {code!r}")
    return p


def create_programme(session: Session, data: ProgrammeIn, *, actor: Principal = SYSTEM,
                     is_demo: bool = False) -> FundingProgramme:
    with unit_of_work(session, f"Funding programme {data.code!r} cannot be created"):
        p = FundingProgramme(is_demo=is_demo, **data.model_dump())
        session.add(p)
        session.flush()
        audit.record(session, actor, "create", "funding_programme", p.id, None, programme_record(p))
    return p


def update_programme(session: Session, programme_id: int, data: ProgrammePatch | ProgrammeIn, *,
                     actor: Principal = SYSTEM) -> FundingProgramme:
    with unit_of_work(session, "Funding programme cannot be updated"):
        p = get_programme(session, programme_id)
        before = programme_record(p)
        for key, value in data.model_dump(exclude_unset=isinstance(data, ProgrammePatch)).items():
            setattr(p, key, value)
        session.flush()
        audit.record(session, actor, "update", "funding_programme", p.id, before, programme_record(p))
    return p


def delete_programme(session: Session, programme_id: int, *, actor: Principal = SYSTEM) -> None:
    with unit_of_work(session, "Funding programme cannot be deleted"):
        p = get_programme(session, programme_id)
        if session.scalar(select(FundingCall.id).where(FundingCall.programme_id == p.id).limit(1)):
            raise Conflict(f"Funding programme {p.code!r} still has calls; delete those first")
        before = programme_record(p)
        session.delete(p)
        session.flush()
        audit.record(session, actor, "delete", "funding_programme", programme_id, before, None)


# --- calls ----------------------------------------------------------------------------------------


def call_record(c: FundingCall) -> dict[str, Any]:
    return {"uid": c.uid, "programme": c.programme.code if c.programme else None, "identifier": c.identifier,
            "title": c.title, "description": c.description, "themes": [t.code for t in c.themes],
            "opens_on": c.opens_on.isoformat() if c.opens_on else None,
            "deadline_at": timeutil.aware_utc(c.deadline_at).isoformat() if c.deadline_at else None,
            "deadline_timezone": c.deadline_timezone, "deadline_all_day": c.deadline_all_day,
            "budget_eur": c.budget_eur, "url": c.url, "status": c.status,
            "owner_organisation_id": c.owner_organisation_id}


def _apply_deadline(c: FundingCall, data: dict[str, Any]) -> None:
    if "deadline" not in data and "deadline_timezone" not in data:
        return
    tz_name = data.get("deadline_timezone") or c.deadline_timezone or "Europe/Brussels"
    deadline = data.get("deadline")
    if deadline is None:  # only the zone changed: keep the wall-clock deadline
        local = timeutil.aware_utc(c.deadline_at).astimezone(timeutil.zone(c.deadline_timezone))
        deadline = local.date() if c.deadline_all_day else local.replace(tzinfo=None)
    if isinstance(deadline, datetime):
        c.deadline_all_day = False
        c.deadline_at = timeutil.as_utc(deadline, tz_name)
    else:
        c.deadline_all_day = True
        # An all-day deadline is met until the end of that day where the call is run.
        c.deadline_at = timeutil.as_utc(datetime.combine(deadline, time(23, 59, 59)), tz_name)
    c.deadline_timezone = tz_name


def _apply_call(session: Session, c: FundingCall, data: dict[str, Any]) -> None:
    if data.get("owner_organisation_id") is not None and session.get(Organisation, data["owner_organisation_id"]) is None:
        raise _invalid(["body", "owner_organisation_id"], f"unknown organisation id {data['owner_organisation_id']}")
    if data.get("programme") is not None:
        c.programme = programme_by_code(session, data.pop("programme"))
        c.programme_id = c.programme.id
    data.pop("programme", None)
    _apply_deadline(c, data)
    data.pop("deadline", None)
    data.pop("deadline_timezone", None)
    if "themes" in data:
        c.themes = resolve_themes(session, data.pop("themes"))
    for key, value in data.items():
        if value is None and key in ("title", "status"):
            continue
        setattr(c, key, value)
    if c.opens_on and c.deadline_at and c.opens_on > timeutil.aware_utc(c.deadline_at).date():
        raise _invalid(["body", "opens_on"], "the call opens after its deadline")


def create_call(session: Session, data: FundingCallIn, *, actor: Principal = SYSTEM,
                is_demo: bool = False) -> FundingCall:
    with unit_of_work(session, f"Funding call {data.title!r} cannot be created"):
        c = FundingCall(uid=new_uid(), sequence=0, is_demo=is_demo, description="")
        _apply_call(session, c, data.model_dump())
        session.add(c)
        session.flush()
        audit.record(session, actor, "create", "funding_call", c.id, None, call_record(c))
    return c


def update_call(session: Session, call_id: int, data: FundingCallPatch | FundingCallIn, *,
                actor: Principal = SYSTEM) -> FundingCall:
    with unit_of_work(session, "Funding call cannot be updated"):
        c = get_call(session, call_id)
        before = call_record(c)
        _apply_call(session, c, data.model_dump(exclude_unset=isinstance(data, FundingCallPatch)))
        after = call_record(c)
        if after != before:
            c.sequence = (c.sequence or 0) + 1
            session.flush()
            audit.record(session, actor, "update", "funding_call", c.id, before, after)
    return c


def delete_call(session: Session, call_id: int, *, actor: Principal = SYSTEM) -> None:
    with unit_of_work(session, "Funding call cannot be deleted"):
        c = get_call(session, call_id)
        before = call_record(c)
        session.delete(c)
        session.flush()
        audit.record(session, actor, "delete", "funding_call", call_id, before, None)


def get_call(session: Session, call_id: int) -> FundingCall:
    c = session.get(FundingCall, call_id)
    if c is None:
        raise NotFound(f"No funding call with id {call_id}")
    return c


def call_out(c: FundingCall) -> FundingCallOut:
    deadline = timeutil.aware_utc(c.deadline_at)
    local = deadline.astimezone(timeutil.zone(c.deadline_timezone))
    return FundingCallOut(
        id=c.id, uid=c.uid, programme=ProgrammeOut.model_validate(c.programme), identifier=c.identifier,
        title=c.title, description=c.description or "", themes=c.themes, opens_on=c.opens_on,
        deadline=local.date().isoformat() if c.deadline_all_day else local.isoformat(), deadline_utc=deadline,
        deadline_timezone=c.deadline_timezone, deadline_all_day=c.deadline_all_day, budget_eur=c.budget_eur,
        url=c.url, status=c.status, sequence=c.sequence or 0, owner_organisation_id=c.owner_organisation_id,
        is_demo=c.is_demo, created_at=c.created_at, updated_at=c.updated_at)


@dataclass
class CallFilters:
    theme: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    programme: list[str] = field(default_factory=list)
    deadline_after: datetime | None = None
    deadline_before: datetime | None = None
    q: str | None = None


CALL_SORTS = {"deadline": FundingCall.deadline_at, "title": FundingCall.title, "budget_eur": FundingCall.budget_eur,
              "created_at": FundingCall.created_at, "updated_at": FundingCall.updated_at}


def calls_statement(session: Session, f: CallFilters, sort: str | None = None):
    stmt = select(FundingCall)
    if f.theme:
        stmt = stmt.where(FundingCall.id.in_(select(funding_call_themes.c.funding_call_id).where(
            funding_call_themes.c.theme_code.in_(check_theme_filter(session, f.theme)))))
    if f.status:
        stmt = stmt.where(FundingCall.status.in_(check_status_filter(f.status, CALL_STATUSES)))
    if f.programme:
        ids = [programme_by_code(session, code, ["query", "programme"]).id for code in f.programme]
        stmt = stmt.where(FundingCall.programme_id.in_(ids))
    if f.deadline_after:
        stmt = stmt.where(FundingCall.deadline_at >= timeutil.as_utc(f.deadline_after, "Europe/Brussels"))
    if f.deadline_before:
        stmt = stmt.where(FundingCall.deadline_at < timeutil.as_utc(f.deadline_before, "Europe/Brussels"))
    if f.q:
        pat = like_pattern(f.q)
        stmt = stmt.where(or_(FundingCall.title.ilike(pat, escape="\\"),
                              FundingCall.description.ilike(pat, escape="\\")))
    return apply_sort(stmt, sort, CALL_SORTS, FundingCall.id, "deadline")


def list_calls(session: Session, f: CallFilters, params: ListParams) -> tuple[list[FundingCall], int]:
    return paginate(session, calls_statement(session, f, params.sort), params)


def open_calls(session: Session, now: datetime) -> list[FundingCall]:
    """Calls one can still apply to: open or forthcoming, deadline not passed."""
    return list(session.scalars(select(FundingCall).where(
        FundingCall.status.in_(("open", "forthcoming")), FundingCall.deadline_at >= now)
        .order_by(FundingCall.deadline_at, FundingCall.id)))


def days_until(deadline: datetime, now: datetime) -> int:
    return (timeutil.aware_utc(deadline) - now) // timedelta(days=1)

