"""Per-table row counts and content hashes, comparable across SQLite and PostgreSQL.

Used to prove that a restore or a migration lost nothing. The table hash is the
sum (mod 2^256) of the rows' SHA-256 hashes: independent of row order (the two
dialects sort text differently) and computed while streaming, so large
observation tables need no memory for sorting.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

_MOD = 1 << 256


def _norm(value):
    if value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return repr(float(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)  # SQLite keeps UTC timestamps without offset
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def row_hash(row) -> int:
    data = json.dumps([_norm(v) for v in row], default=str, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(data.encode()).digest(), "big")


def data_tables():
    """The application's tables (every capability's models), in dependency order."""
    from stadslab.models import Base

    return list(Base.metadata.sorted_tables)


def table_fingerprints(engine: Engine, tables=None, count_only: frozenset[str] = frozenset()) -> dict[str, tuple]:
    """``{table: (rows, hash hex)}``; tables in ``count_only`` get ``(rows, None)``."""
    out: dict[str, tuple] = {}
    with engine.connect() as conn:
        for table in tables or data_tables():
            if table.name in count_only:
                out[table.name] = (conn.scalar(select(func.count()).select_from(table)), None)
                continue
            total, n = 0, 0
            result = conn.execution_options(stream_results=True, yield_per=2000).execute(select(table))
            for row in result:
                total = (total + row_hash(row)) % _MOD
                n += 1
            out[table.name] = (n, f"{total:064x}")
    return out
