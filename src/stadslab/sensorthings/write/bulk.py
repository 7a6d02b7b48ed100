"""Bulk INSERT of Observation rows: the fastest path each dialect offers.

The DataArray ingest path (``dataarray.create``) hands over plain tuples whose
values are already validated Python values (aware UTC datetimes, JSON-able
values). Going through SQLAlchemy's typed executemany costs more per row than
everything else in the request, so this module encodes the few column types
itself, exactly as SQLAlchemy would store them, and talks to the driver:

* SQLite: one ``executemany`` of a prepared INSERT inside the session's
  transaction. AUTOINCREMENT hands out ``max(id) + 1`` row after row while the
  statement holds the database's only write lock, so the new ids are the
  ``n`` ids ending at ``last_insert_rowid()`` (no RETURNING round trip per row,
  which is what SQLAlchemy falls back to on SQLite when the order of the
  returned ids matters).
* PostgreSQL: the ids are drawn from the sequence in one query, then the rows
  are streamed with ``COPY ... FROM STDIN`` (psycopg's ``cursor.copy()``),
  several times faster than a pipelined executemany of INSERTs.

Datetimes on SQLite are stored as SQLAlchemy's ``DateTime`` does
(``YYYY-MM-DD HH:MM:SS.ffffff``, UTC, no offset), so rows written here and rows
written through the ORM sort and compare alike; JSON is stored as JSON text on
both dialects (see ``tests/sensorthings/test_bulk.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy.orm import Session

from ..model import tables as m

OBS = m.Observation.__table__
_DATETIME_COLUMNS = frozenset(c.name for c in OBS.c if c.type.python_type is datetime)
_JSON_COLUMNS = frozenset(("result", "result_quality", "parameters"))


def json_text(value: Any) -> str | None:
    """JSON text of a value parsed from a request body (None stays SQL NULL, like SQLAlchemy's JSON)."""
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, which orjson does not write
        import json
        return json.dumps(value)


def sqlite_datetime(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite storage format for ``DateTime`` (the value is UTC already)."""
    if value is None:
        return None
    if value.tzinfo is timezone.utc:
        return value.isoformat(" ", "microseconds")[:-6]  # drop "+00:00"
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _encoders(columns: Sequence[str], dialect: str) -> list[Callable[[Any], Any] | None]:
    out: list[Callable[[Any], Any] | None] = []
    for name in columns:
        if name in _JSON_COLUMNS:
            out.append(json_text)
        elif name in _DATETIME_COLUMNS and dialect == "sqlite":
            out.append(sqlite_datetime)
        else:
            out.append(None)
    return out


def encode(rows: list[tuple], columns: Sequence[str], dialect: str) -> list[tuple]:
    """Rows of Python values → rows the driver stores as SQLAlchemy would."""
    encoders = _encoders(columns, dialect)
    work = [(i, enc) for i, enc in enumerate(encoders) if enc is not None]
    if not work:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for i, enc in work:
            values[i] = enc(values[i])
        out.append(tuple(values))
    return out


def insert_observations(session: Session, columns: Sequence[str], rows: list[tuple]) -> list[int]:
    """Insert ``rows`` (tuples in ``columns`` order) and return their new ids in row order."""
    if not rows:
        return []
    for name in columns:
        if name not in OBS.c or name == "id":
            raise ValueError(f"not an Observation column: {name}")
    dialect = session.get_bind().dialect.name
    encoded = encode(rows, columns, dialect)
    if dialect == "postgresql":
        return _copy_postgresql(session, columns, encoded)
    return _executemany_sqlite(session, columns, encoded)


def _executemany_sqlite(session: Session, columns: Sequence[str], rows: list[tuple]) -> list[int]:
    conn = session.connection()
    sql = f"INSERT INTO sta_observations ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    conn.exec_driver_sql(sql, rows)
    last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
    first = last - len(rows) + 1
    return list(range(first, last + 1))


def _copy_postgresql(session: Session, columns: Sequence[str], rows: list[tuple]) -> list[int]:
    conn = session.connection()
    ids = [r[0] for r in conn.exec_driver_sql(
        "SELECT nextval(pg_get_serial_sequence('sta_observations', 'id')) FROM generate_series(1, %(n)s)",
        {"n": len(rows)})]
    ids.sort()
    driver = conn.connection.driver_connection
    with driver.cursor() as cur:
        with cur.copy(f"COPY sta_observations (id, {', '.join(columns)}) FROM STDIN") as copy:
            write = copy.write_row
            for new_id, row in zip(ids, rows):
                write((new_id, *row))
    return ids
