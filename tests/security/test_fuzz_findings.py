"""Regression tests for what the role fuzzer found (one test per finding, named in docs/security.md)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import create, lab_payload, organisation_payload, project_payload, solution_payload
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user
from tests.interop.conftest import event_payload


@pytest.fixture
def admin(app, db) -> TestClient:
    """An administrator's client that shows a server error as the 500 a caller would get."""
    with db.session() as s:
        token = make_token(s, make_user(s, "admin", password=None))
    with TestClient(app, headers=auth_headers(token), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("field", ["display_name", "active", "role"])
def test_null_for_a_required_account_field_is_a_422_naming_it(admin, db, field):
    """Found by the long admin run: ``PATCH /users/{id}`` with ``{"display_name": null}`` (or
    ``"active": null``) reached the database's NOT NULL constraint while the audit event was
    being recorded, outside the unit of work: a 500."""
    with db.session() as s:
        user = make_user(s, "member", make_organisation(s), password=None, display_name="Ans")
    before = admin.get(f"/api/v1/users/{user.id}").json()
    r = admin.patch(f"/api/v1/users/{user.id}", json={field: None})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == f"body.{field}"
    assert admin.get(f"/api/v1/users/{user.id}").json() == before
    # leaving the field out still leaves it alone, and organisation_id may still be cleared
    r = admin.patch(f"/api/v1/users/{user.id}", json={"organisation_id": None})
    assert r.status_code == 200 and r.json()["display_name"] == "Ans" and r.json()["active"] is True


@pytest.mark.parametrize("field", ["organisations", "cities", "themes", "title", "lead_city", "status"])
def test_null_for_a_coalition_field_is_a_422_naming_it(admin, field):
    """Found by the long admin run: ``PATCH /coalitions/{id}`` with ``{"organisations": null}``
    (likewise ``cities``, ``themes``) iterated over None: a 500; ``{"title": null}`` hit the
    NOT NULL constraint and came back as a 409 that named nothing."""
    r = admin.post("/api/v1/coalitions", json={"title": "Coalitie slimme straten", "lead_city": "GM0363",
                                               "themes": ["mobility"]})
    assert r.status_code == 201, r.text
    url = f"/api/v1/coalitions/{r.json()['id']}"
    before = admin.get(url).json()
    r = admin.patch(url, json={field: None})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == f"body.{field}"
    assert admin.get(url).json() == before


REGISTRY_NULLS = [("living-labs", "name"), ("projects", "title"), ("projects", "status"), ("solutions", "name"),
                  ("solutions", "maturity"), ("organisations", "name"), ("organisations", "kind"),
                  ("events", "title"), ("events", "kind"), ("funding-programmes", "name")]
PAYLOADS = {"living-labs": lab_payload, "projects": project_payload, "solutions": solution_payload,
            "organisations": organisation_payload, "events": event_payload,
            "funding-programmes": lambda: {"code": "interreg-nl", "name": "Interreg"}}


@pytest.mark.parametrize("resource,field", REGISTRY_NULLS)
def test_null_for_a_required_registry_field_is_a_422_naming_it(admin, resource, field):
    """Found by the long admin run: ``PATCH`` with ``null`` for a field every record needs came
    back as a 409 "… cannot be updated" that named no field (the NOT NULL constraint). One rule
    for every registry resource (``core.crud.refuse_nulls_for_required``)."""
    url = f"/api/v1/{resource}/{create(admin, resource, PAYLOADS[resource]())['id']}"
    before = admin.get(url).json()
    r = admin.patch(url, json={field: None})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == f"body.{field}"
    assert admin.get(url).json() == before


UNKNOWN_TARGETS = [("PUT", "/api/v1/projects/987654", {"title": "x"}),
                   ("PATCH", "/api/v1/coalitions/987654", {"title": "Nieuwe titel"}),
                   ("DELETE", "/api/v1/living-labs/987654", None),
                   ("DELETE", "/api/v1/organisations/987654", None),
                   ("PATCH", "/api/v1/funding-programmes/987654", {"name": "x"}),
                   ("POST", "/api/v1/projects/987654/evaluation", None),
                   ("POST", "/api/v1/lorawan/integrations/987654/devices", {"dev_eui": "0004A30B001C0530"}),
                   ("POST", "/api/v1/lorawan/devices/987654/mappings", {"field": "t", "datastream_id": 1})]


@pytest.mark.parametrize("method,path,body", UNKNOWN_TARGETS, ids=[f"{m} {p}" for m, p, _ in UNKNOWN_TARGETS])
def test_an_anonymous_write_to_an_unknown_id_is_a_401_not_a_404(client, method, path, body):
    """Found by the anonymous fuzz run: routes that look their target up answered an anonymous
    caller 404 (or 400 for an id out of range) before asking who it was, which tells a
    stranger which ids exist. Authentication comes first (``core.auth.authenticate_writer``)."""
    r = client.request(method, path, json=body)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
