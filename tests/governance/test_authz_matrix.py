"""Every spec of the route table (authz_routes.all_specs) × role × own/other organisation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from stadslab.core.credentials import csrf_token_for, sign_session_id

from .authz_matrix import ROLES, EndpointSpec, MatrixContext, check, param_id
from .authz_routes import all_specs
from .factories import auth_headers, make_token, make_user


def _browser(app, cookies: dict[str, str] | None = None) -> TestClient:
    client = TestClient(app, base_url="https://testserver", headers={"Accept": "text/html"})
    for name, value in (cookies or {}).items():
        client.cookies.set(name, value)
    return client


@pytest.fixture
def ctx(client, app, session, orgs) -> MatrixContext:
    """Tokens for the API and browser sessions for the web forms, per role (member and editor of `own`)."""
    from stadslab.governance import service

    from .authz_matrix import DESK_TEAM
    from .factories import make_organisation

    own, other = orgs
    c = MatrixContext(client=client, session=session, own_org_id=own.id, other_org_id=other.id)
    secret = app.state.settings.secret_key
    ministry = make_organisation(session, "Ministerie van Matrixzaken", kind="government")
    for role, org in (("member", own.id), ("desk", ministry.id), ("editor", own.id), ("admin", None)):
        user = make_user(session, role, org, password=None, desk_team=DESK_TEAM if role == "desk" else None)
        c.headers[role] = auth_headers(make_token(session, user))
        sid = service.open_session(session, user, ttl=timedelta(hours=1), method="password")
        c.web[role] = _browser(app, {"stadslab_session": sign_session_id(secret, sid),
                                     "stadslab_csrf": csrf_token_for(secret, sid)})
        c.csrf[role] = csrf_token_for(secret, sid)
    c.headers["anonymous"] = {}
    c.web["anonymous"] = _browser(app)
    return c


def owners(spec: EndpointSpec) -> tuple[str, ...]:
    return ("own", "other") if spec.policy in ("owner_write", "owner_read") else ("own",)


@pytest.mark.parametrize("spec", all_specs(), ids=param_id)
def test_authorization_matrix(ctx, spec):
    """All roles and ownerships of one endpoint; every mismatch is reported, not just the first."""
    failures = []
    for role in ROLES:
        for owner in owners(spec):
            try:
                check(ctx, spec, role, owner)
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0][:400])
    assert not failures, "\n".join(failures)
