"""The international calendar: events, who represents which city there, and where the Netherlands shows up.

Every write is one unit of work with its audit event. Times come in as wall-clock
time in the event's own zone (or as aware instants) and are stored in UTC; a
recurring series is checked against its start when it is saved, so a feed never
meets a rule it cannot expand.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM, Principal
from stadslab.core.database import utcnow
from stadslab.core.errors import BadRequest, NotFound, ValidationFailed, field_error
from stadslab.core.listing import ListParams, like_pattern
from stadslab.core.unit_of_work import unit_of_work
from stadslab.governance import audit
from stadslab.network.models import Organisation
from stadslab.network.service import check_theme_filter, city_codes_for_filter, resolve_city, resolve_themes

from . import timeutil
from .models import EVENT_KINDS, Event, EventRepresentative, event_themes
from .schemas import EventIn, EventOut, EventPatch, RepresentativeOut

MAX_EVENT_DAYS = 366
UID_DOMAIN = "stadslab"


def _invalid(loc: list, msg: str) -> ValidationFailed:
    return ValidationFailed(f"{'.'.join(str(p) for p in loc[1:])}: {msg}", errors=[field_error(loc, msg)])


def new_uid() -> str:
    return f"{uuid.uuid4()}@{UID_DOMAIN}"


def event_record(e: Event) -> dict[str, Any]:
    """The audit/export shape. Representative names are personal data: keyed so the audit trail withholds them."""
    return {
        "uid": e.uid, "kind": e.kind, "title": e.title, "description": e.description,
        "starts_at": timeutil.aware_utc(e.starts_at).isoformat() if e.starts_at else None,
        "ends_at": timeutil.aware_utc(e.ends_at).isoformat() if e.ends_at else None, "timezone": e.timezone, "all_day": e.all_day,
        "rrule": e.rrule, "location_name": e.location_name, "city": e.city, "country": e.country,
        "latitude": e.latitude, "longitude": e.longitude, "themes": [t.code for t in e.themes],
        "links": e.links or [], "owner_organisation_id": e.owner_organisation_id,
        "representatives": [{"display_name": r.name, "role": r.role, "city": r.municipality_code,
                             "organisation_id": r.organisation_id} for r in e.representatives],
    }


# --- time fields ----------------------------------------------------------------------------------


def _local_day(value: datetime, tz_name: str) -> date:
    return value.astimezone(timeutil.zone(tz_name)).date() if value.tzinfo else value.date()


def _apply_times(e: Event, data: dict[str, Any]) -> None:
    tz_name = data.get("timezone") or e.timezone or timeutil.HOME_ZONE
    all_day = data["all_day"] if data.get("all_day") is not None else bool(e.all_day)
    if not any(k in data for k in ("start", "end", "all_day", "timezone")) and e.starts_at is not None:
        return
    tz = timeutil.zone(tz_name)
    old_start = timeutil.aware_utc(e.starts_at) if e.starts_at else None
    old_end = timeutil.aware_utc(e.ends_at) if e.ends_at else None
    start = data.get("start") or (old_start.astimezone(tz) if old_start else None)
    end = data.get("end")
    if end is None and old_end is not None:
        end = old_end.astimezone(tz)
        if e.all_day:  # stored all-day end is the midnight after the last day
            end = end - timedelta(days=1)
    if start is None or end is None:
        raise _invalid(["body", "start" if start is None else "end"], "required")
    if all_day:
        first, last = _local_day(start, tz_name), _local_day(end, tz_name)
        if last < first:
            raise _invalid(["body", "end"], "the last day is before the first day")
        e.starts_at = timeutil.day_bounds(first, tz_name)[0]
        e.ends_at = timeutil.day_bounds(last, tz_name)[1]
    else:
        e.starts_at, e.ends_at = timeutil.as_utc(start, tz_name), timeutil.as_utc(end, tz_name)
        if e.ends_at < e.starts_at:
            raise _invalid(["body", "end"], "end is before start")
    if e.ends_at - e.starts_at > timedelta(days=MAX_EVENT_DAYS):
        raise _invalid(["body", "end"], f"an event lasts at most {MAX_EVENT_DAYS} days")
    e.timezone, e.all_day = tz_name, all_day


def _apply_recurrence(e: Event) -> None:
    if not e.rrule:
        e.series_ends_at = None
        return
    try:
        e.series_ends_at = timeutil.series_end(e.rrule, timeutil.aware_utc(e.starts_at),
                                               timeutil.aware_utc(e.ends_at), e.timezone, e.all_day)
    except ValueError as exc:
        raise _invalid(["body", "rrule"], str(exc)) from None


def _apply_event(session: Session, e: Event, data: dict[str, Any]) -> None:
    if data.get("owner_organisation_id") is not None and session.get(Organisation, data["owner_organisation_id"]) is None:
        raise _invalid(["body", "owner_organisation_id"], f"unknown organisation id {data['owner_organisation_id']}")
    _apply_times(e, data)
    for key in ("start", "end", "timezone", "all_day"):
        data.pop(key, None)
    if "themes" in data:
        e.themes = resolve_themes(session, data.pop("themes"))
    if "location" in data:
        loc = data.pop("location") or {}
        e.location_name, e.city, e.country = loc.get("name"), loc.get("city"), loc.get("country")
        e.latitude, e.longitude = loc.get("latitude"), loc.get("longitude")
    if "representatives" in data:
        reps = []
        for i, r in enumerate(data.pop("representatives") or []):
            code = resolve_city(session, r["city"], f"representatives.{i}.city").code if r.get("city") else None
            if r.get("organisation_id") is not None and session.get(Organisation, r["organisation_id"]) is None:
                raise _invalid(["body", "representatives", i, "organisation_id"],
                               f"unknown organisation id {r['organisation_id']}")
            reps.append(EventRepresentative(position=i, name=r.get("name"), role=r["role"], municipality_code=code,
                                            organisation_id=r.get("organisation_id")))
        e.representatives = reps
    if "links" in data:
        e.links = [dict(link) for link in data.pop("links") or []]
    for key, value in data.items():
        if key == "all_day" and value is None:
            continue
        setattr(e, key, value)
    _apply_recurrence(e)


def create_event(session: Session, data: EventIn, *, actor: Principal = SYSTEM, is_demo: bool = False,
                 uid: str | None = None) -> Event:
    with unit_of_work(session, f"Event {data.title!r} cannot be created"):
        e = add_event(session, data.model_dump(), actor=actor, is_demo=is_demo, uid=uid)
    return e


def add_event(session: Session, data: dict[str, Any], *, actor: Principal, is_demo: bool = False,
              uid: str | None = None) -> Event:
    """Create inside the caller's unit of work (used by create and by .ics import)."""
    e = Event(uid=uid or new_uid(), sequence=0, is_demo=is_demo, links=[], description="")
    _apply_event(session, e, data)
    session.add(e)
    session.flush()
    audit.record(session, actor, "create", "event", e.id, None, event_record(e))
    return e


