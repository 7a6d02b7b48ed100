"""Accounts, password login and API tokens. Every change is audited in the same unit of work."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from stadslab.core.auth import (ACCOUNT_ROLES, AUTH_FAILED, ROLE_SCOPES, SCOPES, WWW_AUTHENTICATE, Principal,
                                require_role)
from stadslab.core.credentials import hash_secret
from stadslab.core.database import utcnow
from stadslab.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed, field_error
from stadslab.core.listing import ListParams, like_pattern
from stadslab.core.unit_of_work import commit
from stadslab.network.models import Organisation

from . import audit
from .authn import aware, end_all_sessions, new_token_secret
from .models import ApiToken, User
from .passwords import hash_password, needs_rehash, password_problem, verify_password

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366
log = logging.getLogger("stadslab.governance")

#: Called after a token change is committed, with ``(session, kind, token, secret)``; kind is
#: "create" (the only time the secret is known), "revoke", "disable" or "enable" (owner deactivated
#: or reactivated). Why: the MQTT broker keeps an account per token (sensorthings/mqtt/broker_acl.py)
#: and must follow the token's life. Listeners check the session's engine is theirs.
TokenListener = Callable[[Session, str, ApiToken, str | None], None]
token_listeners: list[TokenListener] = []


def _token_event(session: Session, kind: str, tokens: list[ApiToken], secret: str | None = None) -> None:
    """Tell the listeners; the change is committed already, so a failing listener is logged, not raised."""
    for listener in list(token_listeners):
        for token in tokens:
            try:
                listener(session, kind, token, secret)
            except Exception as exc:  # noqa: BLE001 - e.g. the broker is away; `stadslab mqtt sync` catches up
                log.warning("token %s listener failed for token %s: %s", kind, token.id, type(exc).__name__)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_snapshot(user: User) -> dict:
    """The audited state of an account (personal fields are withheld by the audit module)."""
    return {"id": user.id, "email": user.email, "display_name": user.display_name, "role": user.role,
            "organisation_id": user.organisation_id, "desk_team": user.desk_team, "active": user.active,
            "locked_until": user.locked_until, "oidc": user.oidc_subject is not None}


def _check_organisation(session: Session, organisation_id: int | None, loc: str = "organisation_id") -> None:
    if organisation_id is not None and session.get(Organisation, organisation_id) is None:
        raise ValidationFailed(f"organisation {organisation_id} does not exist",
                               errors=[field_error(["body", loc], f"organisation {organisation_id} does not exist")])


def _check_role(role: str) -> None:
    if role not in ACCOUNT_ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ACCOUNT_ROLES)}",
                               errors=[field_error(["body", "role"], f"must be one of {', '.join(ACCOUNT_ROLES)}")])


def _check_desk(role: str, desk_team: str | None) -> None:
    """A desk account names a loket routing team; other roles have none."""
    from .loket import routing_table

    teams = routing_table()["teams"]
    if role == "desk" and desk_team not in teams:
        raise ValidationFailed(f"a desk account needs desk_team, one of {', '.join(teams)}",
                               errors=[field_error(["body", "desk_team"], f"must be one of {', '.join(teams)}")])
    if role != "desk" and desk_team is not None:
        raise ValidationFailed("only a desk account has a desk_team",
                               errors=[field_error(["body", "desk_team"], "only with role desk")])


def _check_password(password: str, email: str | None) -> None:
    problem = password_problem(password, email)
    if problem:
        raise ValidationFailed(f"password {problem}", errors=[field_error(["body", "password"], problem)])


# --- users -----------------------------------------------------------------------------------------

def create_user(session: Session, actor: Principal, *, email: str, display_name: str = "",
                password: str | None = None, organisation_id: int | None = None, role: str = "member",
                oidc_issuer: str | None = None, oidc_subject: str | None = None,
                desk_team: str | None = None) -> User:
    email = normalise_email(email)
    if not EMAIL_RE.match(email):
        raise ValidationFailed("email is not a valid address", errors=[field_error(["body", "email"], "not an email address")])
    _check_role(role)
    _check_desk(role, desk_team)
    _check_organisation(session, organisation_id)
    if password is not None:
        _check_password(password, email)
    if find_user_by_email(session, email) is not None:
        raise Conflict(f"User {email!r} cannot be created: an account with this email already exists")
    user = User(email=email, display_name=display_name, organisation_id=organisation_id, role=role, desk_team=desk_team,
                password_hash=hash_password(password) if password else None, active=True, failed_logins=0,
                oidc_issuer=oidc_issuer, oidc_subject=oidc_subject)
    session.add(user)
    session.flush()
    audit.pseudonym_for(session, user.id)
    audit.record(session, actor, "user.create", "user", user.id, None, user_snapshot(user))
    commit(session, "User cannot be created")
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist")
    return user


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def list_users(session: Session, params: ListParams, *, organisation_id: int | None = None,
               role: str | None = None, q: str | None = None) -> tuple[list[User], int]:
    stmt = select(User)
    if organisation_id is not None:
        stmt = stmt.where(User.organisation_id == organisation_id)
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        pattern = like_pattern(q.lower())
        stmt = stmt.where(or_(User.email.like(pattern, escape="\\"),
                              func.lower(User.display_name).like(pattern, escape="\\")))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(User.id).limit(params.limit).offset(params.offset)))
    return rows, total


def update_user(session: Session, actor: Principal, user_id: int, changes: dict) -> User:
    """Change display name, role, organisation or active flag. Deactivation ends all sessions."""
    user = get_user(session, user_id)
    before = user_snapshot(user)
    if "role" in changes:
        _check_role(changes["role"])
    if "organisation_id" in changes:
        _check_organisation(session, changes["organisation_id"])
    if "role" in changes or "desk_team" in changes:
        role = changes.get("role", user.role)
        changes["desk_team"] = changes.get("desk_team", user.desk_team if role == "desk" else None)
        _check_desk(role, changes["desk_team"])
    if actor.user_id == user.id and (changes.get("role", user.role) != "admin" or changes.get("active") is False):
        raise Forbidden("Administrators cannot demote or disable their own account")
    for key in ("display_name", "role", "desk_team", "organisation_id", "active"):
        if key in changes:
            setattr(user, key, changes[key])
    if changes.get("active") is True:
        user.failed_logins, user.locked_until = 0, None
    if changes.get("active") is False:
        end_all_sessions(session, user.id)
    audit.record(session, actor, "user.update", "user", user.id, before, user_snapshot(user))
    commit(session, "User cannot be updated")
    if "active" in changes and changes["active"] != before["active"] and token_listeners:
        tokens = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                             ApiToken.revoked_at.is_(None))))
        _token_event(session, "enable" if user.active else "disable", tokens)
    return user


def set_password(session: Session, actor: Principal, user_id: int, password: str) -> User:
    user = get_user(session, user_id)
    _check_password(password, user.email)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    end_all_sessions(session, user.id)
    audit.record(session, actor, "user.password", "user", user.id, None, None)
    commit(session, "Password cannot be set")
    return user


# --- password login -----------------------------------------------------------------------------

def _failed() -> Unauthorized:
    return Unauthorized(AUTH_FAILED, headers=WWW_AUTHENTICATE)


def login(session: Session, email: str, password: str, *, max_failures: int, lockout: timedelta,
          now: datetime | None = None) -> User:
    """Check a password. Unknown account, wrong password, locked or disabled: the same 401.

    Each attempt costs one argon2 verification whatever the outcome. After
    ``max_failures`` wrong passwords in a row the account is locked for ``lockout``.
    """
    now = now or utcnow()
    user = find_user_by_email(session, email) if len(email) <= 254 else None
    if user is None or not user.active or user.password_hash is None:
        verify_password(None, password)
        raise _failed()
    locked = aware(user.locked_until)
    if locked is not None and locked > now:
        verify_password(None, password)
        raise _failed()
    if not verify_password(user.password_hash, password):
        # One atomic increment in the database: several nodes (and workers) counting the failures
        # of one account at the same time lose none of them, so the lockout holds across nodes.
        failures = session.execute(
            update(User).where(User.id == user.id)
            .values(failed_logins=func.coalesce(User.failed_logins, 0) + 1)
            .returning(User.failed_logins).execution_options(synchronize_session=False)).scalar_one()
        set_committed_value(user, "failed_logins", failures)
        if failures >= max_failures:
            user.locked_until, user.failed_logins = now + lockout, 0
            audit.record(session, _self(user), "auth.lockout", "user", user.id, None,
                         {"locked_until": user.locked_until})
        session.commit()
        raise _failed()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return user


def _self(user: User) -> Principal:
    return Principal(user_id=user.id, organisation_id=user.organisation_id, role=user.role, via="session")


# --- API tokens ---------------------------------------------------------------------------------

def token_snapshot(token: ApiToken) -> dict:
    return {"id": token.id, "name": token.name, "prefix": token.prefix, "scopes": list(token.scopes),
            "user_id": token.user_id, "organisation_id": token.organisation_id,
            "expires_at": token.expires_at, "revoked_at": token.revoked_at}


def _scope_errors(scopes: list[str], allowed: frozenset[str], who: str) -> None:
    for i, scope in enumerate(scopes):
        if scope not in SCOPES:
            raise ValidationFailed(f"unknown scope {scope!r}; known: {', '.join(SCOPES)}",
                                   errors=[field_error(["body", "scopes", i], f"unknown scope {scope!r}")])
        if scope not in allowed:
            raise ValidationFailed(f"{who} cannot hold scope {scope!r}",
                                   errors=[field_error(["body", "scopes", i], f"not allowed for {who}")])


def create_token(session: Session, actor: Principal, *, name: str, scopes: list[str],
                 expires_in_days: int | None = DEFAULT_TOKEN_DAYS, user_id: int | None = None,
                 organisation_id: int | None = None) -> tuple[ApiToken, str]:
    """Mint a token; returns the row and the secret, which is shown this once and never stored."""
    if actor.is_anonymous:
        raise Unauthorized("Authentication required", headers=WWW_AUTHENTICATE)
    if actor.via == "token" and not actor.is_admin:
        raise Forbidden("API tokens cannot create tokens; log in to create one")
    if not scopes:
        raise ValidationFailed("at least one scope is required", errors=[field_error(["body", "scopes"], "empty")])
    days = DEFAULT_TOKEN_DAYS if expires_in_days is None else expires_in_days
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationFailed(f"expires_in_days must be between 1 and {MAX_TOKEN_DAYS}",
                               errors=[field_error(["body", "expires_in_days"], f"between 1 and {MAX_TOKEN_DAYS}")])
    if organisation_id is not None:
        if user_id is not None:
            raise ValidationFailed("a token belongs to a user or to an organisation, not both",
                                   errors=[field_error(["body", "organisation_id"], "give user_id or organisation_id")])
        require_role(actor, "admin")
        _check_organisation(session, organisation_id)
        _scope_errors(scopes, ROLE_SCOPES["editor"], "an organisation token")
    else:
        user_id = user_id if user_id is not None else actor.user_id
        if user_id is None:
            raise ValidationFailed("give user_id or organisation_id", errors=[field_error(["body", "user_id"], "required")])
        if user_id != actor.user_id:
            require_role(actor, "admin")
        owner = get_user(session, user_id)
        _scope_errors(scopes, ROLE_SCOPES[owner.role], f"a {owner.role}")
    secret = new_token_secret()
    token = ApiToken(name=name, prefix=secret[:8], token_hash=hash_secret(secret), user_id=user_id,
                     organisation_id=organisation_id, scopes=sorted(set(scopes)), created_by_user_id=actor.user_id,
                     expires_at=utcnow() + timedelta(days=days))
    session.add(token)
    session.flush()
    audit.record(session, actor, "token.create", "api_token", token.id, None, token_snapshot(token))
    commit(session, "Token cannot be created")
    _token_event(session, "create", [token], secret)
    return token, secret


def list_tokens(session: Session, actor: Principal, params: ListParams, *, user_id: int | None = None,
                organisation_id: int | None = None) -> tuple[list[ApiToken], int]:
    stmt = select(ApiToken)
    if not actor.is_admin:
        stmt = stmt.where(ApiToken.user_id == actor.user_id) if actor.user_id is not None else stmt.where(False)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    if organisation_id is not None:
        stmt = stmt.where(ApiToken.organisation_id == organisation_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(ApiToken.id).limit(params.limit).offset(params.offset)))
    return rows, total


def revoke_token(session: Session, actor: Principal, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (not actor.is_admin and (actor.user_id is None or token.user_id != actor.user_id)):
        raise NotFound(f"Token {token_id} does not exist")
    if token.revoked_at is None:
        before = token_snapshot(token)
        token.revoked_at = utcnow()
        audit.record(session, actor, "token.revoke", "api_token", token.id, before, token_snapshot(token))
        commit(session, "Token cannot be revoked")
        _token_event(session, "revoke", [token])
    return token


# --- web sessions -----------------------------------------------------------------------------

def open_session(session: Session, user: User, *, ttl: timedelta, method: str,
                 replaces: str | None = None) -> str:
    """Start a web session after a successful login (a previous one is ended: no fixation)."""
    from .authn import end_session, principal_for_user, start_session

    if replaces:
        end_session(session, replaces)
    session_id = start_session(session, user, ttl, method)
    audit.record(session, principal_for_user(user, "session"), "auth.login", "user", user.id, None,
                 {"method": method})
    commit(session, "Session cannot be started")
    return session_id


def close_session(session: Session, principal: Principal, session_id: str | None) -> None:
    from .authn import end_session

    if session_id:
        end_session(session, session_id)
    if principal.user_id is not None:
        audit.record(session, principal, "auth.logout", "user", principal.user_id, None, None)
    commit(session, "Session cannot be ended")
