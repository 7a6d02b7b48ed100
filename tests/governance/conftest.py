from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stadslab.app import create_app
from stadslab.core.config import Settings

from .factories import make_organisation


@pytest.fixture
def secure_client(app) -> Iterator[TestClient]:
    """A client on https://, so that Secure cookies travel (as in production)."""
    with TestClient(app, base_url="https://testserver") as c:
        yield c


@pytest.fixture
def make_client(db):
    """Build an https client on an app with changed settings."""
    clients = []

    def build(**overrides) -> TestClient:
        app = create_app(Settings(database_url=db.url, **overrides), db=db)
        client = TestClient(app, base_url="https://testserver")
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def orgs(session):
    """Two organisations: the caller's own and another one."""
    return make_organisation(session, "Gemeente Eigenstad"), make_organisation(session, "Gemeente Anderstad")
