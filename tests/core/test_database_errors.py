"""Database infrastructure failures reach clients as 503 + Retry-After or 507, never as a 500."""

from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.core.errors import database_problem


def _closed_port() -> int:
    with socket.socket() as s:  # bound, then released: nothing listens there afterwards
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_postgres_gives_503_with_retry_after():
    app = create_app(Settings(database_url=f"postgresql://postgres@127.0.0.1:{_closed_port()}/x"))
    with TestClient(app, raise_server_exceptions=False) as c:
        for path in ("/api/v1/projects", "/sta/v1.1/Things"):
            r = c.get(path)
            assert r.status_code == 503, (path, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert int(r.headers["retry-after"]) > 0
            assert "temporarily unavailable" in r.json()["detail"]


def test_sqlite_full_maps_to_507(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'full.db'}")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT)"))
        conn.execute(text("PRAGMA max_page_count = 3"))  # a real SQLITE_FULL, without filling a disk
        with pytest.raises(OperationalError) as info:
            for _ in range(100):
                conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "x" * 4000})
    engine.dispose()
    mapped = database_problem(info.value)
    assert mapped is not None and mapped.status == 507
    assert "disk space" in mapped.detail


def test_other_database_errors_stay_unmapped(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn, pytest.raises(OperationalError) as info:
        conn.execute(text("SELECT * FROM no_such_table"))
    engine.dispose()
    assert database_problem(info.value) is None
