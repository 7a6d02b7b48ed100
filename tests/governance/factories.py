"""Factories for accounts and credentials, for any test that needs an authenticated caller.

    org = make_organisation(session)
    user = make_user(session, "editor", org)
    headers = auth_headers(make_token(session, user))
    client.post("/api/v1/living-labs", json=..., headers=headers)
"""

from __future__ import annotations

import itertools
from functools import lru_cache

from sqlalchemy.orm import Session

from stadslab.core.auth import ROLE_SCOPES, SYSTEM
from stadslab.governance import service
from stadslab.governance.models import User
from stadslab.governance.passwords import hash_password
from stadslab.network.models import Organisation

DEFAULT_PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_organisation(session: Session, name: str | None = None, kind: str = "municipality",
                      municipality_code: str | None = None) -> Organisation:
    org = Organisation(name=name or f"Organisatie {next(_seq)}", kind=kind, municipality_code=municipality_code)
    session.add(org)
    session.commit()
    return org


def _org_id(org) -> int | None:
    return org.id if isinstance(org, Organisation) else org


@lru_cache(maxsize=1)
def _default_password_hash() -> str:
    return hash_password(DEFAULT_PASSWORD)


def make_user(session: Session, role: str = "editor", org: Organisation | int | None = None, *,
              email: str | None = None, password: str | None = DEFAULT_PASSWORD,
              display_name: str = "Test Gebruiker", desk_team: str | None = None) -> User:
    """A stored account (member/editor/admin) of ``org`` (an Organisation, its id, or None).

    The default password's argon2id hash is computed once per test process (hashing
    is deliberately slow); any other password is hashed by the service as usual.
    """
    default = password == DEFAULT_PASSWORD
    user = service.create_user(session, SYSTEM, email=email or f"user{next(_seq)}@example.org",
                               display_name=display_name, password=None if default else password,
                               organisation_id=_org_id(org), role=role, desk_team=desk_team)
    if default:
        user.password_hash = _default_password_hash()
        session.commit()
    return user


def make_token(session: Session, user: User | None = None, *, organisation: Organisation | int | None = None,
               scopes: list[str] | None = None, expires_in_days: int = 30, name: str = "test") -> str:
    """An API token secret for ``user`` (default: all scopes of its role) or for an organisation."""
    if user is not None:
        scopes = scopes if scopes is not None else sorted(ROLE_SCOPES[user.role])
        _, secret = service.create_token(session, SYSTEM, name=name, scopes=scopes, user_id=user.id,
                                         expires_in_days=expires_in_days)
    else:
        scopes = scopes if scopes is not None else sorted(ROLE_SCOPES["editor"])
        _, secret = service.create_token(session, SYSTEM, name=name, scopes=scopes,
                                         organisation_id=_org_id(organisation), expires_in_days=expires_in_days)
    return secret


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client, email: str, password: str = DEFAULT_PASSWORD) -> str:
    """Log in through the API (cookies land in the client); returns the CSRF token."""
    r = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]
