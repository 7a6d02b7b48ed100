"""Peer administration: admin only, audited, validated, the peer's token never leaves the node."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stadslab.app import create_app
from stadslab.core.database import utcnow
from stadslab.federation import service
from stadslab.federation.models import FederationLease, FederationPeer
from stadslab.governance.models import AuditEvent
from tests.governance.factories import auth_headers, make_token, make_user


@pytest.fixture
def api(harvest_settings, db):
    with TestClient(create_app(harvest_settings, db=db)) as c:
        yield c


@pytest.fixture
def admin(db) -> dict[str, str]:
    with db.session() as s:
        return auth_headers(make_token(s, make_user(s, "admin")))


def test_peer_crud_is_audited_and_never_returns_the_token(api, admin, session, harvest_settings):
    r = api.post("/api/v1/federation/peers", headers=admin,
                 json={"name": "Noord", "base_url": "https://noord.example.org/", "token": "stl_secret_of_noord"})
    assert r.status_code == 201, r.text
    peer = r.json()
    assert peer["has_token"] is True and peer["base_url"] == "https://noord.example.org"
    assert "stl_secret_of_noord" not in r.text and "token" not in peer
    listed = api.get("/api/v1/federation/peers", headers=admin)
    assert [p["name"] for p in listed.json()] == ["Noord"] and "stl_secret" not in listed.text
    stored = session.get(FederationPeer, peer["id"])
    assert stored.token_encrypted and "stl_secret_of_noord" not in stored.token_encrypted
    assert service.decrypt_token(harvest_settings, stored.token_encrypted) == "stl_secret_of_noord"

    r = api.patch(f"/api/v1/federation/peers/{peer['id']}", headers=admin, json={"active": False, "token": ""})
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["has_token"] is False
    assert api.get(f"/api/v1/federation/peers/{peer['id']}/health", headers=admin).json()["healthy"] is None
    assert api.delete(f"/api/v1/federation/peers/{peer['id']}", headers=admin).status_code == 204
    assert api.get(f"/api/v1/federation/peers/{peer['id']}", headers=admin).status_code == 404

    events = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "federation_peer")
                             .order_by(AuditEvent.seq)).all()
    assert [e.action for e in events] == ["federation_peer.create", "federation_peer.update",
                                          "federation_peer.delete"]
    assert all("stl_secret" not in str(e.before) + str(e.after) for e in events)


@pytest.mark.parametrize("url", ["not a url", "ftp://peer.example.org", "", "http://"])
def test_invalid_peer_url_is_422_naming_the_field(api, admin, url):
    r = api.post("/api/v1/federation/peers", headers=admin, json={"name": "Oost", "base_url": url})
    assert r.status_code == 422, r.text
    assert "base_url" in r.text


def test_duplicate_name_is_409_and_unknown_fields_422(api, admin):
    body = {"name": "Zuid", "base_url": "http://zuid.example.org"}
    assert api.post("/api/v1/federation/peers", headers=admin, json=body).status_code == 201
    assert api.post("/api/v1/federation/peers", headers=admin, json=body).status_code == 409
    r = api.post("/api/v1/federation/peers", headers=admin, json={**body, "name": "West", "colour": "red"})
    assert r.status_code == 422 and "colour" in r.text


def test_peers_are_admin_only(api, db):
    with db.session() as s:
        editor = auth_headers(make_token(s, make_user(s, "editor")))
    body = {"name": "Midden", "base_url": "http://midden.example.org"}
    assert api.post("/api/v1/federation/peers", json=body).status_code == 401
    assert api.post("/api/v1/federation/peers", headers=editor, json=body).status_code == 403
    assert api.get("/api/v1/federation/peers", headers=editor).status_code == 403
    assert api.post("/api/v1/federation/harvest", headers=editor).status_code == 403
    # peer health can name internal hosts in its last error: admins only
    assert api.get("/api/v1/federation/peers/1/health").status_code == 401
    assert api.get("/api/v1/federation/peers/1/health", headers=editor).status_code == 403
    # Network-wide views are public.
    assert api.get("/api/v1/federation/replication-graph").status_code == 200
    assert api.get("/api/v1/federation/search", params={"q": "fiets"}).status_code == 200


def test_harvest_of_unknown_peer_is_404(api, admin):
    r = api.post("/api/v1/federation/harvest", headers=admin, params={"peer": "Nergens"})
    assert r.status_code == 404 and "Nergens" in r.text


def test_one_harvester_at_a_time(session, harvest_settings):
    assert service.acquire_lease(session, "worker-1", 60)
    assert not service.acquire_lease(session, "worker-2", 60)
    assert service.acquire_lease(session, "worker-1", 60)  # the holder renews
    # Another worker's pass does nothing while the lease is held.
    assert service.harvest(session, harvest_settings) is None
    service.release_lease(session, "worker-1")
    assert service.acquire_lease(session, "worker-2", 60)
    # An expired lease (its holder died) is taken over.
    lease = session.get(FederationLease, service.LEASE_NAME)
    lease.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert service.acquire_lease(session, "worker-3", 60)
    session.expire_all()
    assert session.get(FederationLease, service.LEASE_NAME).holder == "worker-3"
