"""English versions of registry content: project titles and summaries, lessons, KPI names and
units, solution names and descriptions

Revision ID: 0027
Revises: 0026

All optional (NULL: the page shows the Dutch text and says so). Plain ADD COLUMN on both dialects;
downgrade drops them (batch mode on SQLite).
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

COLUMNS = {
    "projects": [("title_en", sa.String(300)), ("summary_en", sa.Text())],
    "project_kpis": [("name_en", sa.String(200)), ("unit_en", sa.String(40))],
    "project_lessons": [("text_en", sa.Text())],
    "solutions": [("name_en", sa.String(200)), ("description_en", sa.Text())],
}


def upgrade() -> None:
    for table, cols in COLUMNS.items():
        for name, type_ in cols:
            op.add_column(table, sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for table, cols in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, _type in cols:
                batch.drop_column(name)
