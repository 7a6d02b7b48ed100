"""Periodic work on exactly one node at a time: ``run_as_leader(db, name, fn, interval)``.

Several nodes (each with several worker processes) share one database. Periodic work, such as
partition maintenance, retention, federation harvests or the audit head export, must run once,
not once per process, and must move to another process when the one doing it dies.

PostgreSQL: every process that wants to do the work ``name`` keeps trying to take the
session-level advisory lock ``pg_try_advisory_lock(key(name))`` on a connection of its own.
The one that has it is the leader for ``name`` and runs ``fn`` every ``interval`` seconds;
the others try again every ``poll`` seconds. The lock belongs to the leader's database
session: when the leader dies however it dies (SIGKILL, power loss of its machine: the
server notices the closed connection), PostgreSQL ends that session and the next process to
try becomes the leader. Before each run the leader checks its connection still answers, so
a leader cut off from the database stops leading instead of running alongside a new one.

SQLite: one machine, one database file. The leader holds an exclusive ``flock`` on a file
beside the database (the kernel drops it when the process dies), so several worker processes
of one server also run the work once. An in-memory database is one process: always leader.

Core knows no capability: the capabilities start their own loops (their contribution's start
hook) and stop them in their stop hook. ``fn`` gets no arguments and opens its own sessions.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger("stadslab.leader")

#: Seconds between two attempts of a follower to become the leader.
DEFAULT_POLL_SECONDS = 5.0


def lock_key(name: str) -> int:
    """The advisory lock key of ``name``: a signed 64-bit number (PostgreSQL's bigint)."""
    value = int.from_bytes(hashlib.sha256(f"stadslab-leader:{name}".encode()).digest()[:8], "big")
    return value - (1 << 64) if value >= (1 << 63) else value


class _PostgresLock:
    def __init__(self, url: str, name: str):
        self.engine = create_engine(url, poolclass=NullPool)
        self.key = lock_key(name)
        self.conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self.conn is not None:
            return self.still_held()
        try:
            conn = self.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar_one()
            conn.commit()
        except Exception as exc:  # noqa: BLE001 - database away: a follower until it is back
            log.debug("leader lock %s not tried: %s", self.key, type(exc).__name__)
            return False
        if not got:
            conn.close()
            return False
        self.conn = conn
        return True

    def still_held(self) -> bool:
        """The lock lives as long as the session: a session that still answers still holds it."""
        try:
            self.conn.execute(text("SELECT 1")).scalar_one()
            self.conn.commit()
        except Exception as exc:  # noqa: BLE001
            log.warning("leader connection lost (%s); no longer leading", type(exc).__name__)
            self.release()
            return False
        return True

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()  # ends the session: the lock goes with it
            except Exception:  # noqa: BLE001
                pass
            self.conn = None

    def close(self) -> None:
        self.release()
        self.engine.dispose()


class _FileLock:
    def __init__(self, path: Path | None):
        self.path = path
        self.handle = None

    def try_acquire(self) -> bool:
        if self.path is None or self.handle is not None:
            return True
        handle = open(self.path, "ab")  # noqa: SIM115 - held while leading
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self.handle = handle
        return True

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    close = release


def _lock_for(url: str, name: str):
    u = make_url(url)
    if u.get_backend_name() == "postgresql":
        return _PostgresLock(url, name)
    database = u.database or ""
    if not database or database == ":memory:" or database.startswith("file::memory"):
        return _FileLock(None)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    return _FileLock(Path(os.path.abspath(database) + f".leader-{safe}.lock"))


class LeaderLoop:
    """A daemon thread: become the leader of ``name`` and, while leading, run ``fn`` every ``interval``."""

    def __init__(self, url: str, name: str, fn: Callable[[], object], interval: float, *,
                 poll: float = DEFAULT_POLL_SECONDS):
        self.name = name
        self.fn = fn
        self.interval = interval
        self.poll = poll
        self._lock = _lock_for(url, name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"leader-{name}", daemon=True)
        self.leading = False
        self.runs = 0

    def start(self) -> LeaderLoop:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self._lock.close()
        self.leading = False

    def _run(self) -> None:
        next_run = 0.0
        while not self._stop.is_set():
            leading = self._lock.try_acquire()
            if leading != self.leading:
                log.info("%s: %s", self.name, "this process now leads" if leading else "no longer leading")
                self.leading = leading
                next_run = 0.0  # a new leader runs at once: the old one may have died before its turn
            if leading and time.monotonic() >= next_run:
                try:
                    self.fn()
                except Exception:  # noqa: BLE001 - the loop outlives one bad run
                    log.exception("%s: periodic run failed", self.name)
                self.runs += 1
                next_run = time.monotonic() + self.interval
            wait = min(self.poll, max(0.0, next_run - time.monotonic())) if leading else self.poll
            self._stop.wait(max(wait, 0.05))


def run_as_leader(db, name: str, fn: Callable[[], object], interval: float, *,
                  poll: float = DEFAULT_POLL_SECONDS) -> LeaderLoop:
    """Run ``fn`` every ``interval`` seconds on the one process (of all nodes) that leads ``name``.

    ``db`` is the process's ``core.database.Database`` (its URL names the shared database).
    Returns the started loop; call ``stop()`` on it in the capability's stop hook.
    """
    return LeaderLoop(db.url, name, fn, interval, poll=poll).start()


__all__ = ["LeaderLoop", "lock_key", "run_as_leader"]
