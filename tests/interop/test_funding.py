"""Funding programmes and calls: CRUD, filters, matching with explanations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.factories import create, project_payload
from tests.interop.conftest import call_payload


def _call(client, **over) -> dict:
    r = client.post("/api/v1/funding-calls", json=call_payload(**over))
    assert r.status_code == 201, r.text
    return r.json()


def test_programme_crud_is_admin_only(admin_client, client):
    r = admin_client.post("/api/v1/funding-programmes", json={"code": "cef-digital", "name": "CEF Digital"})
    assert r.status_code == 201, r.text
    assert [p["code"] for p in client.get("/api/v1/funding-programmes").json()] == ["cef-digital"]
    assert client.post("/api/v1/funding-programmes", json={"code": "x-y", "name": "Xy programme"}).status_code == 401
    dup = admin_client.post("/api/v1/funding-programmes", json={"code": "cef-digital", "name": "Again"})
    assert dup.status_code == 409


def test_call_crud_deadlines_and_sequence(admin_client, programme):
    c = _call(admin_client)
    assert c["deadline"] == "2099-03-01T17:00:00+01:00" and not c["deadline_all_day"]
    assert c["deadline_utc"].startswith("2099-03-01T16:00:00")
    d = _call(admin_client, deadline="2099-04-01")
    assert d["deadline_all_day"] and d["deadline"] == "2099-04-01"
    r = admin_client.patch(f"/api/v1/funding-calls/{c['id']}", json={"budget_eur": 2_000_000})
    assert r.status_code == 200 and r.json()["sequence"] == 1 and r.json()["uid"] == c["uid"]
    assert admin_client.delete(f"/api/v1/funding-calls/{c['id']}").status_code == 204
    # a programme with calls cannot be deleted
    assert admin_client.delete(f"/api/v1/funding-programmes/{programme}").status_code == 409


def test_call_bad_input(admin_client, programme):
    r = admin_client.post("/api/v1/funding-calls", json=call_payload(programme="nope"))
    assert r.status_code == 422 and "programme" in r.text
    r = admin_client.post("/api/v1/funding-calls", json=call_payload(deadline_timezone="Mars/Olympus"))
    assert r.status_code == 422 and "deadline_timezone" in r.json()["errors"][0]["field"]
    r = admin_client.post("/api/v1/funding-calls", json=call_payload(themes=["nope"]))
    assert r.status_code == 422
    r = admin_client.post("/api/v1/funding-calls", json=call_payload(opens_on="2100-01-01"))
    assert r.status_code == 422 and "opens_on" in r.text
    assert admin_client.get("/api/v1/funding-calls?status=maybe").status_code == 422
    assert admin_client.get("/api/v1/funding-calls?programme=nope").status_code == 422


def test_call_list_filters(admin_client, programme):
    a = _call(admin_client, themes=["mobility"])
    b = _call(admin_client, themes=["energy-transition"], status="forthcoming", deadline="2098-01-01")
    ids = lambda q: [c["id"] for c in admin_client.get(f"/api/v1/funding-calls?{q}").json()["items"]]  # noqa: E731
    assert ids("") == [b["id"], a["id"]]  # by deadline
    assert ids("theme=mobility") == [a["id"]]
    assert ids("status=forthcoming") == [b["id"]]
    assert ids("deadline_after=2098-06-01T00:00:00") == [a["id"]]


def test_project_matches_explained(admin_client, programme):
    project = create(admin_client, "projects", project_payload(
        title="Slimme fietsenstalling met sensoren", summary="Sensoren tellen fietsers bij het station.",
        themes=["mobility", "data-ai"], status="pilot"))
    soon = (datetime.now(timezone.utc) + timedelta(days=23, hours=12)).strftime("%Y-%m-%dT%H:%M:%S")
    good = _call(admin_client, title="Fietsmobiliteit en sensordata", themes=["mobility", "data-ai"],
                 description="Steden meten fietsen met sensoren en delen de data.", deadline=soon,
                 deadline_timezone="UTC")
    text_only = _call(admin_client, title="Sensornetwerken voor fietsers", themes=["energy-transition"],
                      description="Een sensor per fietser.")
    unrelated = _call(admin_client, title="Warmtenetten in oude wijken", themes=["energy-transition"],
                      description="Aardgasvrij verwarmen met collectieve warmte.")
    _call(admin_client, title="Closed fietsen call", themes=["mobility"], status="closed")
    _call(admin_client, title="Past fietsen call", themes=["mobility"], deadline="2001-01-01")
    r = admin_client.get(f"/api/v1/projects/{project['id']}/funding-matches")
    assert r.status_code == 200, r.text
    matches = r.json()["matches"]
    ids = [m["funding_call"]["id"] for m in matches]
    assert ids[0] == good["id"] and text_only["id"] in ids and unrelated["id"] not in ids
    best = matches[0]
    assert best["shared_themes"] == ["data-ai", "mobility"]
    assert "fiets" in " ".join(best["common_terms"]) and any("sensor" in t for t in best["common_terms"])
    assert best["days_left"] == 23
    assert best["explanation"].startswith("shares themes data-ai, mobility; common terms: ")
    assert best["explanation"].endswith("deadline in 23 days")
    assert matches[ids.index(text_only["id"])]["shared_themes"] == []
    assert best["score"] > matches[ids.index(text_only["id"])]["score"]
    assert admin_client.get("/api/v1/projects/999999/funding-matches").status_code == 404


def test_call_matches_projects(admin_client, programme):
    fit = create(admin_client, "projects", project_payload(title="Deelfietsen hub", themes=["mobility"],
                                                           summary="Deelfietsen en sensoren."))
    create(admin_client, "projects", project_payload(title="Zonnepanelen op scholen", themes=["energy-transition"],
                                                     summary="Zonne-energie voor scholen.", lessons=[], kpis=[]))
    stopped = create(admin_client, "projects", project_payload(title="Deelfietsen oud", themes=["mobility"],
                                                               status="idea"))
    admin_client.patch(f"/api/v1/projects/{stopped['id']}", json={"status": "stopped"}).raise_for_status()
    call = _call(admin_client, title="Deelfietsen en sensoren", themes=["mobility"])
    matches = admin_client.get(f"/api/v1/funding-calls/{call['id']}/matches").json()["matches"]
    assert [m["project"]["id"] for m in matches] == [fit["id"]]
    assert "mobility" in matches[0]["explanation"]


def test_demo_loader_is_idempotent(db, session):
    from stadslab.interop.demo import load_interop_demo
    from stadslab.interop.models import Event, FundingCall

    first = load_interop_demo(session)
    assert first["funding calls"] >= 5 and first["events"] >= 4
    assert load_interop_demo(session) == {}
    assert all(c.is_demo and c.title.startswith("DEMO") for c in session.query(FundingCall))
    assert all(e.is_demo for e in session.query(Event))
