"""Who is looking at a page, and the CSRF token their forms carry.

Pages resolve the caller through ``core.auth.get_principal`` like the API does,
with one difference: a stale or forged session cookie does not turn a public
page into a 401. The visitor is treated as anonymous and the page tells the
browser to drop the cookie, so an expired session never locks anyone out of
the site. Pages that need an account raise ``Unauthorized``; the HTML error
hook (``errors.py``) turns that into a redirect to the login page.

Forms are protected by the core CSRF middleware (double submit, bound to the
session): every form a logged-in person can send carries ``csrf_token``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request

from stadslab.core.auth import ANONYMOUS, Principal, get_principal, require_authenticated, require_role
from stadslab.core.credentials import csrf_token_for
from stadslab.core.errors import Unauthorized

#: Set on ``request.state`` when the session cookie was refused, so ``render`` can clear it.
DROP_SESSION = "web_drop_session"


def page_principal(request: Request) -> Principal:
    """The caller; anonymous (and the cookie marked for removal) when the session is no longer valid."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    try:
        return get_principal(request)
    except Unauthorized:
        setattr(request.state, DROP_SESSION, True)
        request.state.principal = ANONYMOUS
        return ANONYMOUS


def csrf_token(request: Request) -> str | None:
    """The token a form must carry while the browser holds a session cookie (valid or not).

    The core middleware checks forms against the session id in the cookie, so the
    token is derived from that id even when the session itself has expired.
    """
    from stadslab.governance.authn import session_id_from_request

    session_id = session_id_from_request(request)
    if not session_id:
        return None
    return csrf_token_for(request.app.state.settings.secret_key, session_id)


@dataclass(frozen=True)
class Account:
    """What the header shows about the logged-in person."""

    user_id: int
    name: str
    email: str
    role: str
    organisation: str | None
    is_admin: bool


def account(request: Request) -> Account | None:
    """The logged-in person of a web session (API tokens do not log a browser in)."""
    p = page_principal(request)
    if p.via != "session" or p.user_id is None:
        return None
    cached = getattr(request.state, "web_account", None)
    if cached is not None:
        return cached
    from stadslab.governance.models import User
    from stadslab.network.models import Organisation

    with request.app.state.db.session() as session:
        user = session.get(User, p.user_id)
        if user is None:
            return None
        org = session.get(Organisation, user.organisation_id) if user.organisation_id else None
        found = Account(user_id=user.id, name=user.display_name or user.email, email=user.email, role=user.role,
                        organisation=org.name if org else None, is_admin=p.is_admin)
    request.state.web_account = found
    return found


def require_login(request: Request) -> Principal:
    """The caller of a page that needs an account (anonymous: redirected to the login page)."""
    return require_authenticated(page_principal(request))


def require_admin(request: Request) -> Principal:
    """Administrators only: anonymous visitors go to the login page, others get a 403 page."""
    return require_role(page_principal(request), "admin")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirect)."""
    target = (target or "").strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 500:
        return "/"
    if any(ord(c) < 32 for c in target):
        return "/"
    return target


def login_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/inloggen?volgende={quote(here, safe='')}"
