"""Monthly RANGE partitions of ``sta_observations`` on PostgreSQL (migration 0012).

Why: the Observations table is the only one that grows without bound. Partitioned
by ``phenomenon_time_start``, a time-bounded read touches only the months it asks
for (partition pruning), and retention drops whole months instead of deleting
row by row (no bloat, no VACUUM debt). SQLite stays one plain table.

Layout: ``sta_observations_pYYYYMM`` holds [first of the month, first of the
next month) in UTC; ``sta_observations_default`` takes every row for which no
month partition exists, so an insert never fails (a far-future clock error, a
backfill of last decade). The primary key is ``(id, phenomenon_time_start)``
(PostgreSQL requires the partition key in it); the ids still come from the one
sequence ``sta_observations_id_seq``, so they stay unique, and each partition's
PK index leads with ``id``, so a lookup by id is one index probe per partition.

Maintenance (``ensure_partitions``) is idempotent and safe with several
processes: it checks the catalogue without a lock and only when a month is
missing takes a transaction-scoped advisory lock, checks again and creates it.
A new month is made as a plain table, filled with the rows the DEFAULT partition
already holds for it (moved in the same transaction), then ATTACHed: ATTACH takes
only a SHARE UPDATE EXCLUSIVE lock on the parent, so reads and writes go on; the
DEFAULT partition is locked for the moment PostgreSQL checks it holds no row of
the new range. ``adopt_default_rows`` does this for every past or near-future
month found in DEFAULT (far-future rows stay there; see docs/operations.md).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.engine import Connection

from stadslab.core.database import lift_statement_timeout

log = logging.getLogger("stadslab.sensorthings.partitions")  # the name operators filter on, kept across the move

PARENT = "sta_observations"
DEFAULT = "sta_observations_default"
#: Months kept ready around now: behind (late data) and ahead (so the partition exists before its first row).
MONTHS_BACK = 2
MONTHS_AHEAD = 3
#: pg_advisory_xact_lock key of partition maintenance ("stadslab" observations, fixed, any int8).
LOCK_KEY = 0x5354_4F42_5041_5254  # "STOBPART"
_BOUND_RE = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")
_NAME_RE = re.compile(r"^sta_observations_p(\d{4})(\d{2})$")


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime | None  # None: the DEFAULT partition (or an unbounded side)
    upper: datetime | None

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT or (self.lower is None and self.upper is None)


def month_start(at: datetime) -> datetime:
    at = at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return datetime(at.year, at.month, 1, tzinfo=timezone.utc)


def add_months(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


def partition_name(month: datetime) -> str:
    return f"{PARENT}_p{month.year:04d}{month.month:02d}"


def window(now: datetime, back: int = MONTHS_BACK, ahead: int = MONTHS_AHEAD) -> list[datetime]:
    first = month_start(now)
    return [add_months(first, n) for n in range(-back, ahead + 1)]


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": PARENT}).scalar()
    return kind == "p"


def _utc(conn: Connection) -> None:
    """Bounds are read back as text: make that text UTC for the rest of this transaction."""
    conn.execute(text("SET LOCAL TimeZone = 'UTC'"))


def _parse(value: str) -> datetime | None:
    if value in ("MINVALUE", "MAXVALUE"):
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def list_partitions(conn: Connection) -> list[Partition]:
    """Every partition of the table with its bounds, oldest first, DEFAULT last."""
    _utc(conn)
    rows = conn.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"), {"t": PARENT}).all()
    out = []
    for name, bound in rows:
        m = _BOUND_RE.search(bound or "")
        out.append(Partition(name, _parse(m.group(1)), _parse(m.group(2))) if m else Partition(name, None, None))
    far = datetime.max.replace(tzinfo=timezone.utc)
    return sorted(out, key=lambda p: (p.is_default, p.lower or far))


def _covered(parts: list[Partition], month: datetime) -> bool:
    upper = add_months(month, 1)
    return any(not p.is_default and (p.lower is None or p.lower < upper) and (p.upper is None or p.upper > month)
               for p in parts)


def up_to_horizon(months, now: datetime | None = None, ahead: int = MONTHS_AHEAD) -> set[datetime]:
    """The months (any datetimes in them) not beyond ``ahead`` months from now: those get partitions;
    rows further ahead stay in DEFAULT (almost always clock errors)."""
    limit = add_months(month_start(now or datetime.now(timezone.utc)), ahead + 1)
    return {m for m in map(month_start, months) if m < limit}


def ensure_partitions(conn: Connection, now: datetime | None = None, *, months: set[datetime] | None = None,
                      back: int = MONTHS_BACK, ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the month partitions of the window around ``now`` and of ``months``; return the new names.

    Cheap when nothing is missing (one catalogue query, no lock). Runs in the caller's
    transaction; the caller commits.
    """
    if not is_partitioned(conn):
        return []
    now = now or datetime.now(timezone.utc)
    wanted = set(window(now, back, ahead)) | {month_start(m) for m in months or ()}
    if all(_covered(list_partitions(conn), m) for m in wanted):
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    parts = list_partitions(conn)  # again, under the lock: another process may have made them
    created = []
    for month in sorted(wanted):
        if not _covered(parts, month):
            create_month(conn, month)
            created.append(partition_name(month))
    if created:
        log.info("observation partitions created: %s", ", ".join(created))
    return created


