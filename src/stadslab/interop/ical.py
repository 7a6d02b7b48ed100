"""RFC 5545 feeds of the calendar and funding deadlines, and import of .ics files.

Feeds carry no METHOD, so DTSTAMP is the time the event was last revised
(RFC 5545 §3.8.7.2) and a feed only changes when its content does. Every zone
an event uses gets a VTIMEZONE, and so does Europe/Amsterdam, the zone the
network lives in.

Import is tolerant per component: the file is split into its VEVENTs first and
each is parsed and validated on its own (inside a savepoint), so one broken
event is reported and skipped while the rest is imported in one transaction.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab import __version__
from stadslab.core.auth import SYSTEM, Principal
from stadslab.core.database import utcnow
from stadslab.core.errors import BadRequest, StadslabError, ValidationFailed
from stadslab.core.unit_of_work import unit_of_work
from stadslab.network.models import Theme

from . import timeutil
from .calendar import EventFilters, add_event, change_event, matching_events
from .models import EVENT_KINDS, Event, FundingCall

PRODID = f"-//Stadslab//Smart City netwerk {__version__}//NL"
CONTENT_TYPE = "text/calendar; charset=utf-8"
DEADLINE_CATEGORY = "funding-deadline"
MAX_IMPORT_EVENTS = 5000


# --- feeds ----------------------------------------------------------------------------------------


def _local(value: datetime, tz_name: str) -> datetime:
    return timeutil.aware_utc(value).astimezone(timeutil.zone(tz_name))


def _stamp(component: icalendar.Component, obj: Any) -> None:
    component.add("dtstamp", timeutil.aware_utc(obj.updated_at or obj.created_at or utcnow()))
    if obj.created_at:
        component.add("created", timeutil.aware_utc(obj.created_at))
    if obj.updated_at:
        component.add("last-modified", timeutil.aware_utc(obj.updated_at))
    component.add("sequence", obj.sequence or 0)


def event_component(e: Event, base_url: str) -> icalendar.Event:
    v = icalendar.Event()
    v.add("uid", e.uid)
    _stamp(v, e)
    v.add("summary", e.title)
    if e.all_day:
        start = _local(e.starts_at, e.timezone).date()
        end = _local(e.ends_at, e.timezone).date()
        v.add("dtstart", start)
        v.add("dtend", end)
    else:
        v.add("dtstart", _local(e.starts_at, e.timezone))
        v.add("dtend", _local(e.ends_at, e.timezone))
    if e.rrule:
        v.add("rrule", icalendar.vRecur.from_ical(e.rrule))
    lines = [e.description] if e.description else []
    reps = [f"{r.role}{' ' + r.name if r.name else ''} — "
            f"{r.municipality.name if r.municipality else r.organisation.name if r.organisation else ''}"
            for r in e.representatives]
    if reps:
        lines.append("Vertegenwoordiging / representatives:\n" + "\n".join(f"• {r}" for r in reps))
    lines += [f"{link.get('title')}: {link.get('url')}" for link in e.links or []]
    if lines:
        v.add("description", "\n\n".join(lines))
    place = ", ".join(p for p in (e.location_name, e.city, e.country) if p)
    if place:
        v.add("location", place)
    if e.latitude is not None and e.longitude is not None:
        v.add("geo", (e.latitude, e.longitude))
    categories = [e.kind, *(t.code for t in e.themes)]
    v.add("categories", categories)
    v.add("url", f"{base_url}/api/v1/events/{e.id}")
    v.add("status", "CONFIRMED")
    v.add("x-stadslab-kind", e.kind)
    return v


def deadline_component(c: FundingCall, base_url: str) -> icalendar.Event:
    v = icalendar.Event()
    v.add("uid", f"deadline-{c.uid}")
    _stamp(v, c)
    v.add("summary", f"Deadline: {c.title} ({c.programme.name})")
    local = _local(c.deadline_at, c.deadline_timezone)
    if c.deadline_all_day:
        v.add("dtstart", local.date())
        v.add("dtend", local.date() + timedelta(days=1))
    else:
        v.add("dtstart", local)  # no DTEND: a deadline is an instant (RFC 5545 §3.6.1)
    text = [c.description] if c.description else []
    if c.identifier:
        text.append(f"Call: {c.identifier}")
    if c.budget_eur:
        text.append(f"Budget: EUR {c.budget_eur:,.0f}")
    if c.url:
        text.append(c.url)
    if text:
        v.add("description", "\n\n".join(text))
    v.add("categories", [DEADLINE_CATEGORY, *(t.code for t in c.themes)])
    v.add("url", c.url or f"{base_url}/api/v1/funding-calls/{c.id}")
    v.add("transp", "TRANSPARENT")
    v.add("x-stadslab-type", DEADLINE_CATEGORY)
    return v


def _deadlines(session: Session, themes: list[str]) -> list[FundingCall]:
    from .models import funding_call_themes

    stmt = select(FundingCall).where(FundingCall.status != "closed")
    if themes:
        stmt = stmt.where(FundingCall.id.in_(select(funding_call_themes.c.funding_call_id).where(
            funding_call_themes.c.theme_code.in_(themes))))
    return list(session.scalars(stmt.order_by(FundingCall.deadline_at, FundingCall.id)))


def build_feed(session: Session, base_url: str, *, theme: list[str] | None = None, city: list[str] | None = None,
               deadlines: bool = True, name: str = "Stadslab") -> bytes:
    events = matching_events(session, EventFilters(theme=theme or [], city=city or []))
    calls = _deadlines(session, theme or []) if deadlines else []
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("name", name)
    cal.add("x-wr-timezone", timeutil.HOME_ZONE)
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    zones = {timeutil.HOME_ZONE} | {e.timezone for e in events if not e.all_day} | \
        {c.deadline_timezone for c in calls if not c.deadline_all_day}
    instants = [timeutil.aware_utc(e.starts_at) for e in events] + [timeutil.aware_utc(c.deadline_at) for c in calls]
    now = utcnow()
    first = (min(instants, default=now) - timedelta(days=366)).date()
    last_candidates = [now + timedelta(days=5 * 366)] + [timeutil.aware_utc(e.series_ends_at or e.ends_at)
                                                          for e in events]
    last = max(last_candidates).date() + timedelta(days=366)
    if any(e.rrule and e.series_ends_at is None for e in events):
        last = max(last, date(2038, 1, 1))
    for tzid in sorted(zones):
        cal.add_component(icalendar.Timezone.from_tzid(tzid, first_date=first, last_date=last))
    for e in events:
        cal.add_component(event_component(e, base_url))
    for c in calls:
        cal.add_component(deadline_component(c, base_url))
    return cal.to_ical()


# --- import ---------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": len(self.created), "updated": len(self.updated), "unchanged": len(self.unchanged),
                "skipped": self.skipped, "event_ids": self.created + self.updated + self.unchanged}


def _unfold(text: str) -> list[str]:
    return re.sub(r"\r?\n[ \t]", "", text).replace("\r\n", "\n").replace("\r", "\n").split("\n")


@dataclass
class _Block:
    index: int
    kind: str
    line: int
    lines: list[str]
    error: str | None = None


def split_components(text: str) -> tuple[list[_Block], list[str]]:
    """Top-level components of the first VCALENDAR, without parsing them; unterminated ones get an error."""
    lines = _unfold(text)
    blocks: list[_Block] = []
    zones: list[str] = []
    current: _Block | None = None
    depth = 0
    seen_calendar = False
    for n, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        upper = line.upper()
        if not line:
            continue
        if upper == "BEGIN:VCALENDAR" and current is None:
            seen_calendar = True
            continue
        if upper == "END:VCALENDAR" and current is None:
            break
        if upper.startswith("BEGIN:"):
            if current is None:
                current, depth = _Block(len(blocks) + 1, upper[6:], n, [line]), 1
                continue
            if upper[6:] == current.kind and current.kind == "VEVENT":
                current.error = f"BEGIN:VEVENT at line {n} before END:VEVENT of the event at line {current.line}"
                blocks.append(current)
                current, depth = _Block(len(blocks) + 1, upper[6:], n, [line]), 1
                continue
            depth += 1
        if current is not None:
            current.lines.append(line)
            if upper.startswith("END:"):
                depth -= 1
                if depth == 0:
                    if upper[4:] != current.kind:
                        current.error = f"{current.kind} at line {current.line} ends with {line[:40]!r}"
                    (zones.append("\r\n".join(current.lines)) if current.kind == "VTIMEZONE"
                     else blocks.append(current))
                    current = None
    if current is not None:
        current.error = f"{current.kind} at line {current.line} has no END"
        blocks.append(current)
    if not seen_calendar:
        raise BadRequest("Not an iCalendar file: no BEGIN:VCALENDAR",
                         errors=[{"loc": ["body"], "field": "body", "msg": "no BEGIN:VCALENDAR"}])
    return blocks, zones


def _text(component, name: str) -> str | None:
    value = component.get(name)
    return str(value).strip() if value is not None and str(value).strip() else None


def _as_datetime(value) -> tuple[datetime | date, bool]:
    dt = value.dt if hasattr(value, "dt") else value
    if isinstance(dt, datetime):
        return dt, False
    if isinstance(dt, date):
        return dt, True
    raise ValueError(f"unsupported date value {dt!r}")


def _zone_of(dt: datetime, default_zone: str) -> str:
    if dt.tzinfo is None:
        return default_zone
    key = getattr(dt.tzinfo, "key", None) or getattr(dt.tzinfo, "zone", None)
    if key and key in timeutil._zones():  # noqa: SLF001
        return key
    return "UTC" if dt.utcoffset() == timedelta(0) and not key else default_zone


def event_data(component, known_themes: set[str], default_zone: str) -> dict[str, Any]:
    """Our event input from one parsed VEVENT; ValueError with the reason when it cannot be one."""
    errors = getattr(component, "errors", None)
    if errors:
        prop, msg = errors[0]
        raise ValueError(f"{prop}: {msg}")
    title = _text(component, "summary")
    if not title:
        raise ValueError("no SUMMARY")
    if component.get("dtstart") is None:
        raise ValueError("no DTSTART")
    start, all_day = _as_datetime(component.get("dtstart"))
    if component.get("dtend") is not None:
        end, end_all_day = _as_datetime(component.get("dtend"))
        if end_all_day != all_day:
            raise ValueError("DTSTART and DTEND have different value types")
    elif component.get("duration") is not None:
        end = start + component.get("duration").dt
    else:
        end = start + timedelta(days=1) if all_day else start
    tz_name = _zone_of(start, default_zone) if not all_day else default_zone
    if all_day:
        start = datetime.combine(start, datetime.min.time())
        end = datetime.combine(end - timedelta(days=1), datetime.min.time())
    elif start.tzinfo is not None and getattr(start.tzinfo, "key", None) != tz_name:
        start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    rrule = None
    if component.get("rrule") is not None:
        rr = component.get("rrule")
        rr = rr[0] if isinstance(rr, list) else rr
        rrule = timeutil.check_rrule(rr.to_ical().decode())
    categories = []
    for cat in (component.get("categories") if isinstance(component.get("categories"), list)
                else [component.get("categories")] if component.get("categories") is not None else []):
        categories += [str(c).strip() for c in getattr(cat, "cats", [cat])]
    kind = (_text(component, "x-stadslab-kind") or "").lower()
    if kind not in EVENT_KINDS:
        kind = next((c for c in categories if c in EVENT_KINDS), "other")
    data: dict[str, Any] = {
        "kind": kind, "title": title[:300], "description": (_text(component, "description") or "")[:20000],
        "start": start, "end": end, "timezone": tz_name, "all_day": all_day, "rrule": rrule,
        "themes": sorted({c for c in categories if c in known_themes}),
        "location": {"name": (_text(component, "location") or None) and _text(component, "location")[:300]},
    }
    geo = component.get("geo")
    if geo is not None:
        lat, lon = float(geo.latitude), float(geo.longitude)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError("GEO is out of range")
        data["location"].update(latitude=lat, longitude=lon)
    url = _text(component, "url")
    if url and re.fullmatch(r"https?://\S{1,290}", url):
        data["links"] = [{"title": "Website", "url": url}]
    return data


def _fallback_uid(block: _Block) -> str:
    digest = hashlib.sha256("\n".join(block.lines).encode()).hexdigest()[:32]
    return f"import-{digest}@stadslab"


def import_ics(session: Session, payload: bytes | str, *, actor: Principal = SYSTEM,
               owner_organisation_id: int | None = None) -> ImportReport:
    """Import the VEVENTs of an .ics file; an event with a known UID is updated in place."""
    text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
    blocks, zones = split_components(text)
    report = ImportReport()
    events = [b for b in blocks if b.kind == "VEVENT"]
    for b in blocks:
        if b.kind != "VEVENT":
            report.skipped.append({"component": b.index, "line": b.line, "uid": None,
                                   "reason": f"{b.kind} is not imported"})
    if len(events) > MAX_IMPORT_EVENTS:
        raise ValidationFailed(f"The file has {len(events)} events; at most {MAX_IMPORT_EVENTS} per import")
    known_themes = set(session.scalars(select(Theme.code)))
    default_zone = timeutil.HOME_ZONE
    m = re.search(r"^X-WR-TIMEZONE:(.+)$", text, re.MULTILINE | re.IGNORECASE)
    if m and m.group(1).strip() in timeutil._zones():  # noqa: SLF001
        default_zone = m.group(1).strip()
    zone_text = "\r\n".join(zones)
    with unit_of_work(session, "The calendar file cannot be imported"):
        for b in events:
            uid = None
            try:
                if b.error:
                    raise ValueError(b.error)
                wrapped = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//import//\r\n" + zone_text +
                           ("\r\n" if zone_text else "") + "\r\n".join(b.lines) + "\r\nEND:VCALENDAR\r\n")
                component = next(iter(icalendar.Calendar.from_ical(wrapped).walk("VEVENT")))
                uid = _text(component, "uid")
                if (_text(component, "x-stadslab-type") or "").lower() == DEADLINE_CATEGORY:
                    report.skipped.append({"component": b.index, "line": b.line, "uid": uid,
                                           "reason": "a funding-call deadline, not an event"})
                    continue
                data = event_data(component, known_themes, default_zone)
                uid = (uid or _fallback_uid(b))[:255]
                sequence = int(component.get("sequence", 0) or 0)
                with session.begin_nested():
                    existing = session.scalar(select(Event).where(Event.uid == uid))
                    if existing is None:
                        data["owner_organisation_id"] = owner_organisation_id
                        e = add_event(session, data, actor=actor, uid=uid)
                        report.created.append(e.id)
                    else:
                        seq_before = existing.sequence
                        change_event(session, existing, data, actor=actor, sequence_at_least=sequence)
                        (report.updated if existing.sequence != seq_before else report.unchanged).append(existing.id)
            except (ValueError, KeyError, TypeError, StadslabError) as exc:
                reason = exc.detail if isinstance(exc, StadslabError) else str(exc) or type(exc).__name__
                report.skipped.append({"component": b.index, "line": b.line, "uid": uid, "reason": reason[:300]})
    return report
