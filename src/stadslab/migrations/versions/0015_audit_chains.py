"""Audit trail: several hash chains side by side on PostgreSQL.

One chain head serialised every writer on its row lock, held until the commit's WAL
flush: on a disk with 6 ms flushes that capped all writes at ~160/s. Writers now
take any free head of 16 (``FOR UPDATE SKIP LOCKED``), so concurrent commits share
one flush again. Each chain is verified on its own; an event belongs to exactly one.
Existing events form chain 1, unchanged (their hashes stay valid). SQLite has one
writer at a time anyway and keeps one chain.

Revision ID: 0015
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

CHAINS_POSTGRESQL = 16
GENESIS = "0" * 64


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("chain", sa.Integer(), nullable=False, server_default="1"))
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_audit_events", "audit_events", type_="primary")
        op.create_primary_key("pk_audit_events", "audit_events", ["chain", "seq"])
        op.execute(f"INSERT INTO audit_chain_head (id, seq, hash) SELECT n, 0, '{GENESIS}' "
                   f"FROM generate_series(2, {CHAINS_POSTGRESQL}) AS n ON CONFLICT (id) DO NOTHING")
    else:
        op.create_index("ix_audit_events_chain_seq", "audit_events", ["chain", "seq"], unique=True)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM audit_events WHERE chain <> 1")).scalar():
        raise RuntimeError("audit events exist outside chain 1; a single-chain schema cannot hold them")
    if bind.dialect.name == "postgresql":
        op.execute("DELETE FROM audit_chain_head WHERE id <> 1")
        op.drop_constraint("pk_audit_events", "audit_events", type_="primary")
        op.create_primary_key("pk_audit_events", "audit_events", ["seq"])
        op.drop_column("audit_events", "chain")
    else:
        op.drop_index("ix_audit_events_chain_seq", table_name="audit_events")
        op.execute("ALTER TABLE audit_events DROP COLUMN chain")  # no rebuild: keeps the triggers
