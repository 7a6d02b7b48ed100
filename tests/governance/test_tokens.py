"""API tokens: stored hashed, shown once, scoped, expiring, revocable; failures give no hint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from stadslab.core.auth import AUTH_FAILED, NOT_PERMITTED
from stadslab.core.database import utcnow
from stadslab.governance.models import ApiToken

from .factories import auth_headers, login, make_token, make_user


def test_token_created_once_stored_as_hash_and_listed_without_secret(secure_client, session, orgs):
    user = make_user(session, "editor", orgs[0], email="maker@example.org")
    csrf = login(secure_client, user.email)
    r = secure_client.post("/api/v1/tokens", json={"name": "gateway", "scopes": ["sta:write"]},
                           headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    secret = r.json()["token"]
    assert secret.startswith("stl_") and len(secret) >= 40 and r.json()["prefix"] == secret[:8]
    row = session.scalar(select(ApiToken))
    import hashlib

    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(row.__dict__)
    listed = secure_client.get("/api/v1/tokens").json()["items"]
    assert [t["name"] for t in listed] == ["gateway"] and "token" not in listed[0]
    me = secure_client.__class__(secure_client.app, base_url="https://testserver").get(
        "/api/v1/auth/me", headers=auth_headers(secret))
    assert me.status_code == 200 and me.json()["via"] == "token" and me.json()["scopes"] == ["sta:write"]
    session.expire_all()
    assert session.get(ApiToken, row.id).last_used_at is not None


@pytest.mark.parametrize("mutation", ["unknown", "malformed", "expired", "revoked", "disabled_owner", "basic"])
def test_bad_tokens_all_get_the_same_401(client, session, db, orgs, mutation):
    user = make_user(session, "editor", orgs[0])
    secret = make_token(session, user)
    assert client.get("/api/v1/auth/me", headers=auth_headers(secret)).status_code == 200
    headers = auth_headers(secret)
    with db.session() as s:
        token = s.scalar(select(ApiToken))
        if mutation == "unknown":
            headers = auth_headers("stl_" + "x" * 43)
        elif mutation == "malformed":
            headers = auth_headers("not-a-token")
        elif mutation == "expired":
            token.expires_at = utcnow() - timedelta(seconds=1)
        elif mutation == "revoked":
            token.revoked_at = utcnow()
        elif mutation == "disabled_owner":
            s.get(type(user), user.id).active = False
        elif mutation == "basic":
            headers = {"Authorization": "Basic dXNlcjpwYXNz"}
        s.commit()
    r = client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["detail"] == AUTH_FAILED
    assert r.headers["www-authenticate"] == 'Bearer realm="stadslab"'


def test_token_scopes_limit_what_it_can_do(client, session, orgs):
    admin = make_user(session, "admin", None)
    narrow = make_token(session, admin, scopes=["sta:read"])
    r = client.get("/api/v1/users", headers=auth_headers(narrow))
    assert r.status_code == 403 and r.json()["detail"] == NOT_PERMITTED
    full = make_token(session, admin)
    assert client.get("/api/v1/users", headers=auth_headers(full)).status_code == 200


def test_token_cannot_exceed_owner_role_and_role_changes_apply_at_once(client, session, db, orgs):
    member = make_user(session, "member", orgs[0])
    admin_token = make_token(session, make_user(session, "admin", None))
    r = client.post("/api/v1/tokens", json={"name": "too much", "scopes": ["registry:write"], "user_id": member.id},
                    headers=auth_headers(admin_token))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.scopes.0"
    editor = make_user(session, "editor", orgs[0])
    token = make_token(session, editor, scopes=["registry:write"])
    assert client.get("/api/v1/auth/me", headers=auth_headers(token)).json()["scopes"] == ["registry:write"]
    r = client.patch(f"/api/v1/users/{editor.id}", json={"role": "member"}, headers=auth_headers(admin_token))
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me", headers=auth_headers(token)).json()["scopes"] == []


def test_tokens_cannot_mint_tokens_and_revocation_is_immediate(client, session, orgs):
    editor = make_user(session, "editor", orgs[0])
    token = make_token(session, editor)
    r = client.post("/api/v1/tokens", json={"name": "child", "scopes": ["sta:read"]}, headers=auth_headers(token))
    assert r.status_code == 403
    token_id = session.scalar(select(ApiToken.id))
    r = client.delete(f"/api/v1/tokens/{token_id}", headers=auth_headers(token))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert client.get("/api/v1/auth/me", headers=auth_headers(token)).status_code == 401


def test_other_users_tokens_are_invisible_and_unrevocable(client, session, orgs):
    a = make_user(session, "editor", orgs[0])
    b = make_user(session, "editor", orgs[1])
    token_a = make_token(session, a, name="a")
    token_b = make_token(session, b, name="b")
    b_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "b"))
    assert [t["name"] for t in client.get("/api/v1/tokens", headers=auth_headers(token_a)).json()["items"]] == ["a"]
    assert client.delete(f"/api/v1/tokens/{b_id}", headers=auth_headers(token_a)).status_code == 404
    assert client.get("/api/v1/auth/me", headers=auth_headers(token_b)).status_code == 200


def test_organisation_tokens_admin_only_and_never_admin_scope(client, session, orgs):
    editor_token = make_token(session, make_user(session, "editor", orgs[0]))
    admin_token = make_token(session, make_user(session, "admin", None))
    body = {"name": "sensor gateway", "scopes": ["sta:write"], "organisation_id": orgs[0].id}
    # only sessions and admin-scoped tokens can mint; an editor's token is refused outright
    assert client.post("/api/v1/tokens", json=body, headers=auth_headers(editor_token)).status_code == 403
    r = client.post("/api/v1/tokens", json={**body, "scopes": ["admin"]}, headers=auth_headers(admin_token))
    assert r.status_code == 422
    r = client.post("/api/v1/tokens", json=body, headers=auth_headers(admin_token))
    assert r.status_code == 201
    me = client.get("/api/v1/auth/me", headers=auth_headers(r.json()["token"])).json()
    assert me["id"] is None and me["organisation_id"] == orgs[0].id and me["role"] == "editor"
    r = client.post("/api/v1/tokens", json={**body, "expires_in_days": 5000}, headers=auth_headers(admin_token))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.expires_in_days"
