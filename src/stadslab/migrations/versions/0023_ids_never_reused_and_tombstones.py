"""Registry ids are never reused; deleted registry items leave a tombstone

Revision ID: 0023
Revises: 0021

SQLite hands out max(rowid) + 1, so the id of a deleted last row came back with the next
insert (DELETE /api/v1/projects/2, then POST got id 2 again): a harvesting peer then took
the new item for an update of the old one. The registry tables are rebuilt AUTOINCREMENT
(batch mode, ``recreate="always"``), as the SensorThings tables already were (0002);
``sqlite_sequence`` starts at the current max(id). The rebuild runs with foreign keys off
(``migrations/env.py``, SQLite's documented procedure for rebuilding a table), so dropping
the old table neither cascades nor fails. PostgreSQL sequences never hand out an id twice:
nothing to do there.

``registry_tombstones``: (type, id, time) of every deleted registry item, the part of the
change feed that says what is gone (``/api/v1/federation/tombstones``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None

#: Every registry table with a published integer id (SensorThings: 0002 already).
TABLES = ("organisations", "coalitions", "living_labs", "projects", "project_kpis", "project_lessons",
          "solutions", "adoptions", "events", "funding_programmes", "funding_calls", "moderated_contributions")


def _rebuild(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass
    if autoincrement:
        for table in TABLES:  # continue after the highest id in use, whatever happened before
            bind.exec_driver_sql(f"DELETE FROM sqlite_sequence WHERE name = '{table}'")
            bind.exec_driver_sql(f"INSERT INTO sqlite_sequence (name, seq) "
                                 f"SELECT '{table}', COALESCE(MAX(id), 0) FROM {table}")
    else:
        bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name IN (%s)" % ", ".join(f"'{t}'" for t in TABLES))


def upgrade() -> None:
    op.create_table(
        "registry_tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_tombstones")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_registry_tombstones_type_deleted", "registry_tombstones",
                    ["entity_type", "deleted_at", "id"])
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
    op.drop_index("ix_registry_tombstones_type_deleted", table_name="registry_tombstones")
    op.drop_table("registry_tombstones")
