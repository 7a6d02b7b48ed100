"""The loket from the desk's side: roles from organisation type, queues, steps, validity, the e-mail outbox."""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from stadslab.core.config import Settings
from stadslab.governance import loket, outbox, rights
from stadslab.governance.models import LoketRequest, OutboxMessage
from stadslab.labs.models import LivingLab
from tests.support.processes import free_port

from .factories import auth_headers, make_organisation, make_token, make_user

MOBILITY = {"type": "experiment", "topic": "mobility", "title": "Zelfrijdende shuttle op de campus",
            "regulation": "RVV 1990 art. 5"}


@pytest.fixture
def world(session, orgs):
    city, other_city = orgs
    company = make_organisation(session, "Bedrijf BV", kind="company")
    ministry = make_organisation(session, "Ministerie van IenW", kind="government")
    lab = LivingLab(name="Campus Lab", municipality_code="GM0772", owner_organisation_id=city.id)
    session.add(lab)
    session.commit()

    def headers(role, org, **kw):
        user = make_user(session, role, org, **kw)
        return auth_headers(make_token(session, user)), user

    people = {
        "city": headers("editor", city, email="redacteur@stad.example"),
        "city_member": headers("member", city),
        "other_city": headers("editor", other_city),
        "company": headers("editor", company),
        "ienw": headers("desk", ministry, desk_team="ienw", email="bureau@ienw.example"),
        "bzk": headers("desk", ministry, desk_team="bzk", email="bureau@bzk.example"),
        "admin": headers("admin", None),
    }
    return {"lab": lab, "city": city, "h": {k: v[0] for k, v in people.items()},
            "users": {k: v[1] for k, v in people.items()}}


def _submit(client, world, **over) -> int:
    r = client.post("/api/v1/loket/requests", json={**MOBILITY, "living_lab_id": world["lab"].id, **over},
                    headers=world["h"]["city"])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_only_municipal_editors_submit(client, world):
    h = world["h"]
    assert client.post("/api/v1/loket/requests", json=MOBILITY, headers=h["company"]).status_code == 403
    assert client.post("/api/v1/loket/requests", json=MOBILITY, headers=h["ienw"]).status_code == 403
    assert client.post("/api/v1/loket/requests", json=MOBILITY, headers=h["city_member"]).status_code == 403
    assert client.post("/api/v1/loket/requests", json=MOBILITY, headers=h["city"]).status_code == 201


