"""Who may write what in the registry: every resource × role × own or other organisation."""

import pytest

from tests.factories import AMSTERDAM, lab_payload, organisation_payload, project_payload, solution_payload
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user

RESOURCES = {
    "living-labs": lab_payload,
    "projects": project_payload,
    "solutions": solution_payload,
    "coalitions": lambda: {"title": f"Coalitie {id(object())}", "lead_city": AMSTERDAM},
}


@pytest.fixture
def orgs(db):
    with db.session() as s:
        own, other = make_organisation(s), make_organisation(s)
        headers = {role: auth_headers(make_token(s, make_user(s, role, own))) for role in ("member", "editor")}
        headers["other-editor"] = auth_headers(make_token(s, make_user(s, "editor", other)))
        headers["admin"] = auth_headers(make_token(s, make_user(s, "admin")))
        readonly = make_token(s, make_user(s, "editor", own), scopes=["sta:read"])
        headers["editor-readonly-token"] = auth_headers(readonly)
        return own.id, other.id, headers


@pytest.mark.parametrize("path", sorted(RESOURCES))
def test_write_matrix(client, orgs, path):
    own, other, h = orgs
    payload = RESOURCES[path]
    assert client.post(f"/api/v1/{path}", json=payload()).status_code == 401
    assert client.post(f"/api/v1/{path}", json=payload(), headers=h["member"]).status_code == 403
    assert client.post(f"/api/v1/{path}", json=payload(), headers=h["editor-readonly-token"]).status_code == 403
    r = client.post(f"/api/v1/{path}", json=payload(), headers=h["editor"])
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["owner_organisation_id"] == own  # new items belong to the creator's organisation
    url = f"/api/v1/{path}/{item['id']}"
    # another organisation's editor can neither change nor delete it, nor can anonymous callers
    assert client.patch(url, json={}, headers=h["other-editor"]).status_code == 403
    assert client.delete(url, headers=h["other-editor"]).status_code == 403
    assert client.patch(url, json={}).status_code == 401
    # an editor cannot give the item away to an organisation it does not write for
    assert client.patch(url, json={"owner_organisation_id": other}, headers=h["editor"]).status_code == 403
    assert client.get(url).json()["owner_organisation_id"] == own
    assert client.patch(url, json={}, headers=h["editor"]).status_code == 200
    # an admin may reassign; then the first editor has lost the right to change it
    assert client.patch(url, json={"owner_organisation_id": other}, headers=h["admin"]).status_code == 200
    assert client.delete(url, headers=h["editor"]).status_code == 403
    assert client.delete(url, headers=h["other-editor"]).status_code == 204


def test_editor_cannot_create_for_another_organisation(client, orgs):
    own, other, h = orgs
    r = client.post("/api/v1/projects", json=project_payload(owner_organisation_id=other), headers=h["editor"])
    assert r.status_code == 403
    assert client.get("/api/v1/projects").json()["total"] == 0


def test_organisations_admin_creates_editor_edits_own(client, orgs):
    own, other, h = orgs
    assert client.post("/api/v1/organisations", json=organisation_payload(), headers=h["editor"]).status_code == 403
    assert client.post("/api/v1/organisations", json=organisation_payload(), headers=h["admin"]).status_code == 201
    assert client.patch(f"/api/v1/organisations/{own}", json={"description": "Wij"},
                        headers=h["editor"]).status_code == 200
    assert client.patch(f"/api/v1/organisations/{other}", json={"description": "Zij"},
                        headers=h["editor"]).status_code == 403


def test_failures_give_no_hint(client, orgs):
    _, _, h = orgs
    bad = client.post("/api/v1/projects", json=project_payload(), headers={"Authorization": "Bearer stl_nonsense"})
    anon = client.post("/api/v1/projects", json=project_payload())
    assert bad.status_code == 401 and anon.status_code == 401
    assert client.get("/api/v1/projects").json()["total"] == 0


def test_writes_are_audited_with_before_and_after(client, orgs, db):
    from stadslab.governance import audit

    _, _, h = orgs
    p = client.post("/api/v1/projects", json=project_payload(), headers=h["editor"]).json()
    client.patch(f"/api/v1/projects/{p['id']}", json={"title": "Nieuwe titel"}, headers=h["editor"])
    client.delete(f"/api/v1/projects/{p['id']}", headers=h["editor"])
    with db.session() as s:
        events = [e for e in audit.iterate(s, audit.AuditFilter(entity_type="project"))]
        assert [e["action"] for e in events] == ["create", "update", "delete"]
        assert events[1]["before"]["title"] == p["title"] and events[1]["after"]["title"] == "Nieuwe titel"
        assert events[2]["after"] is None
        assert audit.verify_chain(s) == (True, None)
