"""The loket: routing, deadlines, the validated workflow, comments, reminders, public exemptions."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from stadslab.governance import loket
from stadslab.governance.models import AuditEvent, LoketRequest
from stadslab.labs.models import LivingLab

from .factories import auth_headers, make_token, make_user

EXPERIMENT = {"type": "experiment", "topic": "mobility", "title": "Zelfrijdende shuttle op de campus",
              "description": "Ontheffing RVV voor een shuttle zonder bestuurder", "regulation": "RVV 1990 art. 5",
              "contact_name": "Ans Aanvrager", "contact_email": "ans@gemeente.example"}


@pytest.fixture
def people(session, orgs):
    own, other = orgs
    return {
        "editor": auth_headers(make_token(session, make_user(session, "editor", own))),
        "member": auth_headers(make_token(session, make_user(session, "member", own))),
        "other_editor": auth_headers(make_token(session, make_user(session, "editor", other))),
        "admin": auth_headers(make_token(session, make_user(session, "admin", None))),
    }


@pytest.mark.parametrize("type_,topic,team,consult,days", [
    ("experiment", "mobility", "ienw", [], 56),
    ("experiment", "privacy", "jenv", ["ap"], 56),
    ("experiment", "digital", "bzk", [], 56),
    ("experiment", "energy", "kgg", [], 56),
    ("experiment", "other", "bzk", [], 56),
    ("funding", "mobility", "rvo", [], 91),
    ("knowledge", "privacy", "knowledge", [], 14),
    ("cooperation", "energy", "network", [], 28),
])
def test_requests_are_routed_with_a_deadline_from_their_type(client, people, type_, topic, team, consult, days):
    r = client.post("/api/v1/loket/requests", json={**EXPERIMENT, "type": type_, "topic": topic},
                    headers=people["editor"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["routed_to"] == team and body["consult"] == consult and body["status"] == "submitted"
    submitted = datetime.fromisoformat(body["submitted_at"]).date()
    assert date.fromisoformat(body["decision_due"]) == submitted + timedelta(days=days)
    assert body["routed_to_name"].startswith(("Ministerie", "Rijksdienst", "Kennisteam", "Netwerkbureau"))


def test_full_workflow_with_invalid_transitions_refused(client, session, people, orgs):
    lab = LivingLab(name="Campus Lab", municipality_code="GM0772", owner_organisation_id=orgs[0].id)
    session.add(lab)
    session.commit()
    r = client.post("/api/v1/loket/requests", json={**EXPERIMENT, "living_lab_id": lab.id}, headers=people["editor"])
    rid = r.json()["id"]
    url = f"/api/v1/loket/requests/{rid}/transitions"
    # the city cannot review its own request; skipping review is a conflict
    assert client.post(url, json={"status": "in_review"}, headers=people["editor"]).status_code == 403
    r = client.post(url, json={"status": "decided", "decision": "granted"}, headers=people["admin"])
    assert r.status_code == 409 and "submitted" in r.json()["detail"]
    assert client.post(url, json={"status": "in_review"}, headers=people["admin"]).json()["status"] == "in_review"
    r = client.post(url, json={"status": "decided"}, headers=people["admin"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.decision"
    r = client.post(url, json={"status": "decided", "decision": "granted", "note": "Ontheffing tot 2027"},
                    headers=people["admin"])
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"body.valid_from", "body.valid_until"}
    r = client.post(url, json={"status": "decided", "decision": "granted", "note": "Ontheffing tot 2027",
                               "valid_from": "2026-01-01", "valid_until": "2025-12-31"}, headers=people["admin"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.valid_until"
    assert client.get(f"/api/v1/loket/requests/{rid}", headers=people["admin"]).json()["status"] == "in_review"
    r = client.post(url, json={"status": "decided", "decision": "granted", "note": "Ontheffing tot 2027",
                               "valid_from": "2026-01-01", "valid_until": "2099-12-31"}, headers=people["admin"])
    assert r.status_code == 200 and r.json()["decision"] == "granted" and r.json()["decided_at"]
    assert r.json()["valid_until"] == "2099-12-31" and r.json()["exemption_lab_ids"] == [lab.id]
    assert client.post(url, json={"status": "in_review"}, headers=people["admin"]).status_code == 409
    assert client.post(url, json={"status": "closed"}, headers=people["admin"]).json()["status"] == "closed"
    r = client.post(url, json={"status": "submitted"}, headers=people["admin"])
    assert r.status_code == 409 and "closed" in r.json()["detail"]
    # every step is in the audit trail, in order
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "loket_request")
                              .order_by(AuditEvent.seq)).all()
    assert actions == ["loket.submit", "loket.in_review", "loket.decided", "loket.closed"]
    # the public overview of experimenteerruimte shows it, linked to the lab, without contact data
    r = client.get("/api/v1/loket/exemptions")
    assert r.status_code == 200 and r.json()["total"] == 1
    item = r.json()["items"][0]
    assert item["living_lab_id"] == lab.id and item["living_lab_name"] == "Campus Lab"
    assert item["decision_note"] == "Ontheffing tot 2027" and "contact_email" not in item
    assert client.get("/api/v1/loket/exemptions", params={"living_lab_id": lab.id + 1}).json()["total"] == 0


def test_rejected_and_non_experiment_requests_are_not_exemptions(client, people):
    for type_, decision in (("experiment", "rejected"), ("funding", "granted")):
        rid = client.post("/api/v1/loket/requests", json={**EXPERIMENT, "type": type_},
                          headers=people["editor"]).json()["id"]
        url = f"/api/v1/loket/requests/{rid}/transitions"
        client.post(url, json={"status": "in_review"}, headers=people["admin"])
        assert client.post(url, json={"status": "decided", "decision": decision},
                           headers=people["admin"]).status_code == 200
    assert client.get("/api/v1/loket/exemptions").json()["total"] == 0


def test_withdraw_and_who_sees_what(client, people, orgs):
    rid = client.post("/api/v1/loket/requests", json=EXPERIMENT, headers=people["editor"]).json()["id"]
    assert client.post("/api/v1/loket/requests", json=EXPERIMENT, headers=people["member"]).status_code == 403
    assert client.post("/api/v1/loket/requests", json=EXPERIMENT).status_code == 401
    r = client.post("/api/v1/loket/requests", json={**EXPERIMENT, "organisation_id": orgs[1].id},
                    headers=people["editor"])
    assert r.status_code == 403
    # members of the organisation read, other organisations do not even see it exists
    assert client.get(f"/api/v1/loket/requests/{rid}", headers=people["member"]).status_code == 200
    assert client.get(f"/api/v1/loket/requests/{rid}", headers=people["other_editor"]).status_code == 404
    assert client.get("/api/v1/loket/requests", headers=people["other_editor"]).json()["total"] == 0
    assert client.get("/api/v1/loket/requests", headers=people["admin"]).json()["total"] == 1
    url = f"/api/v1/loket/requests/{rid}/transitions"
    assert client.post(url, json={"status": "closed"}, headers=people["member"]).status_code == 403
    r = client.post(url, json={"status": "closed", "note": "Niet meer nodig"}, headers=people["editor"])
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert [c["body"] for c in r.json()["comments"]] == ["Niet meer nodig"]


def test_comments_and_bad_input(client, people):
    rid = client.post("/api/v1/loket/requests", json=EXPERIMENT, headers=people["editor"]).json()["id"]
    r = client.post(f"/api/v1/loket/requests/{rid}/comments", json={"body": "Graag aanvullende stukken"},
                    headers=people["admin"])
    assert r.status_code == 201
    r = client.post(f"/api/v1/loket/requests/{rid}/comments", json={"body": "Bijgevoegd"}, headers=people["editor"])
    assert r.status_code == 201
    assert client.post(f"/api/v1/loket/requests/{rid}/comments", json={"body": "Hoi"},
                       headers=people["member"]).status_code == 403
    detail = client.get(f"/api/v1/loket/requests/{rid}", headers=people["editor"]).json()
    assert [c["body"] for c in detail["comments"]] == ["Graag aanvullende stukken", "Bijgevoegd"]
    r = client.post("/api/v1/loket/requests", json={**EXPERIMENT, "type": "wish"}, headers=people["editor"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.type"
    r = client.post("/api/v1/loket/requests", json={**EXPERIMENT, "living_lab_id": 999999}, headers=people["editor"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.living_lab_id"
    r = client.post(f"/api/v1/loket/requests/{rid}/transitions", json={"status": "bogus"}, headers=people["admin"])
    assert r.status_code == 422


def test_due_reminders_lists_overdue_once_a_week(db, session, client, people):
    ids = [client.post("/api/v1/loket/requests", json={**EXPERIMENT, "type": t}, headers=people["editor"]).json()["id"]
           for t in ("knowledge", "experiment")]
    now = datetime.now(timezone.utc)
    assert loket.due_reminders(session, now) == []
    later = now + timedelta(days=20)  # knowledge (14 days) is overdue, experiment (56) is not
    due = loket.due_reminders(session, later)
    assert [r.id for r in due] == [ids[0]]
    assert loket.due_reminders(session, later + timedelta(days=1)) == []
    assert [r.id for r in loket.due_reminders(session, later + timedelta(days=8))] == [ids[0]]
    # a decided request is no longer due
    url = f"/api/v1/loket/requests/{ids[0]}/transitions"
    client.post(url, json={"status": "in_review"}, headers=people["admin"])
    client.post(url, json={"status": "decided", "decision": "granted"}, headers=people["admin"])
    session.expire_all()
    assert loket.due_reminders(session, later + timedelta(days=30)) == []
    assert [r.id for r in loket.due_reminders(session, later + timedelta(days=60))] == [ids[1]]
    stored = session.scalars(select(LoketRequest.reminded_at).where(LoketRequest.id == ids[0])).one()
    assert stored is not None
