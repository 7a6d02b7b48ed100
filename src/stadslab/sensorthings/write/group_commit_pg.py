"""PostgreSQL: a group commit in three round trips (psycopg pipeline mode).

Each round trip to PostgreSQL wakes a server process and then the writer thread,
which must win the GIL back from the event loop. Sent one by one, a group's
statements took ten. With psycopg's pipeline mode: (1) BEGIN, the callers' context
reads and the lock of a free audit chain head; (2) the INSERT of the Observations,
whose ids the audit events need; (3) the Datastreams' time bounds, the audit events,
the chain head and the COMMIT, none of which needs an answer. The statements
are the same SQLAlchemy statements the other paths execute (``rules.bounds_statement``,
``audit.APPEND``, ``audit.MOVE_HEAD``), compiled once for the driver; JSON values go
through their column type's own bind processor. SQLite has no round trips to save
and keeps the ordinary path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from stadslab.governance import audit
from stadslab.governance.models import AuditEvent

from . import rules

@dataclass(frozen=True)
class Compiled:
    """A statement compiled once for the driver: its SQL and its bound values."""

    sql: str
    params: dict[str, Any]

    @classmethod
    def of(cls, stmt, dialect) -> Compiled:
        compiled = stmt.compile(dialect=dialect)
        params = {"ds_ids": []} if "ds_ids" in compiled.binds else {}  # the context read's own parameter
        return cls(compiled.string, compiled.construct_params(params))


_COMPILED: dict[int, Compiled] = {}  # module-level statements only: their ids never change
_JSON_COLUMNS = ("before", "after")


def _compiled(stmt, dialect, *, bound: bool = False) -> Compiled:
    """``bound``: the statement carries values of its own (else only its SQL is kept)."""
    found = _COMPILED.get(id(stmt))
    if found is None:
        found = Compiled.of(stmt, dialect) if bound else Compiled(stmt.compile(dialect=dialect).string, {})
        _COMPILED[id(stmt)] = found
    return found


def begin(session: Session, reads: list[tuple[Compiled, list[int]]]) -> tuple[list[list], tuple | None]:
    """BEGIN, the callers' context reads and the lock of a free audit chain head, in one round trip.

    Returns the rows of each read (attribute access, as SQLAlchemy rows) and the locked head
    (for ``audit.chain_events``), or None when every head was busy: ``chain_events`` then
    locks one the ordinary way.
    """
    connection = session.connection()
    raw = connection.connection.driver_connection
    try:
        with raw.pipeline():
            cursors = []
            for compiled, ds_ids in reads:
                cur = raw.cursor(row_factory=namedtuple_row)
                cur.execute(compiled.sql, {**compiled.params, "ds_ids": ds_ids})
                cursors.append(cur)
            head_cur = raw.cursor(row_factory=namedtuple_row)
            free_head = _compiled(audit.FREE_HEAD, connection.dialect, bound=True)
            head_cur.execute(free_head.sql, free_head.params)
        found = [cur.fetchall() for cur in cursors]
        head = head_cur.fetchone()
    except psycopg.Error as exc:
        raise _wrapped(connection, raw, exc) from exc
    return found, (audit.hold_head(session, head) if head is not None else None)


def _wrapped(connection, raw, exc: psycopg.Error) -> DBAPIError:
    lost = raw.closed or raw.broken
    if lost:
        connection.invalidate(exc)
    return DBAPIError.instance("group commit", None, exc, psycopg.Error, connection_invalidated=lost)


def finish(session: Session, bounds: list[dict[str, Any]], chained: audit.Chained) -> None:
    """Stream bounds, audit events, chain head and COMMIT, sent together.

    Errors come back as SQLAlchemy ``DBAPIError``s (as from any other statement); a lost
    connection as ``OperationalError``, after which the pooled connection is invalidated.
    The caller then calls ``session.commit()`` for its bookkeeping (after-commit hooks);
    the driver is idle by then and sends nothing.
    """
    connection = session.connection()
    dialect = connection.dialect
    raw = connection.connection.driver_connection
    to_json = {c: AuditEvent.__table__.c[c].type.dialect_impl(dialect).bind_processor(dialect)
               for c in _JSON_COLUMNS}
    events = [{**row, **{c: (to_json[c](row[c]) if to_json[c] else row[c]) for c in _JSON_COLUMNS}}
              for row in chained.rows]
    try:
        with raw.pipeline():
            with raw.cursor() as cur:
                if bounds:  # in id order, as ``rules.extend_streams_many``: concurrent groups never deadlock
                    cur.executemany(_compiled(rules.bounds_statement("Datastream", "postgresql"), dialect).sql,
                                    sorted(bounds, key=lambda b: b["stream_id"]))
                cur.executemany(_compiled(audit.APPEND, dialect).sql, events)
                cur.execute(_compiled(audit.MOVE_HEAD, dialect).sql, chained.head)
            raw.commit()
    except psycopg.Error as exc:
        raise _wrapped(connection, raw, exc) from exc
