"""Observations partitioned by month on PostgreSQL (native declarative RANGE partitioning).

Revision ID: 0012
Revises: 0011

PostgreSQL: ``sta_observations`` becomes ``PARTITION BY RANGE (phenomenon_time_start)``
with one partition per month and a DEFAULT partition (see
``stadslab.sensorthings.storage.partitions``). The table is rebuilt, rows kept: the old
table is renamed, the partitioned one made from it (``LIKE``: same columns, same
``nextval`` default), the months that hold rows and the window around now get
their partitions, the rows are copied, the id sequence is handed over to the new
table (``OWNED BY``, so ``pg_get_serial_sequence`` and ``TRUNCATE ... RESTART
IDENTITY`` keep working) and the old table dropped. Indexes and foreign keys are
re-created from the catalogue definitions, so their names stay the same; the
primary key becomes ``(id, phenomenon_time_start)``, as PostgreSQL requires.
The table is locked (ACCESS EXCLUSIVE) for the whole copy: plan a maintenance
window of about a minute per 10 million rows.

SQLite: nothing changes (one table; retention there deletes rows).

Downgrade: the reverse, into one plain table with the primary key ``(id)``.
"""
from alembic import op
from sqlalchemy import text

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD = "sta_observations_replaced"  # the table being rebuilt, while it is copied


def _definitions(conn, table: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(CREATE INDEX statements except the primary key's, [(FK name, FK definition)]) of a table."""
    indexes = conn.execute(text(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = to_regclass(:t) "
        "AND NOT i.indisprimary ORDER BY i.indexrelid"), {"t": table}).scalars().all()
    fks = conn.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(:t) "
        "AND contype = 'f' ORDER BY conname"), {"t": table}).all()
    # a partitioned parent's indexes read "ON ONLY": the new table's must cover its partitions
    return [d.replace(" ON ONLY ", " ON ") for d in indexes], [tuple(f) for f in fks]


def _rebuild(conn, *, partitioned: bool) -> None:
    from stadslab.sensorthings.storage import partitions

    conn.execute(text("LOCK TABLE sta_observations IN ACCESS EXCLUSIVE MODE"))
    conn.execute(text("SET LOCAL TimeZone = 'UTC'"))
    sequence = conn.execute(text("SELECT pg_get_serial_sequence('sta_observations', 'id')")).scalar_one()
    indexes, fks = _definitions(conn, "sta_observations")
    conn.execute(text(f"ALTER TABLE sta_observations RENAME TO {OLD}"))
    clause = " PARTITION BY RANGE (phenomenon_time_start)" if partitioned else ""
    conn.execute(text(f"CREATE TABLE sta_observations (LIKE {OLD} INCLUDING DEFAULTS){clause}"))
    if partitioned:
        conn.execute(text(f"CREATE TABLE {partitions.DEFAULT} PARTITION OF sta_observations DEFAULT"))
        months = conn.execute(text(f"SELECT DISTINCT date_trunc('month', phenomenon_time_start) FROM {OLD}"))
        partitions.ensure_partitions(conn, months=partitions.up_to_horizon(m[0] for m in months))
    columns = ", ".join(f'"{c}"' for c in conn.execute(text(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum"), {"t": OLD}).scalars())
    conn.execute(text(f"INSERT INTO sta_observations ({columns}) SELECT {columns} FROM {OLD}"))
    conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY sta_observations.id"))
    conn.execute(text(f"DROP TABLE {OLD}"))
    key = "id, phenomenon_time_start" if partitioned else "id"
    conn.execute(text(f"ALTER TABLE sta_observations ADD CONSTRAINT pk_sta_observations PRIMARY KEY ({key})"))
    for statement in indexes:
        conn.execute(text(statement))
    for name, definition in fks:
        conn.execute(text(f'ALTER TABLE sta_observations ADD CONSTRAINT "{name}" {definition}'))
    conn.execute(text("ANALYZE sta_observations"))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _rebuild(conn, partitioned=True)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _rebuild(conn, partitioned=False)
