"""OpenID Connect login (authorization code flow with PKCE) against one configured issuer.

Authlib supplies the protocol pieces (PKCE challenge, URL building, ID token claim
rules via ``CodeIDToken``); joserfc, Authlib's JOSE library, verifies the signature
against the issuer's JWKS. The browser leg carries ``state``, ``nonce`` and the PKCE
verifier in a short-lived signed HttpOnly cookie, so no server-side state is needed.

Claims map onto the account: ``email`` (required), ``name``, the role claim
(``oidc_role_claim``: member/editor/admin, a list gives the highest) and the
organisation claim (``oidc_organisation_claim``: organisation id or exact name).
The identity provider is the source of truth: role and organisation are refreshed
on every login.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.core.auth import ACCOUNT_ROLES, ROLE_RANK, SYSTEM, auth_failed
from stadslab.core.errors import NotFound, ServiceUnavailable
from stadslab.core.unit_of_work import commit
from stadslab.network.models import Organisation

from . import audit
from .models import User
from .service import create_user, normalise_email, user_snapshot

log = logging.getLogger("stadslab.oidc")

FLOW_COOKIE = "stadslab_oidc"
FLOW_MAX_AGE = 600
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@dataclass(frozen=True)
class Flow:
    state: str
    nonce: str
    verifier: str


def configured(settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


class OIDCClient:
    def __init__(self, settings, http: httpx.Client | None = None):
        if not configured(settings):
            raise NotFound("OpenID Connect login is not configured")
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.http = http or httpx.Client(timeout=10.0)
        self._metadata: dict | None = None

    def _get_json(self, url: str) -> dict:
        try:
            r = self.http.get(url)
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError):
            log.warning("OpenID Connect issuer not reachable or invalid answer at %s", url)
            raise ServiceUnavailable("The identity provider cannot be reached", headers={"Retry-After": "30"}) from None

    def metadata(self) -> dict:
        if self._metadata is None:
            meta = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if meta.get("issuer", "").rstrip("/") != self.issuer:
                raise ServiceUnavailable("The identity provider's discovery document names another issuer")
            self._metadata = meta
        return self._metadata

    def start(self, redirect_uri: str) -> tuple[str, Flow]:
        flow = Flow(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                    verifier=secrets.token_urlsafe(48))
        url = add_params_to_uri(self.metadata()["authorization_endpoint"], [
            ("response_type", "code"), ("client_id", self.settings.oidc_client_id),
            ("redirect_uri", redirect_uri), ("scope", self.settings.oidc_scopes), ("state", flow.state),
            ("nonce", flow.nonce), ("code_challenge", create_s256_code_challenge(flow.verifier)),
            ("code_challenge_method", "S256")])
        return url, flow

    def exchange(self, code: str, redirect_uri: str, flow: Flow) -> dict[str, Any]:
        """Trade the code for tokens and return the verified ID token claims."""
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": flow.verifier, "client_id": self.settings.oidc_client_id}
        auth = (self.settings.oidc_client_id, self.settings.oidc_client_secret) \
            if self.settings.oidc_client_secret else None
        try:
            r = self.http.post(self.metadata()["token_endpoint"], data=data, auth=auth,
                               headers={"Accept": "application/json"})
        except httpx.HTTPError:
            raise ServiceUnavailable("The identity provider cannot be reached", headers={"Retry-After": "30"}) from None
        if r.status_code != 200:
            log.info("OpenID Connect token request refused with status %s", r.status_code)
            raise auth_failed()
        tokens = r.json()
        if not isinstance(tokens, dict) or "id_token" not in tokens:
            raise auth_failed()
        return self.validate_id_token(tokens["id_token"], flow.nonce, tokens.get("access_token"))

    def validate_id_token(self, id_token: str, nonce: str, access_token: str | None = None) -> dict[str, Any]:
        keys = KeySet.import_key_set(self._get_json(self.metadata()["jwks_uri"]))
        try:
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            claims = CodeIDToken(token.claims, token.header,
                                 options={"iss": {"essential": True, "value": self.issuer},
                                          "aud": {"essential": True, "value": self.settings.oidc_client_id}},
                                 params={"nonce": nonce, "access_token": access_token})
            claims.validate(leeway=60)
        except (JoseError, ValueError) as exc:
            log.info("OpenID Connect ID token rejected: %s", type(exc).__name__)
            raise auth_failed() from None
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise auth_failed()
        return dict(claims)


# --- the browser leg's state -----------------------------------------------------------------

def _serializer(settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="stadslab-oidc-flow")


def pack_flow(settings, flow: Flow) -> str:
    return _serializer(settings).dumps([flow.state, flow.nonce, flow.verifier])


def unpack_flow(settings, value: str | None, state: str | None) -> Flow:
    try:
        s, nonce, verifier = _serializer(settings).loads(value or "", max_age=FLOW_MAX_AGE)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        raise auth_failed() from None
    if not state or not secrets.compare_digest(s, state):
        raise auth_failed()
    return Flow(s, nonce, verifier)


# --- claims to account -----------------------------------------------------------------------

def map_role(value: Any, default: str) -> str:
    """The highest known role in the claim. ``desk`` is not taken from claims: a desk account also
    needs its loket team, which an administrator sets (``stadslab user set-role --desk``)."""
    values = value if isinstance(value, list) else [value]
    roles = [v for v in values if isinstance(v, str) and v in ACCOUNT_ROLES and v != "desk"]
    return max(roles, key=ROLE_RANK.__getitem__) if roles else default


def map_organisation(session: Session, value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        org = session.get(Organisation, int(value))
        return org.id if org else None
    if isinstance(value, str):
        return session.scalar(select(Organisation.id).where(Organisation.name == value))
    return None


def account_for_claims(session: Session, settings, claims: dict[str, Any]) -> User:
    """Find, link or create the account for verified claims, refreshing role and organisation."""
    email = claims.get("email")
    subject = str(claims.get("sub", ""))
    if not isinstance(email, str) or not email or not subject:
        raise auth_failed()
    role = map_role(claims.get(settings.oidc_role_claim), settings.oidc_default_role)
    organisation_id = map_organisation(session, claims.get(settings.oidc_organisation_claim))
    issuer = settings.oidc_issuer.rstrip("/")
    user = session.scalar(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject))
    if user is None:
        by_email = session.scalar(select(User).where(User.email == normalise_email(email)))
        if by_email is not None:
            if by_email.oidc_subject is not None or claims.get("email_verified") is not True:
                raise auth_failed()  # never take over an account on an unverified email
            user = by_email
            user.oidc_issuer, user.oidc_subject = issuer, subject
    if user is None:
        if not settings.oidc_create_users:
            raise auth_failed()
        return create_user(session, SYSTEM, email=email, display_name=str(claims.get("name", ""))[:200],
                           organisation_id=organisation_id, role=role, oidc_issuer=issuer, oidc_subject=subject)
    if not user.active:
        raise auth_failed()
    before = user_snapshot(user)
    user.role, user.organisation_id = role, organisation_id
    if before != user_snapshot(user):
        audit.record(session, SYSTEM, "user.update", "user", user.id, before, user_snapshot(user))
    commit(session, "Account cannot be updated")
    return user
