"""Turning a request's credentials into a Principal: API tokens and web sessions.

Tokens look like ``stl_<43 url-safe characters>`` (256 random bits); the database
keeps only their SHA-256. Web sessions are server-side rows; the cookie holds a
random session id signed with the secret key (a tampered cookie fails the
signature, an unknown or expired id finds no row). Either failure is the same 401.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from fastapi import Request, Response
from sqlalchemy import ColumnElement, delete, exists, select, update
from sqlalchemy.orm import Session

from stadslab.core.auth import ANONYMOUS, ROLE_SCOPES, Principal, auth_failed
from stadslab.core.credentials import (CSRF_COOKIE, SESSION_COOKIE, TOKEN_PREFIX, csrf_token_for, hash_secret,
                                       sign_session_id, unsign_session_id)
from stadslab.core.database import utcnow

from .models import ApiToken, AuditActor, User, UserSession

#: last_used_at is refreshed at most this often, so reads do not become writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def aware(dt: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything stored is UTC."""
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _scopes(role: str, token_scopes=None) -> frozenset[str]:
    """What a role may do, narrowed to a token's scopes when the request came with a token."""
    scopes = ROLE_SCOPES.get(role, frozenset())
    return scopes if token_scopes is None else scopes & frozenset(token_scopes or ())


def principal_for_user(user: User, via: str, token: ApiToken | None = None) -> Principal:
    scopes = _scopes(user.role, None if token is None else token.scopes)
    return Principal(user_id=user.id, organisation_id=user.organisation_id, role=user.role, scopes=scopes,
                     via=via, token_id=token.id if token else None, desk_team=user.desk_team)


_TOKENS = ApiToken.__table__
_USERS = User.__table__
_ACTORS = AuditActor.__table__
#: One statement per authenticated request: the token and its user together.
_TOKEN_LOOKUP = (select(_TOKENS.c.id, _TOKENS.c.user_id, _TOKENS.c.organisation_id, _TOKENS.c.scopes,
                        _TOKENS.c.expires_at, _TOKENS.c.revoked_at, _TOKENS.c.last_used_at,
                        _USERS.c.organisation_id.label("user_organisation_id"), _USERS.c.role, _USERS.c.desk_team,
                        _USERS.c.active, _ACTORS.c.pseudonym)
                 .select_from(_TOKENS.outerjoin(_USERS, _USERS.c.id == _TOKENS.c.user_id)
                              .outerjoin(_ACTORS, _ACTORS.c.user_id == _TOKENS.c.user_id)))


def principal_for_token(session: Session, secret: str, now: datetime | None = None) -> Principal | None:
    """The principal of an API token, or None when it is unknown, expired, revoked or its owner inactive."""
    if not _token_shaped(secret):
        return None
    return _principal_for_lookup(session, _TOKEN_LOOKUP.where(_TOKENS.c.token_hash == hash_secret(secret)), now)


def principal_for_token_id(session: Session, token_id: int, hash_prefix: str,
                           now: datetime | None = None) -> Principal | None:
    """The principal of a token named by id and the start of its hash, as MQTT broker accounts name it.

    The broker has already checked the secret (the account's password); the hash prefix makes
    an account left over from another database never match a token that merely has its id.
    """
    if len(hash_prefix) < 12:
        return None
    lookup = _TOKEN_LOOKUP.where(_TOKENS.c.id == token_id, _TOKENS.c.token_hash.startswith(hash_prefix,
                                                                                          autoescape=True))
    return _principal_for_lookup(session, lookup, now)


def _principal_for_lookup(session: Session, lookup, now: datetime | None) -> Principal | None:
    now = now or utcnow()
    row = session.execute(lookup).first()
    principal = principal_for_token_row(row, now)
    if principal is not None and token_use_is_stale(row, now):
        session.execute(update(_TOKENS).where(_TOKENS.c.id == row.id).values(last_used_at=now))
        session.commit()
    return principal


def _token_shaped(secret: str) -> bool:
    return secret.startswith(TOKEN_PREFIX) and len(secret) <= 200


def bearer_token_hash(authorization: str | None) -> str | None:
    """The stored hash of an ``Authorization: Bearer stl_…`` header's token; None for any other header."""
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not _token_shaped(secret):
        return None
    return hash_secret(secret)


def tokens_by_hash(session: Session, hashes: set[str], now: datetime,
                   ) -> dict[str, tuple[Principal, datetime | None]]:
    """The principals of several tokens in one statement (group commit), by token hash.

    Runs in the caller's transaction, which also refreshes stale ``last_used_at`` values.
    Unknown, expired, revoked and inactive tokens are missing from the answer; the
    others come with their expiry time.
    """
    found: dict[str, tuple[Principal, datetime | None]] = {}
    stale: list[int] = []
    lookup = _TOKEN_LOOKUP.add_columns(_TOKENS.c.token_hash).where(_TOKENS.c.token_hash.in_(hashes))
    for row in session.execute(lookup):
        principal = principal_for_token_row(row, now)
        if principal is not None:
            found[row.token_hash] = (principal, aware(row.expires_at))
            if token_use_is_stale(row, now):
                stale.append(row.id)
    if stale:
        session.execute(update(_TOKENS).where(_TOKENS.c.id.in_(stale)).values(last_used_at=now))
    return found


