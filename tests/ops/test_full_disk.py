"""A full disk gives clear errors, and writing resumes once space is back (issue #8).

The SQLite database lives on a small tmpfs mounted for the test; a ballast file
fills it. Mounting needs root (CI runs as root); without it the test fails
under STADSLAB_TEST_REQUIRE_ALL instead of skipping silently.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from stadslab.core.database import Database
from stadslab.core.migrate import upgrade
from stadslab.network.reference import load_reference
from tests.conftest import require_service
from tests.factories import project_payload
from tests.governance.factories import auth_headers, make_token, make_user
from tests.ops.serving import served
from tests.sensorthings.helpers import STA, full_thing

DISK_MB = 16


@pytest.fixture
def small_disk(tmp_path):
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    if os.geteuid() != 0:
        require_service("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0700", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        require_service(f"cannot mount a tmpfs: {done.stderr.strip()}")
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


def _row_counts(db_file: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def test_full_disk_gives_507_keeps_reads_and_recovers(small_disk, tmp_path):
    db_file = small_disk / "stadslab.db"
    url = f"sqlite:///{db_file}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        load_reference(s)
        headers = auth_headers(make_token(s, make_user(s, "admin")))
    db.dispose()
    log = tmp_path / "server.log"
    with served(url, log) as base, httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        r = c.post("/api/v1/projects", json=project_payload(title="Voor de volle schijf"))
        assert r.status_code == 201, r.text
        r = c.post(f"{STA}/Things", json=full_thing(n_obs=1))
        assert r.status_code == 201, r.text
        ds = c.get(r.headers["location"] + "/Datastreams").json()["value"][0]["@iot.id"]
        projects_before = c.get("/api/v1/projects", params={"page_size": 500}).json()
        observations_before = c.get(f"{STA}/Datastreams({ds})/Observations").json()["value"]

        _checkpoint(db_file)
        rows_before = _row_counts(db_file)
        ballast = _fill(small_disk)
        log_size = log.stat().st_size

        full = [c.post("/api/v1/projects", json=project_payload(title="Op een volle schijf")),
                c.post(f"{STA}/Datastreams({ds})/Observations",
                       json={"phenomenonTime": "2024-06-01T12:00:00Z", "result": 42})]
        for r in full:
            assert r.status_code == 507, r.text
            assert r.headers["content-type"] == "application/problem+json"
            problem = r.json()
            assert problem["status"] == 507
            assert "disk space" in problem["detail"] and "not stored" in problem["detail"]

        # reads still work, and nothing of the refused writes is there (no row, no audit event)
        assert _row_counts(db_file) == rows_before
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
