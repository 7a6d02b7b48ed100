"""A generic authorization-matrix harness: endpoint × role × own/other organisation.

Each endpoint is described once by an :class:`EndpointSpec` with a *policy*; the
expected status for every role and ownership follows from the policy (see
:func:`expected`), so adding an endpoint is one spec, not sixteen asserts.

Policies
    public          anyone, also anonymous
    authenticated   any account or token; anonymous 401
    admin           admins only; others 403, anonymous 401
    owner_write     ``authorize_write``: admin anything, editor own organisation,
                    member 403, anonymous 401; editor of another organisation
                    ``other_status`` (403, or 404 when the item is hidden from them)
    owner_read      members/editors of the owner organisation and admins; others
                    ``other_status`` (normally 404), anonymous 401
    editor          ``authorize_write`` on the caller's own organisation (nothing to own
                    beforehand): admin and editor, member 403, anonymous 401
    webhook_secret  the request carries a shared secret (LoRaWAN uplinks): with it every
                    caller succeeds, whatever else they send; without it 401
    desk            the loket desk the item is routed to (``governance.rights`` "loket.handle"
                    / "loket.queue") and admins; member and editor ``other_status``, anonymous 401

The ``desk`` role is an account of a third (government) organisation that handles the loket
team ``DESK_TEAM``; everywhere else it is treated as a member of neither organisation (so it
gets ``other_status`` on owner policies and 403 on editor/admin ones), unless overridden.

The admin policy refuses non-admins with ``other_status`` (403, or 404 where the item is
invisible to them). ``overrides`` pins a role's status where a documented rule differs
(e.g. a platform admin has no organisation to submit a loket request for). Web forms
(``web=True``) are sent by a browser session with its CSRF token; a 401 there is the
redirect to the login page.

``setup(ctx, owner_org_id)`` creates whatever the request needs, owned by
``owner_org_id``, and returns ``{"path": {...}, "json": {...}}`` (both optional).
To add registry endpoints, append specs to a list and parametrise like
``test_authz_matrix.py`` does (see ``matrix_params``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ROLES = ("anonymous", "member", "desk", "editor", "admin")
OWNER_POLICIES = ("owner_write", "owner_read")
POLICIES = ("public", "authenticated", "admin", "editor", "webhook_secret", "desk", *OWNER_POLICIES)
#: The loket team of the matrix's desk account (the matrix's requests, topic digital, go there).
DESK_TEAM = "bzk"


@dataclass
class MatrixContext:
    client: Any
    session: Any
    own_org_id: int
    other_org_id: int
    #: Authorization headers per role; member and editor belong to the own organisation,
    #: admin to none (platform admin).
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Browser clients per role (session cookie; none for anonymous) and their CSRF tokens.
    web: dict[str, Any] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)

    def org_id(self, owner: str) -> int:
        return self.own_org_id if owner == "own" else self.other_org_id


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    method: str
    path: str
    policy: str
    setup: Callable[[MatrixContext, int], dict] | None = None
    success: tuple[int, ...] = (200, 201, 204)
    other_status: int = 403
    web: bool = False
    overrides: tuple[tuple[str, int], ...] = ()

    def __post_init__(self):
        assert self.policy in POLICIES, self.policy


def expected(spec: EndpointSpec, role: str, owner: str) -> str | int:
    """"ok" (any of ``spec.success``) or the exact error status."""
    if role in dict(spec.overrides):
        return dict(spec.overrides)[role]
    if spec.policy in ("public", "webhook_secret"):
        return "ok"
    if role == "anonymous":
        return 401
    if spec.policy == "authenticated" or role == "admin":
        return "ok"
    if spec.policy == "desk":
        return "ok" if role == "desk" else spec.other_status
    if spec.policy == "admin":
        return spec.other_status
    if role == "desk":
        return 403 if spec.policy == "editor" else spec.other_status
    if spec.policy == "editor":
        return "ok" if role == "editor" else 403
    if owner == "other":
        return spec.other_status
    if spec.policy == "owner_read":
        return "ok"
    return "ok" if role == "editor" else 403  # owner_write, own organisation


def matrix_params(specs: list[EndpointSpec]) -> list[tuple[EndpointSpec, str, str]]:
    """(spec, role, owner) triples; ownership only varies where the policy depends on it."""
    out = []
    for spec in specs:
        for role in ROLES:
            for owner in (("own", "other") if spec.policy in OWNER_POLICIES else ("own",)):
                out.append((spec, role, owner))
    return out


def param_id(value) -> str:
    if isinstance(value, EndpointSpec):
        return value.name
    return str(value)


def _send(ctx: MatrixContext, spec: EndpointSpec, role: str, prepared: dict, extra_headers: dict):
    path = spec.path.format(**prepared.get("path", {}))
    if spec.web:
        data = dict(prepared.get("data", {}))
        if role in ctx.csrf:
            data["csrf_token"] = ctx.csrf[role]
        return ctx.web[role].request(spec.method, path, data=data, follow_redirects=False)
    kwargs: dict[str, Any] = {"headers": {**ctx.headers.get(role, {}), **extra_headers}}
    for key in ("json", "content"):
        if key in prepared:
            kwargs[key] = prepared[key]
    return ctx.client.request(spec.method, path, **kwargs)


def _is_login_redirect(r) -> bool:
    return r.status_code == 303 and r.headers.get("location", "").startswith("/inloggen")


def check(ctx: MatrixContext, spec: EndpointSpec, role: str, owner: str) -> None:
    prepared = spec.setup(ctx, ctx.org_id(owner)) if spec.setup else {}
    headers = prepared.get("headers", {})
    where = f"{spec.name} as {role} ({owner})"
    if spec.policy == "webhook_secret":
        r = _send(ctx, spec, role, prepared, {})
        assert r.status_code == 401, f"{where} without the secret: {r.status_code} {r.text}"
    r = _send(ctx, spec, role, prepared, headers)
    want = expected(spec, role, owner)
    if spec.web and want == 401:
        assert _is_login_redirect(r), f"{where}: want the login page, got {r.status_code} {r.headers}"
    elif want == "ok":
        assert r.status_code in spec.success and not _is_login_redirect(r), f"{where}: {r.status_code} {r.text}"
    else:
        assert r.status_code == want, f"{where}: want {want}, got {r.status_code} {r.text}"
