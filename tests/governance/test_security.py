"""Hardening: security headers, CSRF, write rate limits, log masking, development settings."""

from __future__ import annotations

import base64
import hashlib
import logging
import re

import pytest

from stadslab.core.auth import Principal, authorize_write
from stadslab.core.security import MaskingFilter, TokenBucketLimiter, install_log_masking, mask

from .factories import auth_headers, login, make_token, make_user


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/does-not-exist", "/"])
def test_security_headers_on_every_response(secure_client, path):
    r = secure_client.get(path)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in r.headers["permissions-policy"]
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


def test_no_hsts_over_plain_http_and_map_tiles_allowed(client):
    r = client.get("/api/v1/health")
    assert "strict-transport-security" not in r.headers
    assert "https://service.pdok.nl" in r.headers["content-security-policy"]


def test_api_docs_get_exact_script_hashes_not_unsafe_inline(client):
    r = client.get("/api/docs")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    inline = re.findall(rb"<script>(.*?)</script>", r.content, flags=re.S)
    assert inline
    for script in inline:
        assert "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'" in csp
    assert "unsafe-inline" not in csp


def test_csrf_required_for_cookie_writes_but_not_for_bearer(secure_client, session, orgs):
    make_user(session, "editor", orgs[0], email="web@example.org")
    csrf = login(secure_client, "web@example.org")
    body = {"name": "from the browser", "scopes": ["sta:read"]}
    r = secure_client.post("/api/v1/tokens", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = secure_client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert r.status_code == 403
    # a token for another session does not work either
    from stadslab.core.credentials import csrf_token_for

    r = secure_client.post("/api/v1/tokens", json=body,
                           headers={"X-CSRF-Token": csrf_token_for("change-me-in-production", "other-session")})
    assert r.status_code == 403
    assert secure_client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    # a form post may carry the token as a field
    r = secure_client.post("/api/v1/auth/logout", data={"csrf_token": csrf})
    assert r.status_code == 204
    # API clients with a Bearer token are exempt (browsers never add that header by themselves)
    token = make_token(session, make_user(session, "editor", orgs[0]))
    fresh = secure_client.__class__(secure_client.app, base_url="https://testserver")
    assert fresh.post("/api/v1/loket/requests", json={"type": "knowledge", "title": "Vraag"},
                      headers=auth_headers(token)).status_code == 201


def test_cross_origin_writes_are_refused(secure_client, session, orgs):
    make_user(session, "member", orgs[0], email="x@example.org")
    r = secure_client.post("/api/v1/auth/login", json={"email": "x@example.org", "password": "whatever-long"},
                           headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["detail"] == "Cross-origin request refused"
    r = secure_client.post("/api/v1/auth/login", json={"email": "x@example.org", "password": "whatever-long"},
                           headers={"Origin": "https://testserver"})
    assert r.status_code == 401


def test_trusted_origins_setting(make_client, session, orgs):
    client = make_client(trusted_origins=["https://portal.example.nl"])
    r = client.post("/api/v1/auth/login", json={"email": "a@example.org", "password": "whatever-long"},
                    headers={"Origin": "https://portal.example.nl"})
    assert r.status_code == 401


def test_write_rate_limit_per_client(make_client, session, orgs):
    client = make_client(write_rate_per_minute=3)
    token = make_token(session, make_user(session, "editor", orgs[0]))
    codes = [client.post("/api/v1/loket/requests", json={"type": "knowledge", "title": f"Vraag {i}"},
                         headers=auth_headers(token)).status_code for i in range(4)]
    assert codes == [201, 201, 201, 429]
    # reads are not limited; another token has its own bucket
    assert client.get("/api/v1/health").status_code == 200
    other = make_token(session, make_user(session, "editor", orgs[0]))
    assert client.post("/api/v1/loket/requests", json={"type": "knowledge", "title": "Vraag x"},
                       headers=auth_headers(other)).status_code == 201


def test_token_bucket_refills_with_time():
    now = [0.0]
    bucket = TokenBucketLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [bucket.hit("k")[0] for _ in range(3)] == [True, True, False]
    now[0] += 1.0
    assert bucket.hit("k")[0] is True and bucket.hit("k")[0] is False


@pytest.mark.parametrize("raw,secret", [
    ("login failed for jan.jansen@gemeente.example", "jan.jansen@gemeente.example"),
    ("Authorization: Bearer stl_abcdefghijklmnopqrstuvwxyz0123456789", "stl_abcdefghijklmnop"),
    ("token stl_Zx81-_aaaaaaaaaaaaaaaaaaaaa used", "stl_Zx81"),
    ('payload {"password": "hunter2hunter2"}', "hunter2hunter2"),
    ("client_secret=s3cr3t-value&code=abc", "s3cr3t-value"),
    ("cookie: stadslab_session=abc.def.ghi; other=1", "abc.def.ghi"),
])
def test_log_masking(raw, secret, caplog):
    assert secret not in mask(raw)
    install_log_masking()
    with caplog.at_level(logging.INFO, logger="stadslab.test"):
        logging.getLogger("stadslab.test").info("event: %s", raw)
    assert secret not in caplog.text and "event:" in caplog.text


def test_masking_filter_on_a_handler_and_in_tracebacks():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "user %s failed", ("a.b@c.nl",), None)
    MaskingFilter().filter(record)
    assert record.getMessage() == "user <email> failed"
    install_log_masking()
    try:
        raise ValueError("bad email piet@example.org")
    except ValueError:
        import sys

        rec = logging.getLogger("stadslab.test").makeRecord("x", logging.ERROR, __file__, 1, "oops", (), sys.exc_info())
    assert "piet@example.org" not in rec.exc_text and "<email>" in rec.exc_text


def test_anonymous_writes_is_off_by_default_and_warns_when_on(make_client, caplog):
    with caplog.at_level(logging.WARNING, logger="stadslab.security"):
        client = make_client(anonymous_writes=True)
    assert "ANONYMOUS_WRITES" in caplog.text
    from stadslab.core.auth import get_principal
    from starlette.requests import Request

    scope = {"type": "http", "headers": [], "app": client.app, "method": "GET", "path": "/"}
    p = get_principal(Request(scope))
    assert p.is_anonymous and p.anonymous_writes
    authorize_write(p, 123, "registry:write")  # allowed: no exception
    default = Principal(user_id=None, organisation_id=None, role="public", via="anonymous")
    with pytest.raises(Exception) as info:
        authorize_write(default, 123, "registry:write")
    assert getattr(info.value, "status", None) == 401


def test_unexpected_errors_show_no_stack_trace(app):
    from fastapi.testclient import TestClient

    @app.get("/api/v1/_boom")
    def boom():
        raise RuntimeError("secret internals piet@example.org")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/api/v1/_boom")
    assert r.status_code == 500
    assert "RuntimeError" not in r.text and "secret internals" not in r.text and "Traceback" not in r.text
