"""Engine, sessions and the declarative base shared by every capability.

SQLite (embedded default, WAL mode) and PostgreSQL (psycopg 3, production) are
both first-class. Dialect differences are kept behind small interfaces in the
capabilities that need them (for example ``search/backends``); this module only
normalises connection set-up, including the statement timeout.

Statement timeout (issue #13: no single request can hold the server). The app's
``Database`` bounds every statement (``STADSLAB_STATEMENT_TIMEOUT_MS``); one that runs
out fails with PostgreSQL's ``QueryCanceled`` or SQLite's "interrupted", which
``core.errors`` answers with 503. PostgreSQL: ``SET statement_timeout`` once per new
connection, so it costs no round trip per request and also covers the raw pipelined
statements of the group commit. SQLite has no such setting: a progress handler, called
every few thousand virtual-machine steps, stops the statement once it has *run* longer
than the limit. Pauses between two calls (a streaming reader between fetches) are not
run time, so a slow client reading a large export is not cut off. A ``Database`` built
without a timeout (the CLIs: migrations, backups, imports, migrate-to-postgres) has none;
maintenance inside the app calls ``lift_statement_timeout`` for its transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from fastapi import Request
from sqlalchemy import DateTime, MetaData, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: ``__table_args__`` of every table whose ids are published (registry items, SensorThings
#: entities): SQLite reuses the rowid of a deleted last row unless the table is AUTOINCREMENT,
#: and a reused id makes an old link, a harvested copy or a tombstone point at another item.
#: PostgreSQL sequences never hand out an id twice.
NO_ID_REUSE = {"sqlite_autoincrement": True}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow, index=True)


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` URLs and route them to psycopg 3."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


#: SQLite calls the progress handler after this many virtual-machine steps (well under 1 ms of work).
SQLITE_PROGRESS_STEPS = 2000
#: A longer pause between two progress calls is the reader's time between fetches, not run time.
SQLITE_IDLE_GAP_S = 0.05
_CLOCK = "stadslab_statement_clock"


class _SqliteStatementClock:
    """Run time of a connection's current statement; the progress handler SQLite calls while it runs.

    Calls come well under a millisecond apart while the statement runs; a longer gap is time
    the statement was not running (its reader paused between fetches) and is not counted.
    On a starved CPU some run time may be missed too: the statement is then stopped later
    than the limit, never sooner.
    """

    __slots__ = ("limit_s", "spent", "last", "lifted")

    def __init__(self, limit_s: float):
        self.limit_s = limit_s
        self.lifted = False
        self.start()

    def start(self) -> None:
        self.spent, self.last = 0.0, time.monotonic()

    def __call__(self) -> int:
        now = time.monotonic()
        step, self.last = now - self.last, now
        if step < SQLITE_IDLE_GAP_S:
            self.spent += step
        return 1 if self.spent > self.limit_s and not self.lifted else 0  # non-zero: "interrupted"


def _install_sqlite_timeout(engine: Engine, timeout_ms: int) -> None:
    def connect(dbapi_conn, record) -> None:
        clock = record.info[_CLOCK] = _SqliteStatementClock(timeout_ms / 1000)
        dbapi_conn.set_progress_handler(clock, SQLITE_PROGRESS_STEPS)

    def before_execute(conn, _cursor, _statement, _parameters, _context, _executemany) -> None:
        clock = conn.connection.info.get(_CLOCK)
        if clock is not None:
            clock.start()

    def unlift(info: dict) -> None:
        clock = info.get(_CLOCK)
        if clock is not None:
            clock.lifted = False

    event.listen(engine, "connect", connect)
    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "commit", lambda conn: unlift(conn.connection.info))
    event.listen(engine, "rollback", lambda conn: unlift(conn.connection.info))
    # and when the connection goes back to the pool: never hand a lifted clock to the next request
    event.listen(engine, "checkin", lambda _dbapi_conn, record: unlift(record.info))


def _install_postgres_timeout(engine: Engine, timeout_ms: int) -> None:
    def connect(dbapi_conn, _record) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET statement_timeout = {int(timeout_ms)}")
        dbapi_conn.commit()  # a session setting: kept for the connection's life

    event.listen(engine, "connect", connect)


def lift_statement_timeout(session_or_connection) -> None:
    """Let the rest of this transaction run unbounded: long maintenance started inside the app
    (partition maintenance, retention) is not request work and must not be cut off.

    PostgreSQL: ``SET LOCAL``, which ends with the transaction. SQLite: the connection's clock
    ignores its limit until the transaction commits or rolls back. No-op without a timeout.
    """
    conn = session_or_connection
    if hasattr(conn, "connection") and callable(conn.connection):  # a Session: its connection
        conn = conn.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL statement_timeout = 0"))
    else:
        clock = conn.connection.info.get(_CLOCK)
        if clock is not None:
            clock.lifted = True


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer. SQLite: ``BEGIN IMMEDIATE`` takes the write lock
    now, so a concurrent writer waits (``busy_timeout``) here instead of failing with "database is
    locked" when its read snapshot went stale before its first write (SQLite cannot upgrade a
    reader whose snapshot is out of date). No-op on PostgreSQL, or when a transaction is open."""
    conn = session.connection()
    if conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, statement_timeout_ms: int = 0, **kwargs) -> Engine:
    """An engine for ``url``; ``statement_timeout_ms`` > 0 bounds every statement (see the module)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if statement_timeout_ms > 0:
            _install_sqlite_timeout(engine, statement_timeout_ms)
    else:
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 10)
            kwargs.setdefault("max_overflow", 10)
        # No pool_pre_ping: it costs a round trip on every checkout. A connection that died
        # (server restart) fails its first statement instead; SQLAlchemy then invalidates the
        # whole pool, the request gets a 503 with Retry-After (core.errors) and the next
        # request connects afresh.
        kwargs.setdefault("pool_pre_ping", False)
        engine = create_engine(url, **kwargs)
        if statement_timeout_ms > 0:
            _install_postgres_timeout(engine, statement_timeout_ms)
    return engine


class Database:
    """Owns the engine and the session factory of one process.

    ``statement_timeout_ms``: 0 (the default, for maintenance) or the bound of every statement
    (the app passes ``STADSLAB_STATEMENT_TIMEOUT_MS``).
    """

    def __init__(self, url: str, *, statement_timeout_ms: int = 0, **engine_kwargs):
        self.url = normalise_url(url)
        self.statement_timeout_ms = statement_timeout_ms
        self.engine = make_engine(self.url, statement_timeout_ms=statement_timeout_ms, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self.sessionmaker()
        try:
            yield session
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one session per request. Services commit their own unit of work."""
    db: Database = request.app.state.db
    with db.session() as session:
        yield session