def change_event(session: Session, e: Event, data: dict[str, Any], *, actor: Principal,
                 sequence_at_least: int = 0) -> Event:
    before = event_record(e)
    _apply_event(session, e, data)
    after = event_record(e)
    if after != before:
        e.sequence = max((e.sequence or 0) + 1, sequence_at_least)
        session.flush()
        audit.record(session, actor, "update", "event", e.id, before, after)
    return e


def update_event(session: Session, event_id: int, data: EventPatch | EventIn, *,
                 actor: Principal = SYSTEM) -> Event:
    with unit_of_work(session, "Event cannot be updated"):
        e = get_event(session, event_id)
        change_event(session, e, data.model_dump(exclude_unset=isinstance(data, EventPatch)), actor=actor)
    return e


def delete_event(session: Session, event_id: int, *, actor: Principal = SYSTEM) -> None:
    with unit_of_work(session, "Event cannot be deleted"):
        e = get_event(session, event_id)
        before = event_record(e)
        session.delete(e)
        session.flush()
        audit.record(session, actor, "delete", "event", event_id, before, None)


def get_event(session: Session, event_id: int) -> Event:
    e = session.get(Event, event_id)
    if e is None:
        raise NotFound(f"No event with id {event_id}")
    return e


# --- reading --------------------------------------------------------------------------------------


def _local_text(value: datetime, tz_name: str, as_date: bool) -> str:
    local = timeutil.aware_utc(value).astimezone(timeutil.zone(tz_name))
    return local.date().isoformat() if as_date else local.isoformat()


def event_out(e: Event) -> EventOut:
    start, end = timeutil.aware_utc(e.starts_at), timeutil.aware_utc(e.ends_at)
    last_day = end - timedelta(days=1) if e.all_day else end
    return EventOut(
        id=e.id, uid=e.uid, kind=e.kind, title=e.title, description=e.description or "",
        start=_local_text(start, e.timezone, e.all_day), end=_local_text(last_day, e.timezone, e.all_day),
        start_utc=start, end_utc=end, timezone=e.timezone, all_day=e.all_day, rrule=e.rrule,
        series_end_utc=timeutil.aware_utc(e.series_ends_at) if e.series_ends_at else None,
        location={"name": e.location_name, "city": e.city, "country": e.country, "latitude": e.latitude,
                  "longitude": e.longitude},
        themes=e.themes, links=e.links or [],
        representatives=[RepresentativeOut(name=r.name, role=r.role, city=r.municipality, organisation=r.organisation)
                         for r in e.representatives],
        sequence=e.sequence or 0, owner_organisation_id=e.owner_organisation_id, is_demo=e.is_demo,
        created_at=e.created_at, updated_at=e.updated_at)


