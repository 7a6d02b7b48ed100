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

``setup(ctx, owner_org_id)`` creates whatever the request needs, owned by
``owner_org_id``, and returns ``{"path": {...}, "json": {...}}`` (both optional).
To add registry endpoints, append specs to a list and parametrise like
``test_authz_matrix.py`` does (see ``matrix_params``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ROLES = ("anonymous", "member", "editor", "admin")
OWNER_POLICIES = ("owner_write", "owner_read")


@dataclass
class MatrixContext:
    client: Any
    session: Any
    own_org_id: int
    other_org_id: int
    #: Authorization headers per role; member and editor belong to the own organisation,
    #: admin to none (platform admin).
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

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

    def __post_init__(self):
        assert self.policy in ("public", "authenticated", "admin", *OWNER_POLICIES), self.policy


def expected(spec: EndpointSpec, role: str, owner: str) -> str | int:
    """"ok" (any of ``spec.success``) or the exact error status."""
    if spec.policy == "public":
        return "ok"
    if role == "anonymous":
        return 401
    if spec.policy == "authenticated" or role == "admin":
        return "ok"
    if spec.policy == "admin":
        return 403
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


def check(ctx: MatrixContext, spec: EndpointSpec, role: str, owner: str) -> None:
    prepared = spec.setup(ctx, ctx.org_id(owner)) if spec.setup else {}
    path = spec.path.format(**prepared.get("path", {}))
    kwargs = {"headers": ctx.headers.get(role, {})}
    if "json" in prepared:
        kwargs["json"] = prepared["json"]
    r = ctx.client.request(spec.method, path, **kwargs)
    want = expected(spec, role, owner)
    if want == "ok":
        assert r.status_code in spec.success, f"{spec.name} as {role} ({owner}): {r.status_code} {r.text}"
    else:
        assert r.status_code == want, f"{spec.name} as {role} ({owner}): want {want}, got {r.status_code} {r.text}"
