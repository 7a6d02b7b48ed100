"""Federation: peers, harvested items, peer health, harvest lease

Revision ID: 0010
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_peers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("token_encrypted", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_peers")),
        sa.UniqueConstraint("name", name=op.f("uq_federation_peers_name")),
    )
    op.create_index(op.f("ix_federation_peers_updated_at"), "federation_peers", ["updated_at"])
    op.create_table(
        "federated_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("item_type", sa.String(length=30), nullable=False),
        sa.Column("remote_id", sa.String(length=500), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("city_code", sa.String(length=10), nullable=True),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=True),
        sa.Column("remote_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("source_url", sa.String(length=1000), nullable=False),
        sa.Column("stems", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["peer_id"], ["federation_peers.id"], ondelete="CASCADE",
                                name=op.f("fk_federated_items_peer_id_federation_peers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federated_items")),
        sa.UniqueConstraint("peer_id", "item_type", "remote_id", name="uq_federated_items_peer_type_remote"),
    )
    for col in ("peer_id", "item_type", "city_code"):
        op.create_index(op.f(f"ix_federated_items_{col}"), "federated_items", [col])
    op.create_table(
        "peer_status",
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("high_water", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["peer_id"], ["federation_peers.id"], ondelete="CASCADE",
                                name=op.f("fk_peer_status_peer_id_federation_peers")),
        sa.PrimaryKeyConstraint("peer_id", name=op.f("pk_peer_status")),
    )
    op.create_table(
        "federation_leases",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_federation_leases")),
    )


def downgrade() -> None:
    op.drop_table("federation_leases")
    op.drop_table("peer_status")
    for col in ("peer_id", "item_type", "city_code"):
        op.drop_index(op.f(f"ix_federated_items_{col}"), table_name="federated_items")
    op.drop_table("federated_items")
    op.drop_index(op.f("ix_federation_peers_updated_at"), table_name="federation_peers")
    op.drop_table("federation_peers")
