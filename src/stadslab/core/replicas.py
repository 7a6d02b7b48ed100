"""Anonymous reads from PostgreSQL hot standbys (``STADSLAB_DATABASE_READ_URLS``).

Which requests: a ``GET``/``HEAD`` without credentials (no ``Authorization`` header, no web
session cookie) and without the read-your-writes cookie. That is the public reading: the
SensorThings GETs, the register, OGC API, search and the pages of anonymous visitors. Every
write, and every read of an authenticated caller (token or session: the writers, who read
back what they wrote), goes to the primary. An anonymous caller that wrote (development
``anonymous_writes``, public forms) gets a short-lived cookie that keeps its reads on the
primary for ``database_read_sticky_seconds``.

Which statements: within such a request, a session sends plain ``SELECT`` statements to a
standby; flushes, DML, raw SQL (``text()``), and everything after the session's first write
go to the primary (``RoutingSession.get_bind``). Code using ``db.engine`` directly reads the
primary.

Lag: a thread measures each standby every ``database_read_check_seconds`` by WAL position:
the primary's ``pg_current_wal_lsn()`` against the standby's ``pg_last_wal_replay_lsn()``
(a timestamp would grow while the primary is idle). A standby further behind than
``database_read_max_lag_bytes``, or one that does not answer, serves no reads until it has
caught up again; with none left, reads go to the primary.

Failure while a request runs: when a standby connection fails during a routed ``GET``
before the response has started, the middleware marks the standby down and runs the request
once more on the primary, so a standby stopping answers no request with an error.

Start: a standby URL that cannot be reached (or is not a standby in recovery) is logged and
skipped; the checker keeps trying the reachable ones only. SQLite primaries take no standbys.
"""

from __future__ import annotations

import itertools
import logging
import threading
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from .credentials import SESSION_COOKIE

log = logging.getLogger("stadslab.replicas")

#: Set after an unsafe request of an anonymous caller: its reads stay on the primary meanwhile.
STICKY_COOKIE = "stadslab_primary"
_SAFE = ("GET", "HEAD")


@dataclass
class _Route:
    """The current request's routing; shared (not copied) with the threads that serve it."""

    allowed: bool = True
    failed: bool = False


_ROUTE: ContextVar[_Route | None] = ContextVar("stadslab_read_route", default=None)


