"""The international calendar in the browser: ``/agenda``.

Upcoming events (recurring series shown at their next occurrence), funding-call
deadlines, "where do we show the Netherlands" (events abroad and the Dutch
cities represented there), and subscribe links to the iCalendar feeds of the
interop capability. Everything is read through ``stadslab.interop`` services.
Times are shown in the event's own time zone (a conference in Barcelona at
09:00 Barcelona time), with the zone named when it is not Dutch time.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from stadslab.core.database import utcnow
from stadslab.core.errors import StadslabError

from .i18n import HOME_ZONE, language_of, translations
from .pages import _session
from .rendering import render
from .vocabulary import EVENT_KINDS, N_, label, theme_name

router = APIRouter(include_in_schema=False)

WINDOW_DAYS = 365
MAX_DEADLINES = 20
FEED = "/api/v1/calendar.ics"
UNKNOWN = {"theme": N_("Choose a theme from the list."), "city": N_("Choose a city from the list."),
           "kind": N_("Choose a kind of event from the list.")}


def _event_view(e, occurrence, lang: str) -> dict:
    start, end = occurrence
    reps = []
    for r in e.representatives:
        who = r.municipality.name if r.municipality else (r.organisation.name if r.organisation else None)
        reps.append({"who": who, "name": r.name, "role": r.role,
                     "url": f"/steden/{r.municipality.code}" if r.municipality else None})
    return {"id": e.id, "title": e.title, "kind": e.kind, "description": e.description or "",
            "start": start, "end": end - timedelta(days=1) if e.all_day else end, "all_day": e.all_day,
            "zone": e.timezone, "foreign_zone": e.timezone != HOME_ZONE, "recurring": bool(e.rrule),
            "location": e.location_name, "city": e.city, "country": e.country,
            "themes": [theme_name(t, lang) for t in e.themes], "links": e.links or [],
            "representatives": reps, "is_demo": e.is_demo}


def _months(events: list[dict], lang: str) -> list[dict]:
    from babel.dates import format_skeleton
    from zoneinfo import ZoneInfo

    groups: dict[str, dict] = {}
    for ev in events:
        local = ev["start"].astimezone(ZoneInfo(ev["zone"]))
        key = local.strftime("%Y-%m")
        if key not in groups:
            groups[key] = {"key": key, "title": format_skeleton("yMMMM", local, locale=lang), "events": []}
        groups[key]["events"].append(ev)
    return list(groups.values())


@router.get("/agenda", response_class=HTMLResponse)
def agenda(request: Request):
    from stadslab.interop import calendar, funding
    from stadslab.network.models import Municipality, Theme

    lang = language_of(request)
    gettext = translations(lang).gettext
    params = request.query_params
    typed = {k: (params.get(k) or "").strip()[:60] for k in ("theme", "city", "kind")}
    errors: dict[str, str] = {}
    now = utcnow()
    end = now + timedelta(days=WINDOW_DAYS)
    with _session(request) as session:
        themes = list(session.scalars(select(Theme).order_by(Theme.code)))
        if typed["theme"] and typed["theme"] not in {t.code for t in themes}:
            errors["theme"] = gettext(UNKNOWN["theme"])
        if typed["kind"] and typed["kind"] not in EVENT_KINDS:
            errors["kind"] = gettext(UNKNOWN["kind"])
        events: list[dict] = []
        if typed["city"] and session.get(Municipality, typed["city"]) is None:
            errors["city"] = gettext(UNKNOWN["city"])
        if not errors:
            f = calendar.EventFilters(theme=[typed["theme"]] if typed["theme"] else [],
                                      city=[typed["city"]] if typed["city"] else [],
                                      kind=[typed["kind"]] if typed["kind"] else [], start=now, end=end)
            try:
                for e in calendar.matching_events(session, f):
                    occurrence = calendar.occurs_in(e, now, end)
                    if occurrence is not None:
                        events.append(_event_view(e, occurrence, lang))
            except StadslabError as exc:
                for err in exc.errors:
                    name = next((p for p in err.get("loc", ()) if p in UNKNOWN), "")
                    errors[name or "theme"] = gettext(UNKNOWN.get(name, UNKNOWN["theme"]))
        events.sort(key=lambda ev: (ev["start"], ev["id"]))
        overview = calendar.overview(session, days=WINDOW_DAYS, now=now)
        calls = []
        for c in funding.open_calls(session, now):
            if typed["theme"] and typed["theme"] not in {t.code for t in c.themes}:
                continue
            calls.append({"id": c.id, "title": c.title, "programme": c.programme.name, "status": c.status,
                          "deadline": c.deadline_at, "zone": c.deadline_timezone, "all_day": c.deadline_all_day,
                          "days_left": funding.days_until(c.deadline_at, now), "url": c.url})
            if len(calls) >= MAX_DEADLINES:
                break
        city_codes = {r["code"] for r in overview["represented_cities"]} | ({typed["city"]} if typed["city"] else set())
        cities = list(session.execute(select(Municipality.code, Municipality.name)
                                      .where(Municipality.code.in_(city_codes)).order_by(Municipality.name)).all())
        theme_options = [(t.code, theme_name(t, lang)) for t in themes]
    selection = {k: v for k, v in typed.items() if v and k in ("theme", "city") and k not in errors}
    return render(request, "agenda.html", {
        "months": _months(events, lang), "count": len(events), "typed": typed, "errors": errors,
        "filtered": any(typed.values()), "calls": calls, "overview": overview,
        "theme_options": theme_options, "city_options": [(c, n) for c, n in cities],
        "kind_options": [(k, label(EVENT_KINDS, k, lang)) for k in EVENT_KINDS],
        "feed": FEED, "selection_feed": f"{FEED}?{urlencode(selection)}" if selection else None,
        "theme_feeds": [(name, f"{FEED}?{urlencode({'theme': code})}") for code, name in theme_options],
        "city_feeds": [(n, f"{FEED}?{urlencode({'city': c})}") for c, n in cities],
    }, lang=lang)
