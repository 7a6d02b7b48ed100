"""Every governance endpoint × role × own/other organisation, from one table of specs."""

from __future__ import annotations

import pytest

from .authz_matrix import EndpointSpec, MatrixContext, check, matrix_params, param_id
from .factories import auth_headers, make_token, make_user

REQUEST = {"type": "experiment", "topic": "digital", "title": "Algoritmeregister pilot"}


def _loket_request(ctx: MatrixContext, org_id: int) -> int:
    r = ctx.client.post("/api/v1/loket/requests", json={**REQUEST, "organisation_id": org_id},
                        headers=ctx.headers["admin"])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _user_of(ctx: MatrixContext, org_id: int) -> dict:
    return {"path": {"id": make_user(ctx.session, "member", org_id, password=None).id}}


GOVERNANCE_SPECS = [
    EndpointSpec("loket submit", "POST", "/api/v1/loket/requests", "owner_write",
                 setup=lambda ctx, org: {"json": {**REQUEST, "organisation_id": org}}),
    EndpointSpec("loket read", "GET", "/api/v1/loket/requests/{id}", "owner_read", other_status=404,
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}}),
    EndpointSpec("loket comment", "POST", "/api/v1/loket/requests/{id}/comments", "owner_write", other_status=404,
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "json": {"body": "Graag"}}),
    EndpointSpec("loket withdraw", "POST", "/api/v1/loket/requests/{id}/transitions", "owner_write",
                 other_status=404,
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "json": {"status": "closed"}}),
    EndpointSpec("loket review", "POST", "/api/v1/loket/requests/{id}/transitions", "admin",
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "json": {"status": "in_review"}}),
    EndpointSpec("loket list", "GET", "/api/v1/loket/requests", "authenticated"),
    EndpointSpec("loket exemptions", "GET", "/api/v1/loket/exemptions", "public"),
    EndpointSpec("loket routing", "GET", "/api/v1/loket/routing", "public"),
    EndpointSpec("me", "GET", "/api/v1/auth/me", "authenticated"),
    EndpointSpec("token list", "GET", "/api/v1/tokens", "authenticated"),
    EndpointSpec("users list", "GET", "/api/v1/users", "admin"),
    EndpointSpec("user create", "POST", "/api/v1/users", "admin",
                 setup=lambda ctx, org: {"json": {"email": "nieuw@example.org", "organisation_id": org}}),
    EndpointSpec("user update", "PATCH", "/api/v1/users/{id}", "admin",
                 setup=lambda ctx, org: {**_user_of(ctx, org), "json": {"role": "editor"}}),
    EndpointSpec("audit list", "GET", "/api/v1/audit", "admin"),
    EndpointSpec("audit csv", "GET", "/api/v1/audit.csv", "admin"),
    EndpointSpec("audit verify", "GET", "/api/v1/audit/verify", "admin"),
    EndpointSpec("privacy export", "GET", "/api/v1/privacy/users/{id}/export", "admin", setup=_user_of),
    EndpointSpec("privacy erase", "POST", "/api/v1/privacy/users/{id}/erase", "admin", setup=_user_of),
    EndpointSpec("retention", "POST", "/api/v1/privacy/retention", "admin"),
]


@pytest.fixture
def ctx(client, session, orgs) -> MatrixContext:
    own, other = orgs
    c = MatrixContext(client=client, session=session, own_org_id=own.id, other_org_id=other.id)
    for role, org in (("member", own.id), ("editor", own.id), ("admin", None)):
        c.headers[role] = auth_headers(make_token(session, make_user(session, role, org, password=None)))
    c.headers["anonymous"] = {}
    return c


@pytest.mark.parametrize("spec,role,owner", matrix_params(GOVERNANCE_SPECS), ids=param_id)
def test_authorization_matrix(ctx, spec, role, owner):
    check(ctx, spec, role, owner)
