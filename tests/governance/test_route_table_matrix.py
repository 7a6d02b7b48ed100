"""The authorization matrix covers the whole route table; callers are authenticated before validated.

Issue #13, items 6 and 7. The specs live in ``authz_routes.py``; the matrix itself runs in
``test_authz_matrix.py``.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from stadslab.app import create_app
from stadslab.core.auth import SYSTEM
from stadslab.core.config import Settings

from .authz_matrix import expected
from .authz_routes import all_specs, route_of, route_table, sample_path, uncovered
from .factories import auth_headers, make_token, make_user

#: Bodies no endpoint accepts: not JSON at all, and JSON of the wrong shape.
INVALID_BODIES = (b"{", b'{"onbekend": [1, 2]}', b"[]")

#: Routes whose rule for members depends on the path or the credential type, so a member's
#: invalid request is validated (422) before the rule can be applied.
MEMBER_RULE_NOT_UP_FRONT = {
    ("PUT", "/api/v1/users/{user_id}/password"): "a person sets their own password through a web session",
    ("POST", "/api/v1/tokens"): "a person mints their own tokens through a web session",
}


@pytest.fixture(scope="module")
def routes():
    """The route table and the specs that cover each route (no database needed)."""
    app = create_app(Settings(database_url="sqlite://"))
    table = route_table(app)
    specs = defaultdict(list)
    for spec in all_specs():
        specs[route_of(table, spec.method, sample_path(spec.path))].append(spec)
    return app, table, specs


def test_every_state_changing_route_has_an_authorization_spec(routes):
    app, table, _ = routes
    missing = uncovered(app, all_specs())
    assert not missing, "routes without an authorization spec in tests/governance/authz_routes.py:\n" + \
        "\n".join(missing)
    assert len(table) >= 70  # REST, SensorThings, LoRaWAN, federation and web forms are all enumerated
    # and the check can fail: leave out the web form specs and their routes are reported
    without_web = [s for s in all_specs() if not s.web]
    assert "POST /projecten/{project_id}/bewerken" in uncovered(app, without_web)


def test_mounted_sub_applications_are_part_of_the_route_table():
    from fastapi import FastAPI

    sub = FastAPI()
    sub.post("/hooks/{hook_id}")(lambda hook_id: None)
    outer = FastAPI()
    outer.mount("/extern", sub)
    assert [(m, t) for m, t, _ in route_table(outer)] == [("POST", "/extern/hooks/{hook_id}")]
    assert uncovered(outer, []) == ["POST /extern/hooks/{hook_id}"]


def test_every_registry_resource_has_put_patch_delete_specs(routes):
    _, table, specs = routes
    for method, template, _ in table:
        if template.startswith("/api/v1/") and template.endswith("/{item_id}"):
            assert specs[(method, template)], f"{method} {template} has no spec"
    names = {s.name for s in all_specs()}
    for resource in ("adoptions", "events", "funding-calls", "funding-programmes", "organisations"):
        assert {f"{resource} create", f"{resource} replace", f"{resource} change",
                f"{resource} delete"} <= names


def _guarded(specs) -> bool:
    """A route that anonymous callers may not use (no public or shared-secret spec)."""
    return not any(s.policy in ("public", "webhook_secret") for s in specs)


def _invalid_path(template: str) -> str:
    """The route's path with ids that are not even numbers (a validation error of their own)."""
    return re.sub(r"\{[^}:]+\}", "x", template.replace("{path:path}", "Things(x)"))


def _send_invalid(client, method: str, path: str, headers: dict) -> list:
    return [client.request(method, path, content=body, headers={"content-type": "application/json", **headers})
            for body in INVALID_BODIES]


def test_anonymous_and_bad_credentials_get_401_before_any_validation(client, session, routes):
    """An invalid request to a guarded route says 401, never which fields the route expects."""
    from stadslab.governance import service
    from stadslab.governance.models import ApiToken

    _, table, specs = routes
    user = make_user(session, "editor", None, password=None)
    revoked = make_token(session, user)
    service.revoke_token(session, SYSTEM, session.query(ApiToken.id).filter(ApiToken.user_id == user.id).scalar())
    credentials = {"anonymous": {}, "unknown token": {"Authorization": "Bearer stl_nonsense"},
                   "revoked token": auth_headers(revoked)}
    failures = []
    for method, template, _ in table:
        if not _guarded(specs[(method, template)]):
            continue
        for who, headers in credentials.items():
            for r in _send_invalid(client, method, _invalid_path(template), headers):
                body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
                if r.status_code != 401 or "errors" in body or "www-authenticate" not in r.headers:
                    failures.append(f"{method} {template} as {who}: {r.status_code} {r.text[:160]}")
    assert not failures, "\n".join(failures)


def test_anonymous_writes_setting_lets_validation_speak(db):
    """Development setting ``anonymous_writes``: anonymous callers may write, so they get the 422."""
    from fastapi.testclient import TestClient

    with TestClient(create_app(Settings(database_url=db.url, anonymous_writes=True), db=db)) as c:
        r = c.post("/api/v1/projects", json={"title": 1})
        assert r.status_code == 422 and r.json()["errors"]


def test_public_routes_still_describe_invalid_requests(client):
    r = client.post("/api/v1/auth/login", json={"email": "iemand@example.org"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.password"


def test_members_learn_403_not_the_schema_where_the_rule_is_known_up_front(client, session, orgs, routes):
    """Admin-only and scope-bound routes refuse a member's invalid request with 403."""
    _, table, specs = routes
    member = auth_headers(make_token(session, make_user(session, "member", orgs[0], password=None)))
    failures, checked = [], 0
    for method, template, _ in table:
        route_specs = specs[(method, template)]
        if (method, template) in MEMBER_RULE_NOT_UP_FRONT or not _guarded(route_specs) or \
                any(s.web for s in route_specs):
            continue
        if any(expected(s, "member", owner) != 403 for s in route_specs for owner in ("own", "other")):
            continue  # the member's answer depends on the item (404 for hidden ones)
        checked += 1
        for r in _send_invalid(client, method, _invalid_path(template), member):
            if r.status_code != 403 or "errors" in r.json():
                failures.append(f"{method} {template}: {r.status_code} {r.text[:160]}")
    assert not failures, "\n".join(failures)
    assert checked >= 40


def test_editors_get_the_validation_details_they_need(client, session, orgs):
    """Once the up-front rule is met, the 422 describes the problem as before."""
    editor = auth_headers(make_token(session, make_user(session, "editor", orgs[0], password=None)))
    r = client.post("/api/v1/projects", json={"title": 1}, headers=editor)
    assert r.status_code == 422 and r.json()["errors"]
    r = client.post("/api/v1/projects", content=b"{", headers={"content-type": "application/json", **editor})
    assert r.status_code == 422 and "Malformed JSON" in r.json()["detail"]


def test_only_admins_delete_organisations(client, session, orgs):
    """Deleting an organisation removes it with its accounts: not even its own editors may do that."""
    own, other = orgs
    editor = auth_headers(make_token(session, make_user(session, "editor", own, password=None)))
    admin = auth_headers(make_token(session, make_user(session, "admin", None, password=None)))
    assert client.delete(f"/api/v1/organisations/{own.id}", headers=editor).status_code == 403
    assert client.get(f"/api/v1/organisations/{own.id}").status_code == 200
    assert client.patch(f"/api/v1/organisations/{own.id}", json={"description": "Wij"},
                        headers=editor).status_code == 200  # editing stays theirs
    assert client.delete(f"/api/v1/organisations/{other.id}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/organisations/{other.id}").status_code == 404
