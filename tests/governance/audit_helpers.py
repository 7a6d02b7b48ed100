"""Test-only access around the append-only audit trail.

The triggers of migration 0004 reject UPDATE and DELETE on audit_events. Tests that
must empty the table (between tests) or tamper with it (to prove that
``verify_chain`` notices) lift the triggers inside one transaction and put the very
same DDL back, read from the migration itself.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from sqlalchemy import text

import stadslab

MIGRATION = Path(stadslab.__file__).parent / "migrations" / "versions" / "0004_governance.py"


@lru_cache(maxsize=1)
def migration():
    spec = importlib.util.spec_from_file_location("stadslab_migration_0004", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _drop(conn, dialect: str) -> None:
    on = " ON audit_events" if dialect == "postgresql" else ""
    conn.execute(text(f"DROP TRIGGER IF EXISTS audit_events_no_update{on}"))
    conn.execute(text(f"DROP TRIGGER IF EXISTS audit_events_no_delete{on}"))


def _create(conn, dialect: str) -> None:
    for ddl in (migration().PG_TRIGGERS if dialect == "postgresql" else migration().SQLITE_TRIGGERS):
        conn.execute(text(ddl))


def bypass_guard(db, *statements: str, params: dict | None = None) -> None:
    """Run SQL against audit_events with the append-only triggers lifted (one transaction).

    PostgreSQL: a superuser's ``session_replication_role = replica`` skips ordinary
    triggers for this transaction only (no DDL lock, so open readers do not block it).
    SQLite: drop and re-create the triggers inside the transaction.
    """
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            _drop(conn, db.dialect)
        for sql in statements:
            conn.execute(text(sql), params or {})
        if db.dialect != "postgresql":
            _create(conn, db.dialect)


def purge_audit_trail(db) -> None:
    """Empty the audit trail between tests (SQLite; PostgreSQL's TRUNCATE does not fire the triggers)."""
    if db.dialect == "sqlite":
        bypass_guard(db, "DELETE FROM audit_events")
