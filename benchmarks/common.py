"""Shared helpers for benchmark scripts: fresh databases on both dialects, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stadslab.core.database import Database, normalise_url
from stadslab.core.migrate import upgrade
from stadslab.network.reference import load_reference

PG_ADMIN = os.environ.get("STADSLAB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {date.today().isoformat()}"


@contextmanager
def fresh_database(dialect: str, name: str):
    """A migrated, seeded database that is removed afterwards."""
    if dialect == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/{name}.db"
            upgrade(url)
            db = Database(url)
            with db.session() as s:
                load_reference(s)
            try:
                yield db
            finally:
                db.dispose()
        return
    admin = create_engine(normalise_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(PG_ADMIN)).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        load_reference(s)
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary_ms(values: list[float]) -> str:
    return (f"p50 {percentile(values, 50) * 1000:.2f} ms, p95 {percentile(values, 95) * 1000:.2f} ms, "
            f"mean {statistics.fmean(values) * 1000:.2f} ms")
