"""Shared fixtures: a real database per dialect, an app client, and factories.

Every storage test runs on SQLite and, when ``STADSLAB_TEST_POSTGRES_URL`` is
set, on PostgreSQL too. Each test run creates its own databases (one per xdist
worker), migrates them with Alembic and loads the reference data once; after
each test every non-reference table is emptied, so tests stay independent.
If the PostgreSQL URL is set but the server cannot be reached, the run fails:
it never silently skips.
"""

from __future__ import annotations

import os

# Rich consoles size themselves when their module is imported: give every CLI test wide output.
os.environ["COLUMNS"] = "200"
# Hundreds of apps start in this one process: frozen objects (gc.freeze, core.config) would never be
# collected. Servers the tests start as processes of their own inherit this too; test_assembly turns it on.
os.environ.setdefault("STADSLAB_GC_FREEZE_AT_START", "0")
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.core.database import Database, normalise_url
from stadslab.core.migrate import upgrade
from stadslab.models import Base
from stadslab.network.reference import REFERENCE_TABLES, load_reference

PG_URL = os.environ.get("STADSLAB_TEST_POSTGRES_URL")
SHARED = Path(__file__).resolve().parents[2] / "shared"

DIALECTS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


class _Databases:
    """Creates one migrated, seeded database per dialect, lazily, for the whole run."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.created: dict[str, Database] = {}
        self.pg_admin_url = None
        self.pg_name = None

    def get(self, dialect: str) -> Database:
        if dialect not in self.created:
            url = self._sqlite_url() if dialect == "sqlite" else self._pg_url()
            upgrade(url)
            db = Database(url)
            with db.session() as s:
                load_reference(s)
            self.created[dialect] = db
        return self.created[dialect]

    def _sqlite_url(self) -> str:
        return f"sqlite:///{self.tmp / f'stadslab-{_worker()}.db'}"

    def _pg_url(self) -> str:
        admin = normalise_url(PG_URL)
        self.pg_admin_url = admin
        self.pg_name = f"stadslab_test_{_worker()}_{uuid.uuid4().hex[:8]}"
        eng = create_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            with eng.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.pg_name}"'))
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"STADSLAB_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {exc}",
                        pytrace=False)
        finally:
            eng.dispose()
        return make_url(admin).set(database=self.pg_name).render_as_string(hide_password=False)

    def close(self) -> None:
        for db in self.created.values():
            db.dispose()
        if self.pg_name:
            eng = create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
            with eng.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'))
            eng.dispose()


@pytest.fixture(scope="session")
def _databases(tmp_path_factory) -> Iterator[_Databases]:
    dbs = _Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.close()


def empty_tables(db: Database) -> None:
    from tests.governance.audit_helpers import purge_audit_trail

    purge_audit_trail(db)  # append-only by trigger: emptied with the triggers lifted
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name not in REFERENCE_TABLES]
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(t.delete())
            conn.execute(text("DELETE FROM sqlite_sequence")) if _has_sqlite_sequence(conn) else None


def _has_sqlite_sequence(conn) -> bool:
    return bool(conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first())


@pytest.fixture(params=DIALECTS)
def db(request, _databases) -> Iterator[Database]:
    """A migrated database with reference data, on each dialect; emptied after the test."""
    database = _databases.get(request.param)
    try:
        yield database
    finally:
        empty_tables(database)


@pytest.fixture
def sqlite_db(_databases) -> Iterator[Database]:
    """The SQLite database only, for behaviour that exists on SQLite alone (e.g. its online backup)."""
    database = _databases.get("sqlite")
    try:
        yield database
    finally:
        empty_tables(database)


@pytest.fixture
def session(db):
    with db.session() as s:
        yield s


@pytest.fixture
def settings(db) -> Settings:
    return Settings(database_url=db.url)


@pytest.fixture
def app(settings, db):
    return create_app(settings, db=db)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared datasets not present (fresh clone)")
    return SHARED


REQUIRE_ALL = os.environ.get("STADSLAB_TEST_REQUIRE_ALL") == "1"


def require_service(reason: str) -> None:
    """Skip locally when a service is not configured; fail in CI (STADSLAB_TEST_REQUIRE_ALL=1)."""
    if REQUIRE_ALL:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    url = os.environ.get("STADSLAB_TEST_MQTT_URL")
    if not url:
        require_service("STADSLAB_TEST_MQTT_URL not set")
    return url


@pytest.fixture
def admin_client(app, db) -> Iterator[TestClient]:
    """A client that sends a network administrator's API token with every request."""
    from tests.governance.factories import auth_headers, make_token, make_user

    with db.session() as s:
        token = make_token(s, make_user(s, "admin"))
    with TestClient(app, headers=auth_headers(token)) as c:
        yield c
