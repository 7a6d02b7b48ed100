"""Who is asking, and may they? The authorization contract every capability calls.

One request has one :class:`Principal`, resolved once by the FastAPI dependency
:func:`get_principal` from a Bearer token (API clients) or a session cookie (the
web). Capabilities never look at tokens, cookies or users themselves; they ask the
policy helpers below, so that the rules live in one place and the authorization
matrix test (tests/governance/test_authz_matrix.py) can check them all; every
state-changing route of the app needs a spec there (tests/governance/authz_routes.py).

Authentication comes before validation: an invalid request from a caller who may not
use the route at all gets 401/403, not a 422 that describes the route's schema (see
:func:`refusal_before_validation`, called by the one validation-error handler).

Roles, from least to most: ``public`` (anonymous), ``member``, ``desk``, ``editor``, ``admin``.
A ``desk`` account handles the loket requests routed to its team (``Principal.desk_team``);
which action needs which role and organisation type is the table in ``governance.rights``.
A role implies scopes (``ROLE_SCOPES``); an API token carries a subset of its owner's
scopes, so a leaked token can do no more than it was minted for.

Failures are deliberately uninformative: every credential problem (unknown,
malformed, expired, revoked, disabled account, tampered cookie) is the same 401,
and every permission problem is the same 403, so probing learns nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fastapi import Request

from .errors import Forbidden, StadslabError, Unauthorized

log = logging.getLogger("stadslab.auth")

ROLES = ("public", "member", "desk", "editor", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
#: Roles a stored account can have ("public" is the anonymous role).
ACCOUNT_ROLES = ("member", "desk", "editor", "admin")

SCOPES = ("registry:write", "sta:write", "sta:read", "loket:write", "admin")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "public": frozenset(),
    "member": frozenset({"sta:read"}),
    "desk": frozenset({"sta:read", "loket:write"}),
    "editor": frozenset({"registry:write", "sta:write", "sta:read", "loket:write"}),
    "admin": frozenset(SCOPES),
}

ACCESS_CLASSES = ("open", "network", "restricted")

#: The one message for every credential failure (no hint which part was wrong).
AUTH_FAILED = "Authentication failed"
AUTH_REQUIRED = "Authentication required"
#: The one message for every permission failure.
NOT_PERMITTED = "Not permitted for this account or token"
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="stadslab"'}

@dataclass(frozen=True)
class Principal:
    """The caller of one request.

    ``via`` is ``session`` (web cookie), ``token`` (API token), ``anonymous`` or
    ``system`` (the command line, which acts as a platform administrator).
    """

    user_id: int | None
    organisation_id: int | None
    role: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    via: str = "anonymous"
    token_id: int | None = None
    #: Development setting ``anonymous_writes``: an anonymous caller may write anything.
    anonymous_writes: bool = False
    #: The user's audit-trail pseudonym when the credential lookup found it already (saves the
    #: audit trail a query per write); None means "look it up".
    audit_pseudonym: str | None = field(default=None, compare=False, repr=False)
    #: For the ``desk`` role: the loket routing team this account handles requests of.
    desk_team: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.via == "anonymous"

    @property
    def is_admin(self) -> bool:
        """An administrator acting with the ``admin`` scope (a narrower admin token is not)."""
        return self.role == "admin" and "admin" in self.scopes

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


ANONYMOUS = Principal(user_id=None, organisation_id=None, role="public", via="anonymous")
SYSTEM = Principal(user_id=None, organisation_id=None, role="admin", scopes=ROLE_SCOPES["admin"],
                   via="system")


def auth_failed() -> Unauthorized:
    return Unauthorized(AUTH_FAILED, headers=WWW_AUTHENTICATE)


#: Turns a request's credentials into its principal (anonymous without any; 401 for bad ones).
Authenticator = Callable[[Request], Principal]


def install_authenticator(app, authenticate: Authenticator) -> None:
    """Make ``authenticate`` the app's way to read credentials.

    The capability that keeps accounts, tokens and sessions (governance) installs it when the app
    is assembled, so core asks it without importing it.
    """
    app.state.authenticator = authenticate


def get_principal(request: Request) -> Principal:
    """FastAPI dependency: the caller, from ``Authorization: Bearer`` or the session cookie.

    No credentials give the anonymous principal; bad credentials give 401. The result
    is cached on the request so several dependencies resolve it once. An app assembled
    without an authenticator refuses every request rather than treat callers as anonymous.
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    authenticate = getattr(request.app.state, "authenticator", None)
    if authenticate is None:
        raise RuntimeError("no authenticator installed: assemble the app with stadslab.app.create_app")
    principal = authenticate(request)
    if principal.is_anonymous and request.app.state.settings.anonymous_writes:
        principal = Principal(user_id=None, organisation_id=None, role="public", via="anonymous",
                              anonymous_writes=True)
    request.state.principal = principal
    return principal


# --- policy helpers ----------------------------------------------------------------------------

def require_authenticated(p: Principal) -> Principal:
    if p.is_anonymous:
        raise Unauthorized(AUTH_REQUIRED, headers=WWW_AUTHENTICATE)
    return p


