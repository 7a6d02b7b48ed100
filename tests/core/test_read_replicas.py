"""Anonymous reads from a real PostgreSQL hot standby (``core.replicas``).

The standby is made with ``pg_basebackup`` from the test PostgreSQL and runs on its own port
(``tests.support.processes.postgres_standby``). Which server answered is shown by pausing the
standby's replay: a row written since then exists on the primary only.
"""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.core.database import Database
from stadslab.core.replicas import STICKY_COOKIE
from tests.conftest import PG_URL, empty_tables, require_service
from tests.governance.factories import auth_headers, make_token, make_user
from tests.support.processes import free_port, postgres_standby, wait_until


@pytest.fixture(scope="module")
def standby():
    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set: no primary to make a standby of")
    with postgres_standby() as s:
        yield s


def _standby_sql(standby, database: str, sql: str):
    engine = create_engine(standby.url(database).replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


@pytest.fixture
def pg_db(_databases):
    """PostgreSQL only (standbys are PostgreSQL's; SQLite: ``test_sqlite_primary_ignores_read_urls``)."""
    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set: read standbys exist on PostgreSQL only")
    database = _databases.get("postgresql")
    try:
        yield database
    finally:
        empty_tables(database)


@pytest.fixture
def session(pg_db):
    with pg_db.session() as s:
        yield s


def _caught_up(standby, db) -> bool:
    with db.engine.connect() as conn:
        current = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
    return bool(_standby_sql(standby, "postgres", f"SELECT pg_last_wal_replay_lsn() >= '{current}'::pg_lsn"))


def _client(db, standby, **settings):
    name = make_url(db.url).database
    assert wait_until(lambda: _caught_up(standby, db), timeout=60)  # the test database exists there too
    node_db = Database(db.url)  # a node's own pool: the replicas route its sessions
    app = create_app(Settings(database_url=db.url, database_read_urls=standby.url(name),
                              database_read_check_seconds=0.2, cookie_secure=False, **settings), db=node_db)
    return TestClient(app), node_db


def _thing(client, token, name):
    r = client.post("/sta/v1.1/Things", json={"name": name, "description": "d"}, headers=auth_headers(token))
    assert r.status_code == 201, r.text
    return r.headers["location"]


def _names(client, **kw):
    r = client.get("/sta/v1.1/Things?$select=name", **kw)
    assert r.status_code == 200, r.text
    return {t["name"] for t in r.json()["value"]}


def test_anonymous_reads_come_from_the_standby_and_writers_read_their_writes(pg_db, session, standby):
    db, name = pg_db, make_url(pg_db.url).database
    token = make_token(session, make_user(session, "admin"))
    client, node_db = _client(db, standby, database_read_max_lag_bytes=1 << 40, database_read_sticky_seconds=30)
    with client:
        _thing(client, token, "before")
        assert wait_until(lambda: _caught_up(standby, db), timeout=60)
        assert wait_until(lambda: "before" in _names(client), timeout=30)
        _standby_sql(standby, name, "SELECT pg_wal_replay_pause()")
        try:
            _thing(client, token, "after")
            client.cookies.clear()  # the writer's client; an anonymous reader has no cookie
            assert _names(client) == {"before"}  # the paused standby answered
            # the writer (token) reads the primary
            assert _names(client, headers=auth_headers(token)) == {"before", "after"}
            # an anonymous write sets the read-your-writes cookie: that caller reads the primary meanwhile
            r = client.post("/api/v1/auth/logout")
            assert STICKY_COOKIE in r.headers.get("set-cookie", "")
            assert _names(client) == {"before", "after"}
            client.cookies.clear()
            assert _names(client) == {"before"}
            # a lag bound the paused standby now exceeds: reads fall back to the primary
            node_db.replicas.max_lag_bytes = 0
            assert wait_until(lambda: not node_db.replicas.available, timeout=30)
            assert _names(client) == {"before", "after"}
        finally:
            _standby_sql(standby, name, "SELECT pg_wal_replay_resume()")
        node_db.replicas.max_lag_bytes = 1 << 40
        assert wait_until(lambda: node_db.replicas.available, timeout=30)
        assert wait_until(lambda: _names(client) == {"before", "after"}, timeout=30)
    node_db.dispose()


def test_a_standby_that_stops_costs_no_read(pg_db, session, standby):
    db = pg_db
    token = make_token(session, make_user(session, "admin"))
    client, node_db = _client(db, standby)
    try:
        with client:
            _thing(client, token, "one")
            client.cookies.clear()
            assert wait_until(lambda: _caught_up(standby, db), timeout=60)
            assert node_db.replicas.available and "one" in _names(client)
            standby.stop("fast")
            try:
                # answered at once: the failed standby read is repeated on the primary
                assert _names(client) == {"one"}
                assert _names(client) == {"one"}
                assert wait_until(lambda: not node_db.replicas.available, timeout=30)
            finally:
                standby.start()
            assert wait_until(lambda: node_db.replicas.available, timeout=60)
            assert _names(client) == {"one"}
    finally:
        node_db.dispose()


def test_unreachable_standby_at_start_is_logged_and_skipped(pg_db, caplog):
    db, name = pg_db, make_url(pg_db.url).database
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/{name}"
    node_db = Database(db.url)
    with caplog.at_level(logging.ERROR, logger="stadslab.replicas"):
        app = create_app(Settings(database_url=db.url, database_read_urls=dead), db=node_db)
    assert any("unreachable at start" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)
    with TestClient(app) as client:
        assert client.get("/sta/v1.1/Things").status_code == 200
    node_db.dispose()


def test_sqlite_primary_ignores_read_urls(sqlite_db, caplog):
    db = sqlite_db
    node_db = Database(db.url)
    with caplog.at_level(logging.WARNING, logger="stadslab.replicas"):
        app = create_app(Settings(database_url=db.url, database_read_urls="postgresql://x@127.0.0.1:1/y"), db=node_db)
    assert any("need a PostgreSQL primary" in r.getMessage() for r in caplog.records)
    with TestClient(app) as client:
        assert client.get("/sta/v1.1/Things").status_code == 200
    node_db.dispose()
