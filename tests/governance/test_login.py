"""Password login, lockout, rate limits, sessions and cookies."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from stadslab.core.auth import AUTH_FAILED
from stadslab.core.credentials import CSRF_COOKIE, SESSION_COOKIE
from stadslab.core.database import utcnow
from stadslab.governance.models import User, UserSession
from stadslab.governance.passwords import verify_password

from .factories import DEFAULT_PASSWORD, login, make_user


def test_password_stored_as_argon2id_and_login_sets_hardened_cookies(secure_client, session, orgs):
    user = make_user(session, "editor", orgs[0], email="Editor@Example.org")
    assert user.email == "editor@example.org"
    assert user.password_hash.startswith("$argon2id$")
    assert DEFAULT_PASSWORD not in user.password_hash
    r = secure_client.post("/api/v1/auth/login", json={"email": "EDITOR@example.org", "password": DEFAULT_PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["role"] == "editor" and body["organisation_id"] == orgs[0].id and body["via"] == "session"
    cookies = {c.split("=", 1)[0]: c.lower() for c in r.headers.get_list("set-cookie")}
    assert "httponly" in cookies[SESSION_COOKIE] and "secure" in cookies[SESSION_COOKIE]
    assert "samesite=lax" in cookies[SESSION_COOKIE]
    assert "httponly" not in cookies[CSRF_COOKIE] and "secure" in cookies[CSRF_COOKIE]
    me = secure_client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["id"] == user.id
    assert me.json()["csrf_token"] == body["csrf_token"]
    # the session id is stored hashed only
    stored = session.scalars(select(UserSession.session_hash)).all()
    cookie_value = secure_client.cookies.get(SESSION_COOKIE)
    assert len(stored) == 1 and stored[0] not in cookie_value


def test_unknown_user_and_wrong_password_get_the_same_answer(secure_client, session, orgs):
    make_user(session, "member", orgs[0], email="known@example.org")
    wrong = secure_client.post("/api/v1/auth/login", json={"email": "known@example.org", "password": "nope nope nope"})
    unknown = secure_client.post("/api/v1/auth/login", json={"email": "ghost@example.org", "password": "nope nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == AUTH_FAILED
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]
    assert SESSION_COOKIE not in secure_client.cookies


def test_lockout_after_repeated_failures_then_unlock_after_the_period(make_client, session, db, orgs):
    client = make_client(login_max_failures=3, login_lockout_minutes=10)
    user = make_user(session, "editor", orgs[0], email="lock@example.org")
    for _ in range(3):
        r = client.post("/api/v1/auth/login", json={"email": "lock@example.org", "password": "wrong password!"})
        assert r.status_code == 401
    # now even the right password is refused, with the same message
    r = client.post("/api/v1/auth/login", json={"email": "lock@example.org", "password": DEFAULT_PASSWORD})
    assert r.status_code == 401 and r.json()["detail"] == AUTH_FAILED
    with db.session() as s:
        locked = s.get(User, user.id)
        assert locked.locked_until is not None
        # the lockout period passes
        locked.locked_until = utcnow() - timedelta(seconds=1)
        s.commit()
    r = client.post("/api/v1/auth/login", json={"email": "lock@example.org", "password": DEFAULT_PASSWORD})
    assert r.status_code == 200, r.text
    with db.session() as s:
        assert s.get(User, user.id).failed_logins == 0


def test_login_rate_limited_per_account_and_per_ip(make_client, session, orgs):
    make_user(session, "member", orgs[0], email="busy@example.org")
    client = make_client(login_rate_per_account_per_minute=2, login_rate_per_ip_per_minute=4, login_max_failures=50)
    codes = [client.post("/api/v1/auth/login", json={"email": "busy@example.org", "password": "x" * 12}).status_code
             for _ in range(3)]
    assert codes == [401, 401, 429]
    # other accounts from the same address hit the per-IP bucket
    codes = [client.post("/api/v1/auth/login", json={"email": f"other{i}@example.org", "password": "x" * 12}).status_code
             for i in range(3)]
    assert codes[-1] == 429
    r = client.post("/api/v1/auth/login", json={"email": "z@example.org", "password": "x" * 12})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_disabled_account_cannot_log_in_and_its_sessions_end(secure_client, session, db, orgs):
    admin = make_user(session, "admin", None, email="admin@example.org")
    user = make_user(session, "editor", orgs[0], email="leaver@example.org")
    other = secure_client.__class__(secure_client.app, base_url="https://testserver")
    login(other, "leaver@example.org")
    assert other.get("/api/v1/auth/me").status_code == 200
    csrf = login(secure_client, admin.email)
    r = secure_client.patch(f"/api/v1/users/{user.id}", json={"active": False}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["active"] is False
    assert other.get("/api/v1/auth/me").status_code == 401
    r = other.post("/api/v1/auth/login", json={"email": "leaver@example.org", "password": DEFAULT_PASSWORD})
    assert r.status_code == 401


def test_tampered_or_forged_session_cookie_is_rejected(secure_client, session, orgs):
    make_user(session, "editor", orgs[0], email="me@example.org")
    login(secure_client, "me@example.org")
    good = secure_client.cookies.get(SESSION_COOKIE)
    payload, _, signature = good.rpartition(".")
    tampered = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    secure_client.cookies.clear()
    secure_client.cookies.set(SESSION_COOKIE, tampered)
    r = secure_client.get("/api/v1/auth/me")
    assert r.status_code == 401 and r.json()["detail"] == AUTH_FAILED
    assert "max-age=0" in r.headers.get("set-cookie", "").lower()
    # a cookie signed with another key (forged) is just as dead
    from stadslab.core.credentials import sign_session_id

    secure_client.cookies.clear()
    secure_client.cookies.set(SESSION_COOKIE, sign_session_id("another-key", "whatever"))
    assert secure_client.get("/api/v1/auth/me").status_code == 401


def test_logout_ends_the_server_side_session(secure_client, session, orgs):
    make_user(session, "member", orgs[0], email="bye@example.org")
    csrf = login(secure_client, "bye@example.org")
    cookie = secure_client.cookies.get(SESSION_COOKIE)
    r = secure_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert session.scalars(select(UserSession)).all() == []
    # replaying the old cookie does not work
    secure_client.cookies.clear()
    secure_client.cookies.set(SESSION_COOKIE, cookie)
    assert secure_client.get("/api/v1/auth/me").status_code == 401


def test_plain_http_cookies_need_cookie_secure_off(make_client, session, orgs):
    make_user(session, "member", orgs[0], email="local@example.org")
    client = make_client(cookie_secure=False)
    r = client.post("/api/v1/auth/login", json={"email": "local@example.org", "password": DEFAULT_PASSWORD})
    assert r.status_code == 200
    assert all("secure" not in c.lower().split(";")[1:] for c in r.headers.get_list("set-cookie"))


def test_password_change_rules(secure_client, session, orgs):
    user = make_user(session, "member", orgs[0], email="pw@example.org")
    csrf = login(secure_client, "pw@example.org")
    r = secure_client.put(f"/api/v1/users/{user.id}/password", json={"password": "short"},
                          headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.password"
    r = secure_client.put(f"/api/v1/users/{user.id}/password", json={"password": "a much better passphrase"},
                          headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    session.expire_all()
    assert verify_password(session.get(User, user.id).password_hash, "a much better passphrase")
