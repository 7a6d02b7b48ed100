"""Privacy: retention of personal sensor data, art. 15 export, art. 17 erasure."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from stadslab.governance import audit, privacy
from stadslab.governance.models import ApiToken, AuditActor, AuditEvent, LoketComment, LoketRequest, User
from stadslab.sensorthings.model.tables import (Datastream, FeatureOfInterest, MultiDatastream, Observation,
                                          ObservedProperty, Sensor, Thing)

from .factories import auth_headers, login, make_token, make_user

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text,days", [("30 dagen", 30), ("4 weeks", 28), ("P30D", 30), ("PT24H", 1),
                                       ("maximaal 1 jaar", 365), ("6 maanden na meting", 180), ("72 uur", 3)])
def test_retention_periods_are_read_from_register_text(text, days):
    assert privacy.parse_retention(text) == timedelta(days=days)


@pytest.mark.parametrize("text", [None, "", "zo kort mogelijk", "30 dagen of 2 weken", "P"])
def test_unclear_retention_is_not_guessed(text):
    assert privacy.parse_retention(text) is None


def _thing(session, name, personal, retention, *, multi=False):
    thing = Thing(name=name, description="", processes_personal_data=personal,
                  register={"retention": retention} if retention else None)
    sensor = Sensor(name="wifi-teller", description="", encoding_type="text/plain", metadata_="-")
    prop = ObservedProperty(name="aantal apparaten", definition="urn:count", description="")
    foi = FeatureOfInterest(name="plein", description="", encoding_type="application/geo+json",
                            feature={"type": "Point", "coordinates": [5.1, 52.1]})
    session.add_all([thing, sensor, prop, foi])
    session.flush()
    ds = Datastream(name=f"{name} ds", description="", observation_type="om:Count", unit_of_measurement={},
                    thing_id=thing.id, sensor_id=sensor.id, observed_property_id=prop.id)
    session.add(ds)
    md = None
    if multi:
        md = MultiDatastream(name=f"{name} md", description="", observation_type="om:Complex",
                             multi_observation_data_types=["om:Count"], unit_of_measurements=[{}],
                             thing_id=thing.id, sensor_id=sensor.id)
        session.add(md)
    session.flush()
    for age_days in (1, 10, 40, 400):
        t = NOW - timedelta(days=age_days)
        session.add(Observation(datastream_id=ds.id, feature_of_interest_id=foi.id, phenomenon_time_start=t,
                                result=age_days, result_number=age_days))
        if md is not None:
            session.add(Observation(multi_datastream_id=md.id, feature_of_interest_id=foi.id,
                                    phenomenon_time_start=t, result=[age_days]))
    session.commit()
    return thing


def _ages(session, thing):
    rows = session.execute(select(Observation.result_number, Observation.result)
                           .outerjoin(Datastream, Datastream.id == Observation.datastream_id)
                           .outerjoin(MultiDatastream, MultiDatastream.id == Observation.multi_datastream_id)
                           .where((Datastream.thing_id == thing.id) | (MultiDatastream.thing_id == thing.id))).all()
    return sorted(int(n) if n is not None else r[0] for n, r in rows)


def test_retention_deletes_only_old_observations_of_personal_data_things(session, caplog):
    personal = _thing(session, "wifi", True, "30 dagen", multi=True)
    open_data = _thing(session, "luchtkwaliteit", False, "30 dagen")
    unclear = _thing(session, "camera", True, "zo kort mogelijk")
    with caplog.at_level(logging.INFO, logger="stadslab.privacy"):
        dry = privacy.enforce_retention(session, NOW, dry_run=True)
        assert dry.observations_deleted == 4 and _ages(session, personal) == [1, 1, 10, 10, 40, 40, 400, 400]
        report = privacy.enforce_retention(session, NOW)
    assert report.observations_deleted == 4 and report.deleted_per_thing == {personal.id: 4}
    assert report.unreadable_retention == [unclear.id] and report.things_checked == 2
    session.expire_all()
    assert _ages(session, personal) == [1, 1, 10, 10]
    assert _ages(session, open_data) == [1, 10, 40, 400]
    assert _ages(session, unclear) == [1, 10, 40, 400]
    assert "4 observation(s) deleted" in caplog.text and "wifi" not in caplog.text
    assert privacy.enforce_retention(session, NOW).observations_deleted == 0
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.retention"))
    assert event.entity_id == str(personal.id) and event.after["observations_deleted"] == 4


@pytest.fixture
def person(session, client, orgs):
    """A person with an account, a token, a session, a loket request with a comment, and audit events."""
    user = make_user(session, "editor", orgs[0], email="piet@gemeente.example", display_name="Piet Persoon")
    token = make_token(session, user)
    r = client.post("/api/v1/loket/requests", headers=auth_headers(token),
                    json={"type": "knowledge", "title": "Hoe tellen we fietsers?", "contact_name": "Piet Persoon",
                          "contact_email": "piet@gemeente.example"})
    assert r.status_code == 201
    client.post(f"/api/v1/loket/requests/{r.json()['id']}/comments", json={"body": "Aanvulling"},
                headers=auth_headers(token))
    return user, token, r.json()["id"]


def test_export_contains_everything_about_the_person(client, session, person, orgs):
    user, token, request_id = person
    admin = auth_headers(make_token(session, make_user(session, "admin", orgs[0])))
    r = client.get(f"/api/v1/privacy/users/{user.id}/export", headers=admin)
    assert r.status_code == 200
    data = r.json()
    assert data["account"]["email"] == "piet@gemeente.example"
    assert [t["name"] for t in data["api_tokens"]] == ["test"] and "token_hash" not in data["api_tokens"][0]
    assert [x["id"] for x in data["loket_requests"]] == [request_id]
    assert [c["body"] for c in data["loket_comments"]] == ["Aanvulling"]
    assert {e["action"] for e in data["audit_events"]} >= {"loket.submit", "loket.comment"}
    # the person can ask for their own data too
    me = client.get("/api/v1/auth/me/export", headers=auth_headers(token))
    assert me.status_code == 200 and me.json()["account"]["id"] == user.id
    # admins of another organisation cannot
    other_admin = auth_headers(make_token(session, make_user(session, "admin", orgs[1])))
    assert client.get(f"/api/v1/privacy/users/{user.id}/export", headers=other_admin).status_code == 403
    editor = auth_headers(make_token(session, make_user(session, "editor", orgs[0])))
    assert client.get(f"/api/v1/privacy/users/{user.id}/export", headers=editor).status_code == 403


def test_erasure_removes_the_person_and_keeps_the_chain_verifiable(client, session, person, orgs):
    user, token, request_id = person
    user_id = user.id
    pseudonym = audit.pseudonym_for(session, user_id, create=False)
    their_events = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.actor_ref == pseudonym))
    assert their_events == 2  # loket.submit and loket.comment
    admin = auth_headers(make_token(session, make_user(session, "admin", None)))
    r = client.post(f"/api/v1/privacy/users/{user_id}/erase", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["loket_requests_unlinked"] == 1 and r.json()["api_tokens_deleted"] == 1
    session.expire_all()
    assert session.get(User, user_id) is None
    assert session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user_id)) == 0
    assert session.scalar(select(AuditActor).where(AuditActor.pseudonym == pseudonym)) is None
    req = session.get(LoketRequest, request_id)
    assert req.submitted_by_user_id is None and req.contact_email is None and req.contact_name is None
    assert req.title == "Hoe tellen we fietsers?"
    assert session.scalar(select(LoketComment.author_user_id).where(LoketComment.request_id == request_id)) is None
    # the trail still holds the events (pseudonymous, unlinkable) and still verifies
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.actor_ref == pseudonym)) == their_events
    assert audit.verify_chain(session) == (True, None)
    dump = " ".join(repr(e.after) + repr(e.before) for e in session.scalars(select(AuditEvent)))
    assert "piet@gemeente.example" not in dump and "Piet Persoon" not in dump
    assert client.get("/api/v1/auth/me", headers=auth_headers(token)).status_code == 401
    assert client.get(f"/api/v1/privacy/users/{user_id}/export", headers=admin).status_code == 404


def test_erasure_is_admin_only_and_not_of_oneself(client, session, person, orgs):
    user, token, _ = person
    assert client.post(f"/api/v1/privacy/users/{user.id}/erase", headers=auth_headers(token)).status_code == 403
    assert client.post(f"/api/v1/privacy/users/{user.id}/erase").status_code == 401
    admin_user = make_user(session, "admin", orgs[0])
    admin = auth_headers(make_token(session, admin_user))
    assert client.post(f"/api/v1/privacy/users/{admin_user.id}/erase", headers=admin).status_code == 403
    session.expire_all()
    assert session.get(User, user.id) is not None


def test_retention_endpoint_applies_the_platform_period_too(db):
    """`POST /api/v1/privacy/retention` does what `stadslab privacy enforce-retention` does."""
    from fastapi.testclient import TestClient

    from stadslab.app import create_app
    from stadslab.core.config import Settings
    from stadslab.sensorthings.storage import partitions as P
    from tests.sensorthings.helpers import STA, new_thing

    app = create_app(Settings(database_url=db.url, observation_retention_days=30), db=db)
    with db.session() as s:
        admin = auth_headers(make_token(s, make_user(s, "admin")))
        editor = auth_headers(make_token(s, make_user(s, "editor")))
    with TestClient(app, headers=admin) as client:
        ds = new_thing(client, n_obs=0)["datastream"]
        now = datetime.now(timezone.utc)
        for days, result in ((400, 1), (45, 2), (1, 3)):
            stamp = (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
            r = client.post(f"{STA}/Datastreams({ds})/Observations", json={"phenomenonTime": stamp, "result": result})
            assert r.status_code == 201, r.text
        assert client.post("/api/v1/privacy/retention", headers=editor).status_code == 403
        dry = client.post("/api/v1/privacy/retention", params={"dry_run": "true"}).json()
        assert dry["platform"]["observations_removed"] == 2
        assert client.get(f"{STA}/Datastreams({ds})/Observations", params={"$count": "true"}).json()["@iot.count"] == 3
        done = client.post("/api/v1/privacy/retention").json()
        assert done["platform"]["observations_removed"] == 2 and done["platform"]["cutoff"]
        kept = client.get(f"{STA}/Datastreams({ds})/Observations").json()["value"]
        assert [o["result"] for o in kept] == [3]
    if db.dialect == "postgresql":  # months of the window may have been dropped: back for the next tests
        with db.engine.begin() as conn:
            P.ensure_partitions(conn)