def test_the_desk_sees_its_queue_and_acts_on_it_step_by_step(client, session, world):
    h = world["h"]
    rid = _submit(client, world)
    # the IenW desk sees the routed request in its list and queue; another desk does not
    assert [r["id"] for r in client.get("/api/v1/loket/requests", headers=h["ienw"]).json()["items"]] == [rid]
    assert client.get("/api/v1/loket/queue", headers=h["ienw"]).json()["total"] == 1
    assert client.get(f"/api/v1/loket/requests/{rid}", headers=h["ienw"]).status_code == 200
    assert client.get(f"/api/v1/loket/requests/{rid}", headers=h["bzk"]).status_code == 404
    assert client.get("/api/v1/loket/queue", params={"team": "ienw"}, headers=h["bzk"]).status_code == 403
    assert client.get("/api/v1/loket/queue", params={"team": "nope"}, headers=h["admin"]).status_code == 422
    url = f"/api/v1/loket/requests/{rid}/transitions"
    # the city cannot handle its own request; a desk of another team cannot see it
    assert client.post(url, json={"status": "in_review"}, headers=h["city"]).status_code == 403
    assert client.post(url, json={"status": "in_review"}, headers=h["bzk"]).status_code == 404
    assert client.post(url, json={"status": "in_review"}, headers=h["ienw"]).json()["status"] == "in_review"
    # asking for information needs the question
    r = client.post(url, json={"status": "needs_info"}, headers=h["ienw"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.note"
    r = client.post(url, json={"status": "needs_info", "note": "Welke route rijdt de shuttle?"}, headers=h["ienw"])
    assert r.json()["status"] == "needs_info"
    # the city's answer moves it back to review
    r = client.post(f"/api/v1/loket/requests/{rid}/comments", json={"body": "Ringweg campus"}, headers=h["city"])
    assert r.status_code == 201 and r.json()["kind"] == "answered"
    assert client.get(f"/api/v1/loket/requests/{rid}", headers=h["city"]).json()["status"] == "in_review"
    # forward to BZK and back: the other desk now holds it, IenW still sees it (forwarded from)
    r = client.post(f"/api/v1/loket/requests/{rid}/forward", json={"team": "bzk", "note": "Digitaal"},
                    headers=h["ienw"])
    assert r.status_code == 200 and r.json()["routed_to"] == "bzk" and r.json()["status"] == "submitted"
    assert client.get(f"/api/v1/loket/requests/{rid}", headers=h["ienw"]).status_code == 200
    assert client.post(url, json={"status": "in_review"}, headers=h["ienw"]).status_code == 403
    r = client.post(f"/api/v1/loket/requests/{rid}/forward", json={"team": "bzk"}, headers=h["bzk"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.team"
    r = client.post(f"/api/v1/loket/requests/{rid}/forward", json={"team": "atlantis"}, headers=h["bzk"])
    assert r.status_code == 422
    client.post(f"/api/v1/loket/requests/{rid}/forward", json={"team": "ienw"}, headers=h["bzk"])
    client.post(url, json={"status": "in_review"}, headers=h["ienw"])
    # grant with a validity period and labs; then deciding again is a conflict
    grant = {"status": "decided", "decision": "granted", "note": "Voorwaarden: max 15 km/u",
             "valid_from": "2026-01-01", "valid_until": "2099-06-30", "living_lab_ids": [world["lab"].id]}
    r = client.post(url, json=grant, headers=h["ienw"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "granted" and body["valid_until"] == "2099-06-30"
    assert body["exemption_lab_ids"] == [world["lab"].id]
    kinds = [c["kind"] for c in body["comments"]]
    assert kinds == ["in_review", "needs_info", "answered", "forwarded", "forwarded", "in_review", "decided"]
    r = client.post(url, json={**grant, "decision": "rejected", "valid_from": None, "valid_until": None,
                               "living_lab_ids": None}, headers=h["ienw"])
    assert r.status_code == 409
    # the public overview shows it as current
    current = client.get("/api/v1/loket/exemptions", params={"state": "current"}).json()
    assert [e["id"] for e in current["items"]] == [rid]
    assert current["items"][0]["living_labs"] == [{"id": world["lab"].id, "name": "Campus Lab"}]
    assert client.get("/api/v1/loket/exemptions", params={"state": "expired"}).json()["total"] == 0
    assert client.get("/api/v1/loket/exemptions", params={"state": "bogus"}).status_code == 422


def test_a_failed_grant_saves_nothing(client, session, world):
    h = world["h"]
    rid = _submit(client, world)
    url = f"/api/v1/loket/requests/{rid}/transitions"
    client.post(url, json={"status": "in_review"}, headers=h["ienw"])
    before = session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))
    r = client.post(url, json={"status": "decided", "decision": "granted", "valid_from": "2026-01-01",
                               "valid_until": "2099-01-01", "living_lab_ids": [world["lab"].id, 999999]},
                    headers=h["ienw"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.living_lab_ids"
    session.expire_all()
    stored = session.get(LoketRequest, rid)
    assert stored.status == "in_review" and stored.decision is None and stored.valid_until is None
    assert [c.kind for c in stored.comments] == ["in_review"]
    assert session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) == before


def test_expired_and_expiring_exemptions(client, session, world):
    h = world["h"]
    today = date.today()
    ids = []
    for until in (today - timedelta(days=1), today + timedelta(days=30), today + timedelta(days=400)):
        rid = _submit(client, world, title=f"Ontheffing tot {until}")
        url = f"/api/v1/loket/requests/{rid}/transitions"
        client.post(url, json={"status": "in_review"}, headers=h["ienw"])
        r = client.post(url, json={"status": "decided", "decision": "granted", "valid_from": "2020-01-01",
                                   "valid_until": until.isoformat()}, headers=h["ienw"])
        assert r.status_code == 200, r.text
        ids.append(rid)
    expired = client.get("/api/v1/loket/exemptions", params={"state": "expired"}).json()
    assert [e["id"] for e in expired["items"]] == [ids[0]] and expired["items"][0]["expired"] is True
    assert {e["id"] for e in client.get("/api/v1/loket/exemptions", params={"state": "current"}).json()["items"]} \
        == set(ids[1:])
    assert [e.request.id for e in loket.expiring(session, living_lab_ids=[world["lab"].id])] == [ids[1]]
    # the lab's editors are told once
    told = loket.notify_expiring(session)
    assert [r.id for r in told] == [ids[1]] and loket.notify_expiring(session) == []
    notices = session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.subject.contains("loopt af"))).all()
    assert notices == ["redacteur@stad.example"]


def test_rights_table_is_the_documented_one():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    for action, who in rights.table_rows():
        assert re.search(rf"\| `{re.escape(action)}` \| {re.escape(who)} \|", doc), action


def test_desk_accounts_need_a_known_team(client, world):
    h = world["h"]
    r = client.post("/api/v1/users", json={"email": "d@example.org", "role": "desk"}, headers=h["admin"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.desk_team"
    r = client.post("/api/v1/users", json={"email": "d@example.org", "role": "editor", "desk_team": "ienw"},
                    headers=h["admin"])
    assert r.status_code == 422
    r = client.post("/api/v1/users", json={"email": "d@example.org", "role": "desk", "desk_team": "ienw"},
                    headers=h["admin"])
    assert r.status_code == 201 and r.json()["desk_team"] == "ienw"


# --- the outbox -------------------------------------------------------------------------------------

class _Collect:
    def __init__(self):
        self.received: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = _Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


def test_notifications_go_out_through_the_outbox_after_commit_and_are_retried(client, session, world, smtp_server):
    port, handler = smtp_server
    rid = _submit(client, world)
    queued = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.recipient for m in queued] == ["bureau@ienw.example"] and queued[0].sent_at is None
    assert handler.received == []  # nothing is sent inside the request
    client.post(f"/api/v1/loket/requests/{rid}/transitions", json={"status": "in_review"},
                headers=world["h"]["ienw"])
    # SMTP down (nothing listens on this port): recorded and retried later with backoff
    down = Settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_from="stadslab@test.example",
                    smtp_timeout_seconds=2)
    now = datetime.now(timezone.utc)
    assert outbox.send_pending(session, down, now) == (0, 2)
    message = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    assert message.attempts == 1 and message.last_error and message.sent_at is None
    up = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="stadslab@test.example")
    assert outbox.send_pending(session, up, now) == (0, 0)  # not due yet (backoff)
    assert outbox.send_pending(session, up, now + timedelta(minutes=2)) == (2, 0)
    assert outbox.send_pending(session, up, now + timedelta(minutes=10)) == (0, 0)  # sent once
    recipients = sorted(r for _f, tos, _c in handler.received for r in tos)
    assert recipients == ["bureau@ienw.example", "redacteur@stad.example"]
    content = b"".join(c for _f, _t, c in handler.received).decode()
    assert f"Loket #{rid}" in content and "in behandeling" in content
    assert outbox.backoff(1) == timedelta(minutes=1) and outbox.backoff(30) == outbox.MAX_BACKOFF