@dataclass
class EventFilters:
    theme: list[str] = field(default_factory=list)
    city: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    country: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    q: str | None = None


def check_window(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """``from``/``to`` query values: naive means Europe/Amsterdam; ``to`` must not precede ``from``."""
    s = timeutil.as_utc(start, timeutil.HOME_ZONE) if start else None
    t = timeutil.as_utc(end, timeutil.HOME_ZONE) if end else None
    if s and t and t < s:
        raise BadRequest("to: must not be before from", errors=[field_error(["query", "to"], "before from")])
    return s, t


def _statement(session: Session, f: EventFilters):
    stmt = select(Event)
    if f.theme:
        stmt = stmt.where(Event.id.in_(select(event_themes.c.event_id).where(
            event_themes.c.theme_code.in_(check_theme_filter(session, f.theme)))))
    if f.city:
        codes = city_codes_for_filter(session, f.city)
        stmt = stmt.where(Event.id.in_(select(EventRepresentative.event_id).where(
            EventRepresentative.municipality_code.in_(codes))))
    if f.kind:
        bad = [k for k in f.kind if k not in EVENT_KINDS]
        if bad:
            raise ValidationFailed(f"kind: unknown kind {', '.join(bad)}; allowed: {', '.join(EVENT_KINDS)}",
                                   errors=[field_error(["query", "kind"], f"unknown kind {b!r}") for b in bad])
        stmt = stmt.where(Event.kind.in_(f.kind))
    if f.country:
        stmt = stmt.where(Event.country.in_([c.strip().upper() for c in f.country]))
    if f.q:
        pat = like_pattern(f.q)
        stmt = stmt.where(or_(Event.title.ilike(pat, escape="\\"), Event.description.ilike(pat, escape="\\")))
    if f.end is not None:
        stmt = stmt.where(Event.starts_at < f.end)
    if f.start is not None:
        stmt = stmt.where(or_(Event.ends_at > f.start, Event.series_ends_at > f.start,
                              (Event.rrule.is_not(None)) & Event.series_ends_at.is_(None)))
    return stmt.order_by(Event.starts_at, Event.id)


def occurs_in(e: Event, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime] | None:
    """The first occurrence of ``e`` overlapping the window, or None."""
    for occ in timeutil.occurrences(e.rrule, timeutil.aware_utc(e.starts_at), timeutil.aware_utc(e.ends_at),
                                    e.timezone, e.all_day, start, end, limit=1):
        return occ
    return None


def matching_events(session: Session, f: EventFilters) -> list[Event]:
    """All events matching the filters; with a window, recurring series are checked occurrence by occurrence."""
    rows = list(session.scalars(_statement(session, f)))
    if f.start is None and f.end is None:
        return rows
    return [e for e in rows if occurs_in(e, f.start, f.end) is not None]


def list_events(session: Session, f: EventFilters, params: ListParams) -> tuple[list[Event], int]:
    if f.start is None and f.end is None:
        stmt = _statement(session, f)
        from stadslab.core.listing import paginate

        return paginate(session, stmt, params)
    rows = matching_events(session, f)
    return rows[params.offset:params.offset + params.limit], len(rows)


def overview(session: Session, *, days: int = 365, now: datetime | None = None) -> dict[str, Any]:
    """Upcoming events per country and city, with the Dutch cities represented there."""
    start = now or utcnow()
    end = start + timedelta(days=days)
    events = matching_events(session, EventFilters(start=start, end=end))
    countries: dict[str, dict[str, list[dict]]] = {}
    represented: dict[str, dict[str, Any]] = {}
    for e in events:
        occ = occurs_in(e, start, end)
        cities = {r.municipality.code: r.municipality.name for r in e.representatives if r.municipality}
        for code, name in cities.items():
            represented.setdefault(code, {"code": code, "name": name, "events": 0})["events"] += 1
        item = {"id": e.id, "title": e.title, "kind": e.kind,
                "next_start_utc": occ[0].isoformat(), "next_start": _local_text(occ[0], e.timezone, e.all_day),
                "timezone": e.timezone, "location": e.location_name,
                "represented_cities": [{"code": c, "name": n} for c, n in sorted(cities.items(), key=lambda x: x[1])],
                "represented_organisations": sorted({r.organisation.name for r in e.representatives
                                                     if r.organisation})}
        countries.setdefault(e.country or "??", {}).setdefault(e.city or "", []).append(item)
    out = []
    for country in sorted(countries):
        cities = [{"city": city or None, "events": sorted(items, key=lambda i: i["next_start_utc"])}
                  for city, items in sorted(countries[country].items())]
        out.append({"country": None if country == "??" else country,
                    "event_count": sum(len(c["events"]) for c in cities), "cities": cities})
    return {"from": start.isoformat(), "to": end.isoformat(), "event_count": len(events), "countries": out,
            "represented_cities": sorted(represented.values(), key=lambda r: (-r["events"], r["name"]))}
