"""The commands as an operator runs them: ``stadslab backup``, ``restore``, ``migrate-to-postgres``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stadslab.ops.fingerprint import table_fingerprints
from stadslab.ops.fingerprint import data_tables
from stadslab.ops.migrate_pg import DERIVED_TABLES

from .conftest import fill

COMPARED = [t for t in data_tables() if t.name not in DERIVED_TABLES]
STADSLAB = str(Path(sys.executable).with_name("stadslab"))


def _run(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STADSLAB_DATABASE_URL": url}
    return subprocess.run([STADSLAB, *args], env=env, capture_output=True, text=True, timeout=300)


def test_backup_then_restore_over_changed_data(db, tmp_path):
    fill(db)
    before = table_fingerprints(db.engine)
    out = tmp_path / "nightly.backup"
    done = _run(db.url, "backup", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "Backup written" in done.stderr and out.stat().st_size > 0
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE projects SET title = 'changed after the backup'")
    assert table_fingerprints(db.engine) != before
    db.engine.dispose()  # pg_restore --clean drops tables: no pooled connection may hold locks
    done = _run(db.url, "restore", str(out), "--yes")
    assert done.returncode == 0, done.stderr
    assert table_fingerprints(db.engine) == before


def test_cli_errors_are_clear_not_tracebacks(db, tmp_path):
    junk = tmp_path / "junk"
    junk.write_text("nope")
    done = _run(db.url, "restore", str(junk), "--yes")
    assert done.returncode == 2
    assert "neither an SQLite backup" in done.stderr and "Traceback" not in done.stderr


def test_migrate_to_postgres_command(tmp_path, fresh_pg):
    from stadslab.core.database import Database
    from stadslab.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'small.db'}"
    upgrade(url)
    source = Database(url)
    from stadslab.network.reference import load_reference

    with source.session() as s:
        load_reference(s)
    fill(source)
    done = _run(url, "migrate-to-postgres", "--to", fresh_pg)
    assert done.returncode == 0, done.stderr
    assert "Verified" in done.stderr
    target = Database(fresh_pg)
    assert table_fingerprints(target.engine, tables=COMPARED) == \
        table_fingerprints(source.engine, tables=COMPARED)
    target.dispose()
    source.dispose()