def token_still_grants(principal: Principal) -> ColumnElement[bool]:
    """A condition that holds while the token behind ``principal`` still yields it.

    For callers that keep a principal between statements (the group commit) and want
    the check in the same transaction as their write: the token is not revoked, and
    its user (if any) is active with the same role and organisation. Expiry is fixed
    at creation, so the caller checks it against the lookup's ``expires_at``.
    """
    t = _TOKENS
    held = [t.c.id == principal.token_id, t.c.revoked_at.is_(None)]
    if principal.user_id is None:
        held.append(t.c.organisation_id.is_not_distinct_from(principal.organisation_id))
    else:
        u = _USERS
        held.append(exists().where(u.c.id == t.c.user_id, u.c.id == principal.user_id, u.c.active.is_(True),
                                   u.c.role == principal.role,
                                   u.c.desk_team.is_not_distinct_from(principal.desk_team),
                                   u.c.organisation_id.is_not_distinct_from(principal.organisation_id)))
    return exists().where(*held)


def principal_for_token_row(row, now: datetime) -> Principal | None:
    """The rule that turns a ``_TOKEN_LOOKUP`` row into a principal (None: not valid now)."""
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and aware(row.expires_at) <= now:
        return None
    if row.user_id is not None:
        if row.role is None or not row.active:
            return None
        return Principal(user_id=row.user_id, organisation_id=row.user_organisation_id, role=row.role,
                         scopes=_scopes(row.role, row.scopes), via="token", token_id=row.id,
                         audit_pseudonym=row.pseudonym, desk_team=row.desk_team)
    return Principal(user_id=None, organisation_id=row.organisation_id, role="editor",
                     scopes=_scopes("editor", row.scopes), via="token", token_id=row.id)


def token_use_is_stale(row, now: datetime) -> bool:
    last = aware(row.last_used_at)
    return last is None or now - last >= LAST_USED_RESOLUTION


def principal_for_session_id(session: Session, session_id: str, now: datetime | None = None) -> Principal | None:
    now = now or utcnow()
    row = session.scalar(select(UserSession).where(UserSession.session_hash == hash_secret(session_id)))
    if row is None or aware(row.expires_at) <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return principal_for_user(user, "session")


def authenticate_request(request: Request) -> Principal:
    """Bearer token first, then the session cookie, else anonymous. Bad credentials: 401."""
    settings = request.app.state.settings
    header = request.headers.get("authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    if header is None and cookie is None:
        return ANONYMOUS
    with request.app.state.db.session() as session:
        # Every authenticated request runs this lookup: in autocommit mode it is one round trip
        # to PostgreSQL, without a BEGIN before it and a ROLLBACK after it.
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        if header is not None:
            scheme, _, secret = header.partition(" ")
            principal = principal_for_token(session, secret.strip()) if scheme.lower() == "bearer" else None
        else:
            session_id = unsign_session_id(settings.secret_key, cookie)
            principal = principal_for_session_id(session, session_id) if session_id else None
    if principal is None:
        exc = auth_failed()
        if header is None:  # a stale or forged cookie: tell the browser to drop it
            exc.headers["Set-Cookie"] = f"{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        raise exc
    return principal


# --- web sessions -----------------------------------------------------------------------------

def start_session(session: Session, user: User, ttl: timedelta, method: str = "password") -> str:
    """Create a server-side session (not committed) and return its secret id."""
    session_id = secrets.token_urlsafe(32)
    session.add(UserSession(session_hash=hash_secret(session_id), user_id=user.id, method=method,
                            expires_at=utcnow() + ttl))
    session.flush()
    return session_id


def end_session(session: Session, session_id: str) -> None:
    session.execute(delete(UserSession).where(UserSession.session_hash == hash_secret(session_id)))


def end_all_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(UserSession).where(UserSession.user_id == user_id))


def set_session_cookies(response: Response, settings, session_id: str) -> str:
    """Set the HttpOnly session cookie and the script-readable CSRF cookie; returns the CSRF token."""
    csrf = csrf_token_for(settings.secret_key, session_id)
    max_age = settings.session_ttl_hours * 3600
    response.set_cookie(SESSION_COOKIE, sign_session_id(settings.secret_key, session_id), max_age=max_age,
                        path="/", secure=settings.cookie_secure, httponly=True, samesite="lax")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path="/", secure=settings.cookie_secure,
                        httponly=False, samesite="lax")
    return csrf


def clear_session_cookies(response: Response, settings) -> None:
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=settings.cookie_secure, httponly=http_only, samesite="lax")


def session_id_from_request(request: Request) -> str | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return unsign_session_id(request.app.state.settings.secret_key, cookie) if cookie else None
