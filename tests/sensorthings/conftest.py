"""Credentials for the SensorThings tests: writes need ``sta:write`` and the right organisation."""

from __future__ import annotations

import pytest

from tests.governance.factories import auth_headers, make_token, make_user


@pytest.fixture
def admin_headers(db) -> dict[str, str]:
    """Headers of a network administrator's API token, for tests that build their own app."""
    with db.session() as s:
        return auth_headers(make_token(s, make_user(s, "admin")))


@pytest.fixture
def admin_principal(db):
    """The principal of a stored administrator, for tests that call the STA services directly."""
    from stadslab.governance.authn import principal_for_user

    with db.session() as s:
        user = make_user(s, "admin")
        return principal_for_user(user, "token")
