"""Backup and restore into an EMPTY database reproduce every table exactly, on both dialects."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import Table, MetaData

from stadslab.core.database import Database
from stadslab.core.errors import BadRequest
from stadslab.ops.backup import backup, restore
from stadslab.ops.fingerprint import data_tables, table_fingerprints

from .conftest import fill, fresh_postgres_database


def _everything(db: Database) -> dict:
    tables = data_tables() + [Table("alembic_version", MetaData(), autoload_with=db.engine)]
    return table_fingerprints(db.engine, tables)


def _roundtrip(db: Database, target_url: str, tmp_path) -> None:
    fill(db)
    before = _everything(db)
    assert before["sta_observations"][0] >= 8 and before["audit_events"][0] > 0 and before["projects"][0] == 3
    steps = []
    out = backup(db.url, tmp_path / "stadslab.backup", progress=lambda d, t: steps.append((d, t)))
    assert steps and steps[-1][0] == steps[-1][1]  # the progress reached its total
    restore(target_url, out)
    restored = Database(target_url)
    try:
        assert _everything(restored) == before
        from stadslab.governance.audit import verify_chain

        with restored.session() as s:
            assert verify_chain(s) == (True, None)
    finally:
        restored.dispose()


def test_backup_restore_roundtrip(db, tmp_path):
    if db.dialect == "sqlite":
        _roundtrip(db, f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    else:
        with fresh_postgres_database() as url:
            _roundtrip(db, url, tmp_path)


def test_sqlite_backup_is_consistent_while_writing(sqlite_db, tmp_path):
    """A writer holding an open transaction does not leak half its work into the backup."""
    db = sqlite_db
    fill(db)
    before = _everything(db)
    path = db.engine.url.database
    writer = sqlite3.connect(path)
    writer.execute("BEGIN")
    writer.execute("UPDATE projects SET title = 'half-written'")
    try:
        out = backup(db.url, tmp_path / "during-write.sqlite")
    finally:
        writer.rollback()
        writer.close()
    copy = Database(f"sqlite:///{out}")
    try:
        assert _everything(copy) == before
    finally:
        copy.dispose()


def test_restore_refuses_wrong_files(db, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a backup at all")
    with pytest.raises(BadRequest, match="neither an SQLite backup"):
        restore(db.url, junk)
    with pytest.raises(BadRequest, match="does not exist"):
        restore(db.url, tmp_path / "missing")
    existing = tmp_path / "exists"
    existing.write_text("x")
    with pytest.raises(BadRequest, match="exists"):
        backup(db.url, existing)


def test_restore_refuses_dialect_mismatch(tmp_path, fresh_pg):
    plain = tmp_path / "other.sqlite"
    con = sqlite3.connect(plain)
    con.execute("CREATE TABLE alembic_version (version_num TEXT)")
    con.commit()
    con.close()
    with pytest.raises(BadRequest, match="migrate-to-postgres"):
        restore(fresh_pg, plain)
