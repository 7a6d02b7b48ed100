"""A node that does not match the others refuses to start (docs/deployment.md "Several nodes").

Two mismatches break a multi-node installation in ways no request would reveal at once:

* another ``STADSLAB_SECRET_KEY``: sessions, CSRF tokens and encrypted secrets made by one
  node are refused or unreadable on the other, so users are logged out at random;
* another schema version: the code expects columns the database does not have (or the
  other way round) and fails on some requests only.

At start the process compares the database's Alembic revision with the revisions of its own
code, and the fingerprint of its secret key (an HMAC of a fixed text, never the key) with
those of the *live* nodes registered in ``cluster_nodes`` (seen within ``ALIVE_SECONDS``).
A mismatch raises ``NodeMismatch`` with what differs and what to do; the server does not
start. While it runs the process refreshes its row every ``HEARTBEAT_SECONDS``, and removes it
when it stops. Rows of processes on this host with this pid are its own (several apps in one
process, as tests make, are one node). Rotating the key means restarting every node: once no
node with the old key is alive, the new key is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import socket
import threading
from functools import lru_cache
from datetime import timedelta

from sqlalchemy import Column, DateTime, String, Table, delete, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from .database import Base, utcnow

log = logging.getLogger("stadslab.node")

HEARTBEAT_SECONDS = 10.0
ALIVE_SECONDS = 30.0

cluster_nodes = Table(
    "cluster_nodes", Base.metadata,
    Column("node_id", String(200), primary_key=True),
    Column("secret_fingerprint", String(64), nullable=False),
    Column("schema_revision", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False, index=True),
)


class NodeMismatch(RuntimeError):
    """This node's configuration differs from the database's or the other nodes'."""


def secret_fingerprint(secret_key: str) -> str:
    return hmac.new(secret_key.encode(), b"stadslab node check", hashlib.sha256).hexdigest()


@lru_cache(maxsize=1)
def code_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    from .migrate import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def check_before_upgrade(database_url: str) -> None:
    """``stadslab serve`` migrates first; a database already at a revision this code does not know
    (a newer release on another node migrated it) is a mismatch, not a migration failure."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from .database import normalise_url
    from .migrate import alembic_config

    known = {r.revision for r in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()}
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            theirs = database_revisions(conn) or set()
    except DBAPIError:
        return  # unreachable: the migration reports it
    finally:
        engine.dispose()
    unknown = theirs - known
    if unknown:
        raise NodeMismatch(
            f"the database is at schema version {', '.join(sorted(unknown))}, which this node's code "
            f"({', '.join(sorted(code_revisions()))}) does not know: another node runs a newer release; "
            "run the same release on every node (docs/deployment.md \"Several nodes\")")


def database_revisions(conn) -> set[str] | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}


def node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


class NodeRegistration:
    def __init__(self, db, fingerprint: str, revision: str):
        self.db = db
        self.id = node_id()
        self.fingerprint = fingerprint
        self.revision = revision
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="node-heartbeat", daemon=True)
        self._users = 1

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with self.db.engine.begin() as conn:
                    done = conn.execute(update(cluster_nodes).where(cluster_nodes.c.node_id == self.id)
                                        .values(seen_at=utcnow())).rowcount
                    if not done:
                        _insert(conn, self.id, self.fingerprint, self.revision)
            except Exception as exc:  # noqa: BLE001 - the database may be away for a while
                log.debug("node heartbeat not written: %s", type(exc).__name__)

    def stop(self) -> None:
        self._users -= 1
        if self._users > 0:
            return
        _REGISTERED.pop((id(self.db), self.id), None)
        self._stop.set()
        try:
            with self.db.engine.begin() as conn:
                conn.execute(delete(cluster_nodes).where(cluster_nodes.c.node_id == self.id))
        except Exception:  # noqa: BLE001 - its row expires by itself
            pass


_REGISTERED: dict[tuple[int, str], NodeRegistration] = {}


def _insert(conn, ident: str, fingerprint: str, revision: str) -> None:
    now = utcnow()
    try:
        with conn.begin_nested():
            conn.execute(cluster_nodes.insert().values(node_id=ident, secret_fingerprint=fingerprint,
                                                       schema_revision=revision, started_at=now, seen_at=now))
    except IntegrityError:
        conn.execute(update(cluster_nodes).where(cluster_nodes.c.node_id == ident).values(
            secret_fingerprint=fingerprint, schema_revision=revision, seen_at=now))


def check_node(db, settings) -> NodeRegistration | None:
    """Refuse to start on a mismatch (``NodeMismatch``); otherwise register this node and keep it fresh.

    A database that cannot be reached now is logged and not checked: the node starts and answers
    503 until the database is back, as it always did.
    """
    try:
        return _check_node(db, settings)
    except DBAPIError as exc:
        log.error("node check skipped, the database does not answer: %s", type(exc.orig).__name__)
        return None


def _check_node(db, settings) -> NodeRegistration | None:
    fingerprint = secret_fingerprint(settings.secret_key)
    ours = code_revisions()
    with db.engine.begin() as conn:
        theirs = database_revisions(conn)
        if theirs is None:
            log.warning("the database has no schema version (not migrated with `stadslab db upgrade`?)")
            return None
        if theirs != ours:
            raise NodeMismatch(
                f"this node's code expects schema version {', '.join(sorted(ours))} but the database is at "
                f"{', '.join(sorted(theirs)) or 'none'}: run `stadslab db upgrade` with the new release, and run "
                "the same release on every node (docs/deployment.md \"Several nodes\")")
        if not inspect(conn).has_table("cluster_nodes"):
            return None
        ident = node_id()
        alive = utcnow() - timedelta(seconds=ALIVE_SECONDS)
        others = conn.execute(select(cluster_nodes.c.node_id, cluster_nodes.c.secret_fingerprint,
                                     cluster_nodes.c.schema_revision)
                              .where(cluster_nodes.c.seen_at >= alive, cluster_nodes.c.node_id != ident)).all()
        for other, their_fingerprint, their_revision in others:
            if their_fingerprint != fingerprint:
                raise NodeMismatch(
                    f"this node's STADSLAB_SECRET_KEY differs from that of the running node {other}: every node "
                    "must have the same secret key (sessions and encrypted secrets are shared); to rotate the key, "
                    "stop every node first (docs/deployment.md \"Several nodes\")")
        revision = ",".join(sorted(ours))
        _insert(conn, ident, fingerprint, revision)
    key = (id(db), ident)
    if key in _REGISTERED:
        _REGISTERED[key]._users += 1
        return _REGISTERED[key]
    registration = _REGISTERED[key] = NodeRegistration(db, fingerprint, revision)
    registration._thread.start()
    return registration


__all__ = ["NodeMismatch", "check_node", "cluster_nodes", "secret_fingerprint"]
