"""OpenID Connect login against a fake issuer running on 127.0.0.1 (real HTTP, real RS256 keys)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey
from sqlalchemy import select

from stadslab.core.auth import AUTH_FAILED
from stadslab.governance import oidc
from stadslab.governance.models import User

from .factories import make_organisation, make_user
from .fake_issuer import CLIENT_ID, CLIENT_SECRET, FakeIssuer


@pytest.fixture(scope="module")
def issuer():
    with FakeIssuer() as fake:
        yield fake


@pytest.fixture
def oidc_client(make_client, issuer):
    issuer.claims, issuer.tamper = {}, {}
    return make_client(oidc_issuer=issuer.url, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET)


def _login(client, issuer, *, state=None):
    r = client.get("/api/v1/auth/oidc/login", follow_redirects=False)
    assert r.status_code == 302, r.text
    assert r.headers["location"].startswith(f"{issuer.url}/authorize?")
    back = httpx.get(r.headers["location"], follow_redirects=False)
    assert back.status_code == 302
    target = urlsplit(back.headers["location"])
    query = target.query if state is None else target.query.rsplit("state=", 1)[0] + f"state={state}"
    return client.get(f"{target.path}?{query}", follow_redirects=False)


def test_login_creates_the_account_with_mapped_role_and_organisation(oidc_client, issuer, session):
    org = make_organisation(session, "Gemeente Utrecht")
    issuer.claims = {"sub": "u-123", "email": "Ambtenaar@Utrecht.example", "email_verified": True,
                     "name": "A. Ambtenaar", "stadslab_role": ["member", "editor"],
                     "stadslab_organisation": "Gemeente Utrecht"}
    r = _login(oidc_client, issuer)
    assert r.status_code == 303 and r.headers["location"] == "/"
    me = oidc_client.get("/api/v1/auth/me").json()
    assert me["role"] == "editor" and me["organisation_id"] == org.id and me["email"] == "ambtenaar@utrecht.example"
    user = session.scalar(select(User).where(User.oidc_subject == "u-123"))
    assert user.password_hash is None and user.oidc_issuer == issuer.url
    # the identity provider stays the source of truth for the role
    issuer.claims["stadslab_role"] = "member"
    oidc_client.cookies.clear()
    assert _login(oidc_client, issuer).status_code == 303
    assert oidc_client.get("/api/v1/auth/me").json()["role"] == "member"


@pytest.mark.parametrize("tamper", [
    {"key": RSAKey.generate_key(2048, parameters={"kid": "signing-1"})},  # same kid, wrong key
    {"claims": {"aud": "another-client"}},
    {"claims": {"iss": "https://evil.example"}},
    {"claims": {"nonce": "replayed"}},
    {"claims": {"exp": 1_000_000_000, "iat": 999_999_000}},
], ids=["signature", "audience", "issuer", "nonce", "expired"])
def test_invalid_id_tokens_are_refused(oidc_client, issuer, session, tamper):
    issuer.claims = {"sub": "u-9", "email": "x@example.org"}
    issuer.tamper = tamper
    r = _login(oidc_client, issuer)
    assert r.status_code == 401 and r.json()["detail"] == AUTH_FAILED
    assert session.scalar(select(User).where(User.email == "x@example.org")) is None


def test_state_must_match_the_flow_cookie(oidc_client, issuer):
    issuer.claims = {"sub": "u-1", "email": "s@example.org"}
    assert _login(oidc_client, issuer, state="forged").status_code == 401
    oidc_client.cookies.clear()
    r = oidc_client.get("/api/v1/auth/oidc/callback?code=abc&state=def")
    assert r.status_code == 401


def test_no_account_takeover_through_an_unverified_email(oidc_client, issuer, session):
    existing = make_user(session, "admin", None, email="baas@example.org")
    issuer.claims = {"sub": "attacker", "email": "baas@example.org", "email_verified": False}
    assert _login(oidc_client, issuer).status_code == 401
    issuer.claims = {"sub": "real-boss", "email": "baas@example.org", "email_verified": True,
                     "stadslab_role": "admin"}
    assert _login(oidc_client, issuer).status_code == 303
    session.expire_all()
    assert session.get(User, existing.id).oidc_subject == "real-boss"


def test_not_configured_is_404_and_unreachable_issuer_is_503(make_client):
    assert make_client().get("/api/v1/auth/oidc/login").status_code == 404
    from .fake_issuer import _free_port

    dead = make_client(oidc_issuer=f"http://127.0.0.1:{_free_port()}", oidc_client_id="x")
    assert dead.get("/api/v1/auth/oidc/login", follow_redirects=False).status_code == 503


def test_claim_mapping_rules(session):
    org = make_organisation(session, "Provincie Test")
    assert oidc.map_role(["member", "admin", "superuser"], "member") == "admin"
    assert oidc.map_role("root", "member") == "member"
    assert oidc.map_role(None, "editor") == "editor"
    assert oidc.map_organisation(session, org.id) == org.id
    assert oidc.map_organisation(session, str(org.id)) == org.id
    assert oidc.map_organisation(session, "Provincie Test") == org.id
    assert oidc.map_organisation(session, "Onbekend") is None and oidc.map_organisation(session, True) is None
