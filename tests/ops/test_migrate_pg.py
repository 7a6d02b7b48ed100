"""An embedded SQLite installation with demo data moves to an empty PostgreSQL database intact."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from stadslab.core.database import Database
from stadslab.core.errors import BadRequest, Conflict
from stadslab.core.migrate import upgrade
from stadslab.labs.demo_loader import load_demo
from stadslab.network.reference import load_reference
from stadslab.ops.fingerprint import data_tables, table_fingerprints
from stadslab.ops.migrate_pg import DERIVED_TABLES, migrate_to_postgres

COMPARED = [t for t in data_tables() if t.name not in DERIVED_TABLES]

from .conftest import fill


@pytest.fixture
def sqlite_installation(tmp_path):
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        load_reference(s)
        load_demo(s)
    fill(db)  # SensorThings Observations and audit events on top of the demo registry
    yield db
    db.dispose()


def test_migrate_sqlite_with_demo_data_to_fresh_postgres(sqlite_installation, fresh_pg):
    source = sqlite_installation
    seen: set[str] = set()
    report = migrate_to_postgres(source.url, fresh_pg, batch=7, progress=lambda t, d, n: seen.add(t))
    assert report.ok, report.mismatches
    assert report.audit_chain_ok is True
    assert report.rows["projects"] > 3 and report.rows["sta_observations"] >= 8 and report.rows["audit_events"] > 0
    assert {"projects", "sta_observations", "audit_events"} <= seen
    assert report.search_documents.get("project", 0) == report.rows["projects"]  # the index was rebuilt

    target = Database(fresh_pg)
    try:
        assert table_fingerprints(target.engine, COMPARED) == \
            table_fingerprints(source.engine, COMPARED)
        with target.engine.connect() as conn:
            # sequences continue after the copied ids: a new row gets max(id) + 1
            top = conn.execute(text("SELECT max(id) FROM projects")).scalar()
            nxt = conn.execute(text("SELECT nextval(pg_get_serial_sequence('projects', 'id'))")).scalar()
            assert nxt == top + 1
            # the rebuilt search index finds demo content with the PostgreSQL backend
            assert conn.execute(text("SELECT count(*) FROM search_documents")).scalar() > 0
        from stadslab.search.service import search

        title = source.engine.connect().execute(text("SELECT title FROM projects ORDER BY id LIMIT 1")).scalar()
        with target.session() as s:
            assert search(s, title.split()[0], limit=5).total > 0
    finally:
        target.dispose()


def test_migrate_refuses_a_filled_target_and_leaves_it_untouched(sqlite_installation, fresh_pg):
    migrate_to_postgres(sqlite_installation.url, fresh_pg)
    target = Database(fresh_pg)
    before = table_fingerprints(target.engine)
    with pytest.raises(Conflict, match="not empty"):
        migrate_to_postgres(sqlite_installation.url, fresh_pg)
    assert table_fingerprints(target.engine) == before
    target.dispose()


def test_migrate_rejects_wrong_urls(sqlite_installation, tmp_path):
    with pytest.raises(BadRequest, match="--to"):
        migrate_to_postgres(sqlite_installation.url, f"sqlite:///{tmp_path / 'x.db'}")


def test_ids_deleted_before_the_move_are_not_given_again_after_it(tmp_path, fresh_pg):
    """SQLite remembers the highest id it ever handed out (AUTOINCREMENT); the PostgreSQL
    sequences continue after that, not after the highest id that is left."""
    url = f"sqlite:///{tmp_path / 'deleted.db'}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        load_reference(s)
    fill(db)
    with db.engine.begin() as conn:
        top = conn.execute(text("SELECT max(id) FROM projects")).scalar()
        conn.execute(text("DELETE FROM projects WHERE id = :id"), {"id": top})
    db.dispose()
    assert migrate_to_postgres(url, fresh_pg).ok
    target = Database(fresh_pg)
    try:
        with target.engine.connect() as conn:
            nxt = conn.execute(text("SELECT nextval(pg_get_serial_sequence('projects', 'id'))")).scalar()
        assert nxt == top + 1
    finally:
        target.dispose()
