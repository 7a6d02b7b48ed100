"""MQTT ingest receipts: idempotency keys of stored creates (docs/operations.md "Durability")

Revision ID: 0014
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa


revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sta_ingest_receipts",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sta_ingest_receipts")),
    )
    op.create_index(op.f("ix_sta_ingest_receipts_received_at"), "sta_ingest_receipts", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sta_ingest_receipts_received_at"), table_name="sta_ingest_receipts")
    op.drop_table("sta_ingest_receipts")
