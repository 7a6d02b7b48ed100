"""Observations: the MultiDatastream index covers only rows that belong to a MultiDatastream.

Almost every Observation belongs to a Datastream, so its ``multi_datastream_id`` is NULL,
yet ``ix_sta_observations_multi_datastream_time`` held an entry for each of them: about a
quarter of the table's disk, and one more index insertion per ingested row. Every query
that can use the index names a MultiDatastream (``multi_datastream_id = :id``), which
implies ``IS NOT NULL``, so PostgreSQL and SQLite both still use the partial index. On
PostgreSQL the index is recreated on every month partition (minutes on a large table:
run it in a maintenance window).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

NAME = "ix_sta_observations_multi_datastream_time"
COLUMNS = ["multi_datastream_id", "phenomenon_time_start", "id"]
PARTIAL = sa.text("multi_datastream_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index(NAME, table_name="sta_observations")
    op.create_index(NAME, "sta_observations", COLUMNS, postgresql_where=PARTIAL, sqlite_where=PARTIAL)


def downgrade() -> None:
    op.drop_index(NAME, table_name="sta_observations")
    op.create_index(NAME, "sta_observations", COLUMNS)