def _columns(conn: Connection) -> str:
    names = conn.execute(text(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum"), {"t": PARENT}).scalars()
    return ", ".join(f'"{n}"' for n in names)


def create_month(conn: Connection, month: datetime) -> int:
    """Make the partition of one month, moving the rows DEFAULT holds for it; returns how many moved.

    Call under the advisory lock (``ensure_partitions`` / ``adopt_default_rows`` do).
    """
    month = month_start(month)
    name, lower, upper = partition_name(month), month, add_months(month, 1)
    bounds = {"lo": lower, "hi": upper}
    conn.execute(text(f'CREATE TABLE "{name}" (LIKE {PARENT} INCLUDING DEFAULTS)'))
    moved = 0
    if conn.execute(text("SELECT to_regclass(:t)"), {"t": DEFAULT}).scalar():
        cols = _columns(conn)
        moved = conn.execute(text(
            f'WITH moved AS (DELETE FROM {DEFAULT} WHERE phenomenon_time_start >= :lo '
            f'AND phenomenon_time_start < :hi RETURNING {cols}) INSERT INTO "{name}" ({cols}) '
            f'SELECT {cols} FROM moved'), bounds).rowcount or 0
    # literal bounds: ATTACH does not take parameters
    lo, hi = (f"'{b.isoformat()}'" for b in (lower, upper))
    conn.execute(text(f'ALTER TABLE {PARENT} ATTACH PARTITION "{name}" FOR VALUES FROM ({lo}) TO ({hi})'))
    if moved:
        log.info("observation partition %s: %d row(s) moved out of %s", name, moved, DEFAULT)
    return moved


def default_months(conn: Connection) -> list[datetime]:
    """The months for which the DEFAULT partition holds rows (UTC)."""
    if not is_partitioned(conn) or not conn.execute(text("SELECT to_regclass(:t)"), {"t": DEFAULT}).scalar():
        return []
    _utc(conn)
    rows = conn.execute(text(f"SELECT DISTINCT date_trunc('month', phenomenon_time_start) FROM {DEFAULT}"))
    return sorted(month_start(r[0]) for r in rows)


def adopt_default_rows(conn: Connection, now: datetime | None = None, *, ahead: int = MONTHS_AHEAD) -> dict[str, int]:
    """Give every month found in DEFAULT (up to ``ahead`` months from now) its own partition.

    Returns partition name -> rows moved. Rows further ahead stay in DEFAULT: they are
    almost always clock errors, and a partition per wrong month would only add planning cost.
    """
    if not is_partitioned(conn):
        return {}
    months = sorted(up_to_horizon(default_months(conn), now, ahead))
    if not months:
        return {}
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    parts = list_partitions(conn)
    return {partition_name(m): create_month(conn, m) for m in months if not _covered(parts, m)}


def drop_partitions_before(conn: Connection, cutoff: datetime, *, dry_run: bool = False) -> dict[str, int]:
    """Drop every month partition wholly older than ``cutoff``; returns name -> rows it held.

    The rows are counted first (exactly) so that the audit trail says what went.
    """
    if not is_partitioned(conn):
        return {}
    if not dry_run:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    dropped = {}
    for p in list_partitions(conn):
        if p.is_default or p.upper is None or p.upper > cutoff:
            continue
        dropped[p.name] = conn.execute(text(f'SELECT count(*) FROM "{p.name}"')).scalar_one()
        if not dry_run:
            conn.execute(text(f'ALTER TABLE {PARENT} DETACH PARTITION "{p.name}"'))
            conn.execute(text(f'DROP TABLE "{p.name}"'))
    if dropped and not dry_run:
        log.info("observation partitions dropped (older than %s): %s", cutoff.isoformat(), dropped)
    return dropped


def maintain_at_startup(engine) -> list[str]:
    """The window's partitions, at server start (cheap, idempotent, several workers at once).

    A failure is logged, not raised: inserts still succeed (DEFAULT), and the
    next start or ``stadslab observations partitions`` makes the months.
    """
    if engine.dialect.name != "postgresql":
        return []
    try:
        with engine.begin() as conn:
            lift_statement_timeout(conn)  # maintenance (issue #13): not bound like request work
            return ensure_partitions(conn)
    except Exception:  # noqa: BLE001  (serving beats a missing month; see the docstring)
        log.exception("observation partition maintenance failed; new rows go to %s meanwhile", DEFAULT)
        return []
