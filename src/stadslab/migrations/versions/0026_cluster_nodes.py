"""The live nodes of a multi-node installation and what they run with

Revision ID: 0026
Revises: 0024

``cluster_nodes``: one row per running server process (``core.node_check``), refreshed every
few seconds, with the fingerprint of its secret key (an HMAC, never the key) and the schema
version of its code. A starting node with another key than a live node refuses to start.
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("node_id", sa.String(200), nullable=False),
        sa.Column("secret_fingerprint", sa.String(64), nullable=False),
        sa.Column("schema_revision", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_cluster_nodes")),
    )
    op.create_index(op.f("ix_cluster_nodes_seen_at"), "cluster_nodes", ["seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cluster_nodes_seen_at"), table_name="cluster_nodes")
    op.drop_table("cluster_nodes")