@dataclass
class Standby:
    url: str
    engine: Engine
    healthy: bool = False
    lag_bytes: int | None = None

    @property
    def label(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


class ReplicaSet:
    """The reachable standbys of one process and their health."""

    def __init__(self, primary: Engine, urls: list[str], *, max_lag_bytes: int, check_seconds: float,
                 statement_timeout_ms: int = 0):
        from .database import make_engine, normalise_url

        self.primary = primary
        self.max_lag_bytes = max_lag_bytes
        self.check_seconds = check_seconds
        self.standbys: list[Standby] = []
        for url in urls:
            url = normalise_url(url)
            engine = make_engine(url, statement_timeout_ms=statement_timeout_ms, pool_size=5, max_overflow=10)
            standby = Standby(url, engine)
            try:
                with engine.connect() as conn:
                    in_recovery = conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one()
            except Exception as exc:  # noqa: BLE001 - unreachable at start: logged and skipped
                log.error("read standby %s unreachable at start (%s): skipped, reads go to the primary",
                          standby.label, type(getattr(exc, "orig", exc)).__name__)
                engine.dispose()
                continue
            if not in_recovery:
                log.error("read standby %s is not a standby in recovery: skipped", standby.label)
                engine.dispose()
                continue
            event.listen(engine, "handle_error", self._on_error(standby))
            self.standbys.append(standby)
        self._next = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.standbys:
            self.check()

    # ------------------------------------------------------------------ choosing
    @property
    def available(self) -> bool:
        return any(s.healthy for s in self.standbys)

    def pick(self) -> Engine | None:
        healthy = [s for s in self.standbys if s.healthy]
        if not healthy:
            return None
        return healthy[next(self._next) % len(healthy)].engine

    def _on_error(self, standby: Standby):
        def handle(context) -> None:
            if context.is_disconnect or isinstance(context.sqlalchemy_exception, DBAPIError):
                if context.is_disconnect or _is_connection_error(context.original_exception):
                    if standby.healthy:
                        log.warning("read standby %s failed (%s): reads go to the primary",
                                    standby.label, type(context.original_exception).__name__)
                    standby.healthy = False
                route = _ROUTE.get()
                if route is not None:
                    route.failed = True
        return handle

    # ------------------------------------------------------------------ lag
    def check(self) -> None:
        """Measure every standby's replay position against the primary's current one."""
        try:
            with self.primary.connect() as conn:
                current = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        except Exception as exc:  # noqa: BLE001 - primary away: keep the last verdicts
            log.debug("primary WAL position not read: %s", type(exc).__name__)
            return
        for standby in self.standbys:
            try:
                with standby.engine.connect() as conn:
                    lag = conn.execute(text("SELECT pg_wal_lsn_diff(CAST(:p AS pg_lsn), pg_last_wal_replay_lsn())"),
                                       {"p": current}).scalar_one()
                lag = max(0, int(lag)) if lag is not None else None
            except Exception as exc:  # noqa: BLE001
                if standby.healthy:
                    log.warning("read standby %s does not answer (%s): reads go to the primary",
                                standby.label, type(getattr(exc, "orig", exc)).__name__)
                standby.healthy, standby.lag_bytes = False, None
                standby.engine.dispose()
                continue
            standby.lag_bytes = lag
            healthy = lag is not None and lag <= self.max_lag_bytes
            if healthy != standby.healthy:
                log.info("read standby %s %s (%s bytes behind)", standby.label,
                         "serves reads" if healthy else "lags: reads go to the primary", lag)
            standby.healthy = healthy

    def start(self) -> None:
        if self.standbys and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="read-standby-check", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.check_seconds):
            try:
                self.check()
            except Exception:  # noqa: BLE001
                log.exception("checking the read standbys failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for standby in self.standbys:
            standby.engine.dispose()


def _is_connection_error(exc: BaseException | None) -> bool:
    from psycopg import OperationalError

    return isinstance(exc, OperationalError)


class RoutingSession(Session):
    """Plain SELECTs of a routed request go to a healthy standby; everything else to the primary."""

    replicas: ReplicaSet | None = None

    def get_bind(self, mapper=None, clause=None, **kw):
        route = _ROUTE.get()
        if (route is not None and route.allowed and not route.failed and self.replicas is not None
                and clause is not None and getattr(clause, "is_select", False)
                and not self._flushing and not self.info.get("stadslab_wrote")
                and not self.new and not self.dirty and not self.deleted):
            engine = self.replicas.pick()
            if engine is not None:
                return engine
        return super().get_bind(mapper, clause=clause, **kw)


def _mark_write(session: Session, *_args) -> None:
    session.info["stadslab_wrote"] = True


def attach_read_replicas(db, urls: list[str], *, max_lag_bytes: int, check_seconds: float) -> ReplicaSet | None:
    """Give ``db`` standbys for anonymous reads: its session factory then routes (see the module).

    Call before anything listens on ``db.sessionmaker`` (the app does so right after making ``db``).
    """
    if not urls:
        return None
    if db.dialect != "postgresql":
        log.warning("STADSLAB_DATABASE_READ_URLS ignored: read standbys need a PostgreSQL primary")
        return None
    replicas = ReplicaSet(db.engine, urls, max_lag_bytes=max_lag_bytes, check_seconds=check_seconds,
                          statement_timeout_ms=db.statement_timeout_ms)
    if not replicas.standbys:
        return replicas
    routing = type("BoundRoutingSession", (RoutingSession,), {"replicas": replicas})
    db.sessionmaker = sessionmaker(db.engine, class_=routing, expire_on_commit=False)
    event.listen(db.sessionmaker, "after_flush", _mark_write)
    db.replicas = replicas
    return replicas


# ---------------------------------------------------------------------------- the middleware
class ReadRoutingMiddleware:
    """Routes anonymous safe requests to the standbys; sets the read-your-writes cookie after writes."""

    def __init__(self, app, *, replicas: ReplicaSet, sticky_seconds: int = 10, secure: bool = True):
        self.app = app
        self.replicas = replicas
        self.sticky_seconds = sticky_seconds
        self.secure = secure

    async def __call__(self, scope, receive, send):
        replicas = self.replicas
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] not in _SAFE:
            return await self.app(scope, receive, self._sticky(send))
        if not self._anonymous(scope) or not replicas.available:
            return await self.app(scope, receive, send)
        route = _Route()
        token = _ROUTE.set(route)
        try:
            started = {"sent": False}

            async def guarded(message):
                if message["type"] == "http.response.start" and route.failed:
                    raise _RetryOnPrimary
                started["sent"] = True
                await send(message)

            try:
                await self.app(scope, receive, guarded)
                return
            except _RetryOnPrimary:
                pass
            except Exception:
                if started["sent"] or not route.failed:
                    raise
        finally:
            _ROUTE.reset(token)
        # the standby failed before anything was answered: once more, on the primary
        log.info("read of %s repeated on the primary after a standby failure", scope.get("path", "")[:200])
        sent = {"done": False}

        async def replay():
            if not sent["done"]:
                sent["done"] = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _anonymous(self, scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                return False
            if name == b"cookie" and (SESSION_COOKIE.encode() + b"=" in value or STICKY_COOKIE.encode() + b"=" in value):
                return False
        return True

    def _sticky(self, send):
        async def sticky(message):
            if (message["type"] == "http.response.start" and message["status"] < 400
                    and self.sticky_seconds > 0):
                cookie = (f"{STICKY_COOKIE}=1; Max-Age={self.sticky_seconds}; Path=/; HttpOnly; SameSite=Lax"
                          + ("; Secure" if self.secure else ""))
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
            await send(message)
        return sticky


class _RetryOnPrimary(Exception):
    pass


__all__ = ["ReadRoutingMiddleware", "ReplicaSet", "RoutingSession", "STICKY_COOKIE", "attach_read_replicas"]
