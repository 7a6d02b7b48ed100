"""Solutions carry their preconditions, municipalities their facts

Revision ID: 0021
Revises: 0020

``solutions.preconditions`` (JSON list of codes such as ``inland_port``) says what a city must
have for the solution to make sense; ``municipalities.facts`` (JSON list of the same codes,
from the reference data ``city_facts.json``) says what a city has. The advice engine only
suggests a solution where every precondition is among the city's facts. Plain ADD COLUMN
on both dialects; existing rows get an empty list.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("solutions", sa.Column("preconditions", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("municipalities", sa.Column("facts", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:  # native DROP COLUMN (SQLite >= 3.35), as in 0013 and 0018: no table rebuild
    op.execute("ALTER TABLE municipalities DROP COLUMN facts")
    op.execute("ALTER TABLE solutions DROP COLUMN preconditions")
