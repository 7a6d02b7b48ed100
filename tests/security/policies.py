"""Which authorization policy governs an operation, for the fuzzers' "no 2xx where the matrix says
401/403" check.

The authorization matrix describes endpoints as :class:`EndpointSpec` rows (policy public /
authenticated / admin / owner_write / owner_read). The fuzzer meets operations as OpenAPI
templates (``/api/v1/loket/requests/{request_id}``), so :func:`policy_for` matches them on
method and path shape, ignoring the names of the placeholders.

:func:`specs` takes the route-table matrix (``tests.governance.authz_routes.all_specs``, which
covers every state-changing route); the few rows below describe the GET operations it does not
list. An operation without a spec gets ``None``: the fuzzer then applies only the rules
that need no spec (an anonymous caller never gets a 2xx on a non-GET operation unless it is
``public``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from tests.governance.authz_matrix import EndpointSpec

_PLACEHOLDER = re.compile(r"\{[^}]*\}")

#: Registry resources whose writes follow ``core.crud`` (``authorize_write`` on the owner).
_OWNED_RESOURCES = ("living-labs", "projects", "solutions", "adoptions", "coalitions", "events",
                    "funding-calls")


def _interim_specs() -> list[EndpointSpec]:
    """Rows for operations the existing spec lists do not describe yet (no setup: policy only)."""
    out = [EndpointSpec("login", "POST", "/api/v1/auth/login", "public"),
           EndpointSpec("logout", "POST", "/api/v1/auth/logout", "public"),  # clears cookies, whoever asks
           EndpointSpec("token create", "POST", "/api/v1/tokens", "authenticated"),
           EndpointSpec("token revoke", "DELETE", "/api/v1/tokens/{id}", "owner_write", other_status=404),
           EndpointSpec("organisation create", "POST", "/api/v1/organisations", "admin"),
           *(EndpointSpec(f"organisation {m}", m, "/api/v1/organisations/{id}", "owner_write")
             for m in ("PUT", "PATCH", "DELETE")),
           EndpointSpec("funding programme create", "POST", "/api/v1/funding-programmes", "admin"),
           *(EndpointSpec(f"funding programme {m}", m, "/api/v1/funding-programmes/{id}", "admin")
             for m in ("PUT", "PATCH", "DELETE")),  # programmes have no owner: admin-only
           EndpointSpec("federation peers", "POST", "/api/v1/federation/peers", "admin"),
           EndpointSpec("federation harvest", "POST", "/api/v1/federation/harvest", "admin"),
           EndpointSpec("lorawan integrations", "GET", "/api/v1/lorawan/integrations", "authenticated"),
           EndpointSpec("sta batch", "POST", "/sta/v1.1/$batch", "public")]  # the envelope; see fuzzing
    for resource in _OWNED_RESOURCES:
        out.append(EndpointSpec(f"{resource} create", "POST", f"/api/v1/{resource}", "owner_write"))
        for method in ("PUT", "PATCH", "DELETE"):
            out.append(EndpointSpec(f"{resource} {method}", method, f"/api/v1/{resource}/{{id}}", "owner_write"))
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        out.append(EndpointSpec(f"sta {method}", method, "/sta/v1.1/{path}", "owner_write"))
    return out


#: Operations by which an editor of any organisation *proposes* something to another organisation's
#: object (``labs.moderation``): the 2xx makes a pending contribution that the owner's editors accept
#: or decline, and changes nothing of the owner's (the fuzzer's change check still watches that).
PROPOSALS = {("POST", "/api/v1/projects/{}/lessons"), ("POST", "/api/v1/living-labs/{}/applications"),
             ("POST", "/api/v1/adoptions")}


def is_proposal(method: str, path_template: str) -> bool:
    return (method, _shape(path_template)) in PROPOSALS


#: Operations where the account named by ``{user_id}`` has the administrator's right itself
#: (``privacy.export_person``: a person may export their own data; the matrix tests another's).
SELF_SERVICE = {("GET", "/api/v1/privacy/users/{user_id}/export")}


@lru_cache(maxsize=1)
def specs() -> tuple[EndpointSpec, ...]:
    """The route-table matrix (``all_specs``), plus the interim rows for operations it leaves out
    (GET operations the matrix does not list); where both describe an operation the matrix wins."""
    from tests.governance.authz_routes import all_specs

    matrix = all_specs()
    covered = {(s.method, _shape(s.path)) for s in matrix}
    return (*matrix, *(s for s in _interim_specs() if (s.method, _shape(s.path)) not in covered))


def _shape(path: str) -> str:
    return _PLACEHOLDER.sub("{}", path)


@lru_cache(maxsize=None)
def policy_for(method: str, path_template: str) -> str | None:
    """The policy of the operation, or None when no spec describes it.

    Several specs can share an operation (the loket transition is ``owner_write`` for a
    withdrawal and ``admin`` for a review, depending on the body): the most permissive one
    wins, so the fuzzer only flags what no reading of the matrix allows.
    """
    order = ("public", "webhook_secret", "authenticated", "editor", "owner_read", "owner_write", "desk", "admin")
    found = [s.policy for s in specs() if s.method == method.upper() and _shape(s.path) == _shape(path_template)]
    return min(found, key=order.index) if found else None