def require_role(p: Principal, role: str) -> Principal:
    """At least ``role``: 401 when anonymous, 403 when the role is lower."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")
    if ROLE_RANK[role] > 0:
        require_authenticated(p)
    if ROLE_RANK[p.role] < ROLE_RANK[role] or (role == "admin" and not p.is_admin):
        raise Forbidden(NOT_PERMITTED)
    return p


def require_scope(p: Principal, scope: str) -> Principal:
    require_authenticated(p)
    if not p.has_scope(scope):
        raise Forbidden(NOT_PERMITTED)
    return p


def can_read_access_class(p: Principal, access_class: str, allowed_org_ids: Iterable[int | None] = ()) -> bool:
    """May ``p`` read data of this SensorThings access class?

    ``open``: everybody. ``network``: any authenticated account or token with
    ``sta:read``. ``restricted``: admins, and ``sta:read`` callers of one of
    ``allowed_org_ids`` (normally the owner organisation). Unknown classes: nobody.
    """
    if access_class == "open":
        return True
    if access_class not in ACCESS_CLASSES or p.is_anonymous or not p.has_scope("sta:read"):
        return False
    if access_class == "network" or p.role == "admin":
        return True
    return p.organisation_id is not None and p.organisation_id in set(allowed_org_ids)


def readable_access_classes_clause(p: Principal, access_class_col, owner_org_col):
    """SQL filter with the same rule as :func:`can_read_access_class`, for list queries.

    ``owner_org_col`` is the column whose organisation may read ``restricted`` rows.
    """
    from sqlalchemy import and_, false, or_, true

    if p.role == "admin" and p.has_scope("sta:read"):
        return true()
    allowed = [access_class_col == "open"]
    if not p.is_anonymous and p.has_scope("sta:read"):
        allowed.append(access_class_col == "network")
        if p.organisation_id is not None:
            allowed.append(and_(access_class_col == "restricted", owner_org_col == p.organisation_id))
    return or_(*allowed) if allowed else false()


def authorize_write(p: Principal, owner_organisation_id: int | None, scope: str) -> Principal:
    """May ``p`` create/change/delete content owned by ``owner_organisation_id``?

    admin: anything (with the scope, which session admins always have). editor: content
    of the own organisation, with the scope. member/public: 403. anonymous: 401, unless
    the development setting ``anonymous_writes`` is on. For creation, pass the owner the
    new item will get. Content without an owner organisation is admin-only.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    if p.is_anonymous:
        return authenticate_writer(p)
    if not p.has_scope(scope):
        raise Forbidden(NOT_PERMITTED)
    if p.role == "admin":
        return p
    if p.role == "editor" and owner_organisation_id is not None and owner_organisation_id == p.organisation_id:
        return p
    raise Forbidden(NOT_PERMITTED)


def authenticate_writer(p: Principal) -> Principal:
    """The part of :func:`authorize_write` that needs no target: 401 for an anonymous writer
    (unless ``anonymous_writes``). Called first by routes that look their target up, so an
    anonymous caller learns 401, not whether the id exists."""
    if p.is_anonymous and not p.anonymous_writes:
        raise Unauthorized(AUTH_REQUIRED, headers=WWW_AUTHENTICATE)
    return p


def may_write(p: Principal, owner_organisation_id: int | None, scope: str) -> bool:
    """Non-raising :func:`authorize_write`, e.g. to show or hide edit buttons."""
    try:
        authorize_write(p, owner_organisation_id, scope)
    except (Unauthorized, Forbidden):
        return False
    return True


# --- authentication before validation ------------------------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class UpFront:
    """The part of an endpoint's rule that holds whatever the request body says.

    ``public``: anyone may call it (login); the body is validated first. Otherwise the caller
    must be authenticated, and hold ``role`` and ``scope`` when given. Rules that depend on the
    target (the owner organisation of an item) cannot be known before the body is read.
    """

    public: bool = False
    role: str | None = None
    scope: str | None = None


#: Unsafe endpoints without a declaration need an authenticated caller; safe ones are public.
_UNSAFE_DEFAULT = UpFront()
_SAFE_DEFAULT = UpFront(public=True)
_UP_FRONT_ATTR = "stadslab_up_front"


def known_up_front(*, public: bool = False, role: str | None = None, scope: str | None = None):
    """Decorator for an endpoint: who may call it at all, checked before a 422 is given.

    Without it an unsafe endpoint (POST, PUT, PATCH, DELETE) counts as "authenticated
    callers only"; declare ``public=True`` for the few that anonymous callers use (login),
    and the role or scope of admin-only and scope-bound endpoints, so that a member sending
    an invalid body to an admin endpoint learns 403, not the endpoint's schema.
    """
    rule = UpFront(public=public, role=role, scope=scope)

    def mark(endpoint):
        setattr(endpoint, _UP_FRONT_ATTR, rule)
        return endpoint

    return mark


def up_front_rule(endpoint, method: str) -> UpFront:
    """The declared rule of ``endpoint`` (see :func:`known_up_front`), or the default for ``method``."""
    declared = getattr(endpoint, _UP_FRONT_ATTR, None)
    if declared is not None:
        return declared
    return _SAFE_DEFAULT if method in SAFE_METHODS else _UNSAFE_DEFAULT


def refusal_before_validation(request: Request) -> StadslabError | None:
    """The 401/403 an invalid request gets instead of its 422, or None when validation may speak.

    Called by the handler of request validation errors (``core.errors``), so it holds for
    every route at once: an anonymous caller or a bad/revoked credential is refused before
    the schema is described, and so is a caller the route's up-front rule excludes.
    """
    rule = up_front_rule(request.scope.get("endpoint"), request.method)
    if rule.public:
        return None
    try:
        p = get_principal(request)
        if p.is_anonymous and p.anonymous_writes and rule.role != "admin":
            return None
        require_authenticated(p)
        if rule.role:
            require_role(p, rule.role)
        if rule.scope:
            require_scope(p, rule.scope)
    except (Unauthorized, Forbidden) as refused:
        return refused
    return None
