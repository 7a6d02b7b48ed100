"""Events API: CRUD with authorization, time zones, recurrence, filters, overview, bad input."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.interop.conftest import event_payload


def _create(client, **over) -> dict:
    r = client.post("/api/v1/events", json=event_payload(**over))
    assert r.status_code == 201, r.text
    return r.json()


def test_create_stores_utc_and_keeps_the_venue_zone(admin_client):
    e = _create(admin_client)
    # 09:00 in Madrid in November (CET, UTC+1) is 08:00 UTC
    assert e["start_utc"].startswith("2026-11-03T08:00:00")
    assert e["start"] == "2026-11-03T09:00:00+01:00"
    assert e["timezone"] == "Europe/Madrid"
    assert e["representatives"][0]["city"]["code"] == "GM0363"
    assert e["uid"].endswith("@stadslab") and e["sequence"] == 0
    got = admin_client.get(f"/api/v1/events/{e['id']}").json()
    assert got["title"] == e["title"]


def test_anonymous_cannot_write(client):
    r = client.post("/api/v1/events", json=event_payload())
    assert r.status_code == 401


def test_all_day_event_covers_whole_local_days(admin_client):
    e = _create(admin_client, all_day=True, start="2026-11-03", end="2026-11-05")
    assert e["all_day"] and e["start"] == "2026-11-03" and e["end"] == "2026-11-05"
    # local midnight in Madrid = 23:00 UTC the day before; end = midnight after the last day
    assert e["start_utc"].startswith("2026-11-02T23:00:00")
    assert e["end_utc"].startswith("2026-11-05T23:00:00")


def test_update_increments_sequence_and_keeps_uid(admin_client):
    e = _create(admin_client)
    r = admin_client.patch(f"/api/v1/events/{e['id']}", json={"title": "Smart City Expo World Congress"})
    assert r.status_code == 200, r.text
    assert r.json()["sequence"] == 1 and r.json()["uid"] == e["uid"]
    # an identical PATCH changes nothing and does not bump the sequence
    r = admin_client.patch(f"/api/v1/events/{e['id']}", json={"title": "Smart City Expo World Congress"})
    assert r.json()["sequence"] == 1
    # moving only the end keeps the start
    r = admin_client.patch(f"/api/v1/events/{e['id']}", json={"end": "2026-11-03T20:00:00"})
    assert r.json()["start"] == e["start"] and r.json()["end"] == "2026-11-03T20:00:00+01:00"


def test_delete(admin_client):
    e = _create(admin_client)
    assert admin_client.delete(f"/api/v1/events/{e['id']}").status_code == 204
    assert admin_client.get(f"/api/v1/events/{e['id']}").status_code == 404


def _field(r) -> str:
    return " ".join(err["field"] for err in r.json().get("errors", []))


def test_invalid_rrule_is_422_naming_rrule(admin_client):
    for bad in ("FREQ=SOMETIMES", "FREQ=WEEKLY;BYDAY=XX", "FREQ=SECONDLY", "FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z"):
        r = admin_client.post("/api/v1/events", json=event_payload(rrule=bad))
        assert r.status_code == 422, (bad, r.text)
        assert "rrule" in _field(r), r.text


def test_rrule_until_must_be_utc_for_a_zoned_start(admin_client):
    r = admin_client.post("/api/v1/events", json=event_payload(rrule="FREQ=WEEKLY;UNTIL=20270101T000000"))
    assert r.status_code == 422 and "rrule" in _field(r) and "UTC" in r.text


def test_endless_or_huge_series(admin_client):
    e = _create(admin_client, rrule="FREQ=YEARLY")
    assert e["series_end_utc"] is None
    r = admin_client.post("/api/v1/events", json=event_payload(rrule="FREQ=DAILY;COUNT=5000"))
    assert r.status_code == 422 and "rrule" in _field(r)


def test_invalid_timezone_is_422_naming_timezone(admin_client):
    r = admin_client.post("/api/v1/events", json=event_payload(timezone="Europe/Atlantis"))
    assert r.status_code == 422 and "timezone" in _field(r)


def test_unknown_theme_and_city_are_422(admin_client):
    r = admin_client.post("/api/v1/events", json=event_payload(themes=["quantum-gravity"]))
    assert r.status_code == 422 and "themes" in _field(r)
    r = admin_client.post("/api/v1/events", json=event_payload(representatives=[{"role": "x", "city": "GM9999"}]))
    assert r.status_code == 422 and "representatives" in _field(r)
    assert admin_client.get("/api/v1/events?theme=nope").status_code == 422
    assert admin_client.get("/api/v1/events?city=Atlantis").status_code == 422
    assert admin_client.get("/api/v1/events?kind=party").status_code == 422


def test_end_before_start_and_representative_without_target(admin_client):
    r = admin_client.post("/api/v1/events", json=event_payload(end="2026-11-02T09:00:00"))
    assert r.status_code == 422 and "end" in _field(r)
    r = admin_client.post("/api/v1/events", json=event_payload(representatives=[{"role": "spreker"}]))
    assert r.status_code == 422


def test_list_filters(admin_client):
    a = _create(admin_client, themes=["mobility"], representatives=[{"role": "w", "city": "GM0363"}])
    b = _create(admin_client, kind="trade_mission", themes=["energy-transition"],
                representatives=[{"role": "w", "city": "GM0599"}], start="2027-02-01T09:00", end="2027-02-01T10:00")
    ids = lambda q: [e["id"] for e in admin_client.get(f"/api/v1/events?{q}").json()["items"]]  # noqa: E731
    assert ids("theme=mobility") == [a["id"]]
    assert ids("city=Rotterdam") == [b["id"]] and ids("city=GM0363") == [a["id"]]
    assert ids("kind=trade_mission") == [b["id"]]
    assert ids("from=2027-01-01T00:00:00") == [b["id"]]
    assert ids("to=2027-01-01T00:00:00") == [a["id"]]
    r = admin_client.get("/api/v1/events?from=2027-01-01T00:00:00&to=2026-01-01T00:00:00")
    assert r.status_code == 400 and "to" in _field(r)


def test_window_filter_expands_recurrence(admin_client):
    # monthly on the first Tuesday, 2026-01-06 .. 12 times: an occurrence in June, none on a quiet week
    e = _create(admin_client, start="2026-01-06T10:00", end="2026-01-06T12:00", timezone="Europe/Amsterdam",
                rrule="FREQ=MONTHLY;BYDAY=1TU;COUNT=12")
    ids = lambda q: [x["id"] for x in admin_client.get(f"/api/v1/events?{q}").json()["items"]]  # noqa: E731
    assert ids("from=2026-06-01T00:00:00&to=2026-06-08T00:00:00") == [e["id"]]  # 2 June 2026 is a Tuesday
    assert ids("from=2026-06-08T00:00:00&to=2026-06-30T00:00:00") == []
    assert ids("from=2027-01-10T00:00:00") == []  # the series ended in December 2026


def test_overview_groups_by_country_and_city(admin_client):
    soon = datetime.now(timezone.utc) + timedelta(days=20)
    start = soon.strftime("%Y-%m-%dT09:00:00")
    end = soon.strftime("%Y-%m-%dT17:00:00")
    _create(admin_client, start=start, end=end, representatives=[
        {"role": "wethouder", "city": "GM0363"}, {"role": "directeur", "city": "GM0772"}])
    _create(admin_client, start=start, end=end, location={"city": "Kopenhagen", "country": "DK"},
            representatives=[{"role": "wethouder", "city": "GM0344"}])
    _create(admin_client, start="2001-01-01T09:00", end="2001-01-01T10:00")  # past: not in the overview
    body = admin_client.get("/api/v1/events/overview").json()
    assert body["event_count"] == 2
    countries = {c["country"]: c for c in body["countries"]}
    assert set(countries) == {"ES", "DK"}
    es_city = countries["ES"]["cities"][0]
    assert es_city["city"] == "Barcelona"
    assert {c["code"] for c in es_city["events"][0]["represented_cities"]} == {"GM0363", "GM0772"}
    assert {r["code"] for r in body["represented_cities"]} == {"GM0363", "GM0772", "GM0344"}


def test_events_audited(admin_client, db):
    from sqlalchemy import select

    from stadslab.governance.models import AuditEvent

    e = _create(admin_client, representatives=[{"name": "Jan Jansen", "role": "wethouder", "city": "GM0363"}])
    with db.session() as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.entity_type == "event")))
    assert [r.action for r in rows] == ["create"] and rows[0].entity_id == str(e["id"])
    assert "Jan Jansen" not in str(rows[0].after)  # personal data withheld
