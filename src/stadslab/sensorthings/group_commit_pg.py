"""PostgreSQL: the end of a group commit in one round trip (psycopg pipeline mode).

After the INSERT of a group's Observations, what is left needs no answer from the
database: the Datastreams' time bounds, the audit events, the chain head and the
COMMIT. Sent one by one that is four round trips or more, each a wake-up of the
server process and of the writer thread; in a pipeline it is one. The statements
are the same SQLAlchemy statements the other paths execute (``rules.bounds_statement``,
``audit.APPEND``, ``audit.MOVE_HEAD``), compiled once for the driver; JSON values go
through their column type's own bind processor. SQLite has no round trips to save
and keeps the ordinary path.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from stadslab.governance import audit
from stadslab.governance.models import AuditEvent

from . import rules

_COMPILED: dict[int, str] = {}
_JSON_COLUMNS = ("before", "after")


def _sql(stmt, dialect) -> str:
    found = _COMPILED.get(id(stmt))
    if found is None:
        found = _COMPILED[id(stmt)] = stmt.compile(dialect=dialect).string
    return found


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
                    cur.executemany(_sql(rules.bounds_statement("Datastream", "postgresql"), dialect),
                                    sorted(bounds, key=lambda b: b["stream_id"]))
                cur.executemany(_sql(audit.APPEND, dialect), events)
                cur.execute(_sql(audit.MOVE_HEAD, dialect), chained.head)
            raw.commit()
    except psycopg.Error as exc:
        lost = raw.closed or raw.broken
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance("group commit", None, exc, psycopg.Error,
                                  connection_invalidated=lost) from exc
