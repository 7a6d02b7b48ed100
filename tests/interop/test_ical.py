"""RFC 5545 feeds parsed back with icalendar, recurrence across DST, and tolerant .ics import."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from tests.interop.conftest import call_payload, event_payload


def _feed(client, query: str = "") -> icalendar.Calendar:
    r = client.get(f"/api/v1/calendar.ics{query}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(r.content)


def _events(cal) -> dict[str, icalendar.Event]:
    return {str(e["summary"]): e for e in cal.walk("VEVENT")}


def test_feed_round_trip_with_timezones(admin_client):
    admin_client.post("/api/v1/events", json=event_payload(title="Expo Barcelona")).raise_for_status()
    cal = _feed(admin_client)
    assert str(cal["version"]) == "2.0" and "Stadslab" in str(cal["prodid"])
    zones = {str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")}
    assert {"Europe/Amsterdam", "Europe/Madrid"} <= zones
    ev = _events(cal)["Expo Barcelona"]
    start = ev.decoded("dtstart")
    assert start.tzinfo is not None and str(ev["dtstart"].params["TZID"]) == "Europe/Madrid"
    assert start.astimezone(timezone.utc) == datetime(2026, 11, 3, 8, 0, tzinfo=timezone.utc)
    assert ev.decoded("dtstamp").tzinfo is not None and int(ev["sequence"]) == 0
    assert "mobility" in [str(c) for c in ev["categories"].cats]
    assert ev["geo"].latitude == pytest.approx(41.35)


def test_uid_stable_and_sequence_grows(admin_client):
    e = admin_client.post("/api/v1/events", json=event_payload(title="Info day")).json()
    uid = str(_events(_feed(admin_client))["Info day"]["uid"])
    admin_client.patch(f"/api/v1/events/{e['id']}", json={"title": "Info day (moved)",
                                                          "start": "2026-11-03T10:00"}).raise_for_status()
    ev = _events(_feed(admin_client))["Info day (moved)"]
    assert str(ev["uid"]) == uid == e["uid"]
    assert int(ev["sequence"]) == 1


def test_weekly_recurrence_keeps_local_time_across_dst(admin_client):
    admin_client.post("/api/v1/events", json=event_payload(
        title="Weekly standup", start="2026-03-19T09:00", end="2026-03-19T09:30", timezone="Europe/Amsterdam",
        rrule="FREQ=WEEKLY;COUNT=4", location={"country": "NL"})).raise_for_status()
    cal = _feed(admin_client)
    assert "FREQ=WEEKLY" in _events(cal)["Weekly standup"]["rrule"].to_ical().decode()
    occ = [e for e in recurring_ical_events.of(cal).between(date(2026, 3, 1), date(2026, 5, 1))
           if str(e["summary"]) == "Weekly standup"]
    starts = [e.decoded("dtstart") for e in occ]
    assert len(starts) == 4
    # Summer time starts on 29 March 2026: 09:00 local stays 09:00, UTC moves from 08:00 to 07:00
    assert [s.astimezone(ZoneInfo("Europe/Amsterdam")).hour for s in starts] == [9, 9, 9, 9]
    assert [s.astimezone(timezone.utc).hour for s in starts] == [8, 8, 7, 7]


def test_all_day_event_and_deadlines_in_feed(admin_client, programme):
    admin_client.post("/api/v1/events", json=event_payload(title="Congress", all_day=True, start="2026-11-03",
                                                           end="2026-11-05")).raise_for_status()
    admin_client.post("/api/v1/funding-calls", json=call_payload(title="Timed call")).raise_for_status()
    admin_client.post("/api/v1/funding-calls", json=call_payload(title="Day call", deadline="2099-04-01")
                      ).raise_for_status()
    admin_client.post("/api/v1/funding-calls", json=call_payload(title="Old call", status="closed")
                      ).raise_for_status()
    evs = _events(_feed(admin_client))
    congress = evs["Congress"]
    assert congress.decoded("dtstart") == date(2026, 11, 3) and congress.decoded("dtend") == date(2026, 11, 6)
    timed = evs["Deadline: Timed call (Horizon Europe)"]
    assert timed.decoded("dtstart") == datetime(2099, 3, 1, 17, 0, tzinfo=ZoneInfo("Europe/Brussels"))
    assert str(timed["x-stadslab-type"]) == "funding-deadline"
    day = evs["Deadline: Day call (Horizon Europe)"]
    assert day.decoded("dtstart") == date(2099, 4, 1)
    assert "Deadline: Old call (Horizon Europe)" not in evs
    assert "Deadline: Timed call (Horizon Europe)" not in _events(_feed(admin_client, "?deadlines=false"))


def test_theme_and_city_feeds(admin_client):
    admin_client.post("/api/v1/events", json=event_payload(title="Mobility A", themes=["mobility"])).raise_for_status()
    admin_client.post("/api/v1/events", json=event_payload(
        title="Energy R", themes=["energy-transition"], representatives=[{"role": "w", "city": "GM0599"}])
    ).raise_for_status()
    assert set(_events(_feed(admin_client, "?theme=mobility"))) == {"Mobility A"}
    assert set(_events(_feed(admin_client, "?city=GM0599"))) == {"Energy R"}
    assert set(_events(_feed(admin_client))) == {"Mobility A", "Energy R"}
    assert admin_client.get("/api/v1/calendar.ics?theme=nope").status_code == 422
    assert admin_client.get("/api/v1/calendar.ics?city=Atlantis").status_code == 422


ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Test//EN\r
X-WR-TIMEZONE:Europe/Amsterdam\r
BEGIN:VEVENT\r
UID:good-1@example.org\r
DTSTAMP:20260101T000000Z\r
SUMMARY:Good event\r
DTSTART;TZID=Europe/Lisbon:20261110T090000\r
DTEND;TZID=Europe/Lisbon:20261110T170000\r
CATEGORIES:conference,mobility,unknown-cat\r
LOCATION:Web Summit\\, Lisbon\r
GEO:38.77;-9.09\r
RRULE:FREQ=YEARLY;COUNT=2\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:bad-date@example.org\r
SUMMARY:Broken date\r
DTSTART:2026-13-45\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:no-summary@example.org\r
DTSTART;VALUE=DATE:20261201\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:allday@example.org\r
SUMMARY:All day\r
DTSTART;VALUE=DATE:20261201\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:unterminated@example.org\r
SUMMARY:Never ends\r
DTSTART:20261201T100000Z\r
BEGIN:VEVENT\r
UID:last@example.org\r
SUMMARY:Last one\r
DTSTART:20261202T100000Z\r
DTEND:20261202T110000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_import_reports_and_skips_malformed_components(db, session):
    from stadslab.interop import ical
    from stadslab.interop.models import Event

    report = ical.import_ics(session, ICS.encode())
    assert len(report.created) == 3
    reasons = {s["uid"] or s["line"]: s["reason"] for s in report.skipped}
    assert len(report.skipped) == 3, report.skipped
    assert "bad-date@example.org" in reasons and "no-summary@example.org" in reasons
    assert any("END" in r for r in reasons.values())  # the unterminated one
    events = {e.title: e for e in session.query(Event)}
    assert set(events) == {"Good event", "All day", "Last one"}
    good = events["Good event"]
    assert good.timezone == "Europe/Lisbon" and good.rrule == "FREQ=YEARLY;COUNT=2"
    assert [t.code for t in good.themes] == ["mobility"] and good.kind == "conference"
    assert good.latitude == pytest.approx(38.77)
    assert events["All day"].all_day
    # importing again updates nothing and creates nothing (UIDs are kept)
    again = ical.import_ics(session, ICS.encode())
    assert again.created == [] and len(again.unchanged) == 3
    assert session.query(Event).count() == 3
    # a newer version of one event (higher SEQUENCE, new title) updates it in place
    newer = ICS.replace("SUMMARY:Last one", "SUMMARY:Last one, moved\r\nSEQUENCE:4")
    third = ical.import_ics(session, newer.encode())
    assert len(third.updated) == 1
    moved = session.query(Event).filter_by(uid="last@example.org").one()
    assert moved.title == "Last one, moved" and moved.sequence == 4


def test_import_not_a_calendar_is_400(admin_client):
    r = admin_client.post("/api/v1/events/import", content=b"hello", headers={"content-type": "text/calendar"})
    assert r.status_code == 400


def test_import_api_and_cli(admin_client, client, settings, tmp_path, monkeypatch):
    r = admin_client.post("/api/v1/events/import", content=ICS.encode(), headers={"content-type": "text/calendar"})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 3 and len(r.json()["skipped"]) == 3
    assert client.post("/api/v1/events/import", content=ICS.encode(),
                       headers={"content-type": "text/calendar"}).status_code == 401

    from typer.testing import CliRunner

    from stadslab.cli import app
    from stadslab.core.config import get_settings

    path = tmp_path / "agenda.ics"
    path.write_text(ICS.replace("good-1@", "good-2@").replace("allday@", "allday-2@").replace("last@", "last-2@"))
    monkeypatch.setenv("STADSLAB_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["calendar", "import", str(path)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "created 3" in result.output and "skipped 3" in result.output
    assert admin_client.get("/api/v1/events").json()["total"] == 6
