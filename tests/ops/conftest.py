"""Fresh, empty databases for restore and migration targets, and a filled installation to copy."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.core.database import Database, normalise_url
from tests.conftest import PG_URL, require_service
from tests.factories import create, project_payload
from tests.governance.factories import auth_headers, make_token, make_user
from tests.sensorthings.helpers import STA, new_thing


@contextmanager
def fresh_postgres_database():
    """An EMPTY PostgreSQL database (no schema at all), dropped afterwards."""
    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set")
    admin = normalise_url(PG_URL)
    name = f"stadslab_ops_{uuid.uuid4().hex[:10]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with eng.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


@pytest.fixture
def fresh_pg():
    with fresh_postgres_database() as url:
        yield url


def fill(db: Database) -> None:
    """Registry content, SensorThings Observations and audit events, written through the API."""
    with db.session() as s:
        headers = auth_headers(make_token(s, make_user(s, "admin")))
    app = create_app(Settings(database_url=db.url), db=db)
    with TestClient(app, headers=headers) as c:
        for i in range(3):
            create(c, "projects", project_payload(title=f"Slimme lantaarnpaal {i} Ø"))
        ids = new_thing(c)
        for i in range(5):
            r = c.post(f"{STA}/Datastreams({ids['datastream']})/Observations",
                       json={"phenomenonTime": f"2024-06-01T0{i}:00:00+02:00", "result": i / 3})
            assert r.status_code == 201, r.text
    from stadslab.governance.models import AuditEvent

    with db.session() as s:
        assert s.scalars(select(AuditEvent.seq)).first() is not None, "the writes left no audit events"
