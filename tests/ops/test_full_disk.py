"""A full disk gives clear errors, and writing resumes once space is back (issue #8).

The database lives on a small tmpfs mounted for the test (SQLite: the database
file; PostgreSQL: a tablespace holding a fresh database, the WAL stays on the
server's own disk); a ballast file fills it. Mounting needs root (CI runs as
root); without it the test fails under STADSLAB_TEST_REQUIRE_ALL instead of
skipping silently.
"""

from __future__ import annotations

import errno
import os
import pwd
import random
import sqlite3
import string
import subprocess
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from stadslab.core.database import Database, normalise_url
from stadslab.core.migrate import upgrade
from stadslab.network.reference import load_reference
from tests.conftest import PG_URL, require_service
from tests.factories import project_payload
from tests.governance.factories import auth_headers, make_token, make_user
from tests.support.processes import served
from tests.sensorthings.helpers import STA, full_thing

DISK_MB = 16


def _mount(mountpoint: Path, size_mb: int, owner: str | None = None) -> None:
    if os.geteuid() != 0:
        require_service("mounting a tmpfs needs root")
    options = f"size={size_mb}m,mode=0700"
    if owner:
        user = pwd.getpwnam(owner)
        options += f",uid={user.pw_uid},gid={user.pw_gid}"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        require_service(f"cannot mount a tmpfs: {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    _mount(mountpoint, DISK_MB)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _fill(disk: Path) -> Path:
    """Writes a ballast file until the file system refuses; returns it."""
    ballast = disk / "ballast"
    chunk = b"\0" * 65536
    with open(ballast, "wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
        while True:  # the last few bytes, so not even one page is left
            try:
                f.write(b"\0" * 512)
            except OSError:
                break
    return ballast


def _checkpoint(db_file: Path) -> None:
    """Empties the WAL, so the next write needs new space (a WAL with room would absorb it)."""
    with sqlite3.connect(db_file) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _row_counts(url: str) -> dict[str, int]:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
    finally:
        engine.dispose()


def _prepare(url: str) -> dict[str, str]:
    """Schema, reference data and an administrator; returns the administrator's auth headers."""
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        load_reference(s)
        headers = auth_headers(make_token(s, make_user(s, "admin")))
    db.dispose()
    return headers


def _noise(n: int) -> str:
    """Text that compresses poorly, so PostgreSQL has to store (and find room for) all of it."""
    rng = random.Random(n)
    return "".join(rng.choice(string.ascii_letters + string.digits + " ") for _ in range(n))


def _scenario(url: str, headers: dict, disk: Path, log: Path, before_fill=lambda: None) -> None:
    with served(url, log) as base, httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        r = c.post("/api/v1/projects", json=project_payload(title="Voor de volle schijf"))
        assert r.status_code == 201, r.text
        r = c.post(f"{STA}/Things", json=full_thing(n_obs=1))
        assert r.status_code == 201, r.text
        ds = c.get(r.headers["location"] + "/Datastreams").json()["value"][0]["@iot.id"]
        projects_before = c.get("/api/v1/projects", params={"page_size": 500}).json()
        observations_before = c.get(f"{STA}/Datastreams({ds})/Observations").json()["value"]

        before_fill()
        rows_before = _row_counts(url)
        ballast = _fill(disk)
        log_size = log.stat().st_size

        # Large enough to need new pages: a PostgreSQL table with room left in its last page
        # would take a small row even on a full disk.
        full = [c.post("/api/v1/projects", json=project_payload(title="Op een volle schijf",
                                                                summary=_noise(19_000))),
                c.post(f"{STA}/Datastreams({ds})/Observations",
                       json={"phenomenonTime": "2024-06-01T12:00:00Z", "result": 42,
                             "parameters": {"ruis": _noise(200_000)}})]  # under STADSLAB_JSON_MAX_BYTES
        for r in full:
            assert r.status_code == 507, r.text
            assert r.headers["content-type"] == "application/problem+json"
            problem = r.json()
            assert problem["status"] == 507
            assert "disk space" in problem["detail"] and "not stored" in problem["detail"]

        # reads still work, and nothing of the refused writes is there (no row, no audit event)
        assert _row_counts(url) == rows_before
        assert c.get("/api/v1/projects", params={"page_size": 500}).json() == projects_before
        assert c.get(f"{STA}/Datastreams({ds})/Observations").json()["value"] == observations_before
        assert c.get("/api/v1/health/live").status_code == 200
        server_log = log.read_bytes()[log_size:].decode(errors="replace")
        assert "storage full" in server_log.lower(), server_log[-3000:]

        # space comes back: writing resumes without a restart
        ballast.unlink()
        r = c.post("/api/v1/projects", json=project_payload(title="Na de volle schijf"))
        assert r.status_code == 201, r.text
        r = c.post(f"{STA}/Datastreams({ds})/Observations",
                   json={"phenomenonTime": "2024-06-01T13:00:00Z", "result": 43})
        assert r.status_code == 201, r.text
        titles = [p["title"] for p in c.get("/api/v1/projects", params={"page_size": 500}).json()["items"]]
        assert "Na de volle schijf" in titles and "Op een volle schijf" not in titles
        results = [o["result"] for o in c.get(f"{STA}/Datastreams({ds})/Observations").json()["value"]]
        assert 43 in results and 42 not in results


def test_full_disk_on_sqlite_gives_507_keeps_reads_and_recovers(small_disk, tmp_path):
    db_file = small_disk / "stadslab.db"
    url = f"sqlite:///{db_file}"
    headers = _prepare(url)
    _scenario(url, headers, small_disk, tmp_path / "server.log", before_fill=lambda: _checkpoint(db_file))


@pytest.fixture
def postgres_on_small_disk():
    """A fresh PostgreSQL database whose tablespace is a small tmpfs; dropped afterwards."""
    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set")
    # the server runs as postgres: the mount point must be reachable for it (not under /tmp/pytest-of-root)
    mountpoint = Path(tempfile.mkdtemp(prefix="stadslab-disk-", dir="/var/tmp"))
    mountpoint.chmod(0o755)
    _mount(mountpoint, 64, owner="postgres")
    suffix = uuid.uuid4().hex[:10]
    space, name = f"stadslab_small_{suffix}", f"stadslab_full_{suffix}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE TABLESPACE {space} LOCATION '{mountpoint}'"))
            conn.execute(text(f'CREATE DATABASE "{name}" TABLESPACE {space}'))
        yield make_url(normalise_url(PG_URL)).set(database=name).render_as_string(hide_password=False), mountpoint
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f"DROP TABLESPACE IF EXISTS {space}"))
        admin.dispose()
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        mountpoint.rmdir()


def test_full_disk_on_postgresql_gives_507_keeps_reads_and_recovers(postgres_on_small_disk, tmp_path):
    url, disk = postgres_on_small_disk
    headers = _prepare(url)
    _scenario(url, headers, disk, tmp_path / "server.log")
