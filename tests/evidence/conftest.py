import pytest

from tests.governance.factories import auth_headers, make_organisation, make_token, make_user


@pytest.fixture
def editor(session):
    """(organisation id, auth headers) of an editor."""
    org = make_organisation(session)
    user = make_user(session, "editor", org)
    return org.id, auth_headers(make_token(session, user))
