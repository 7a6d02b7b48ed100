"""LoRaWAN ingest: integrations, devices, field mappings, received-message log

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lorawan_integrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lorawan_integrations")),
        sa.UniqueConstraint("name", name=op.f("uq_lorawan_integrations_name")),
    )
    with op.batch_alter_table("lorawan_integrations") as batch:
        batch.create_index(batch.f("ix_lorawan_integrations_updated_at"), ["updated_at"], unique=False)
    op.create_table(
        "lorawan_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("dev_eui", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("thing_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["integration_id"], ["lorawan_integrations.id"], ondelete="CASCADE",
                                name=op.f("fk_lorawan_devices_integration_id_lorawan_integrations")),
        sa.ForeignKeyConstraint(["thing_id"], ["sta_things.id"], ondelete="CASCADE",
                                name=op.f("fk_lorawan_devices_thing_id_sta_things")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lorawan_devices")),
        sa.UniqueConstraint("integration_id", "dev_eui", name=op.f("uq_lorawan_devices_integration_id")),
    )
    with op.batch_alter_table("lorawan_devices") as batch:
        batch.create_index(batch.f("ix_lorawan_devices_integration_id"), ["integration_id"], unique=False)
        batch.create_index(batch.f("ix_lorawan_devices_thing_id"), ["thing_id"], unique=False)
        batch.create_index(batch.f("ix_lorawan_devices_updated_at"), ["updated_at"], unique=False)
    op.create_table(
        "lorawan_field_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("datastream_id", sa.Integer(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=True),
        sa.Column("offset", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["datastream_id"], ["sta_datastreams.id"], ondelete="CASCADE",
                                name=op.f("fk_lorawan_field_mappings_datastream_id_sta_datastreams")),
        sa.ForeignKeyConstraint(["device_id"], ["lorawan_devices.id"], ondelete="CASCADE",
                                name=op.f("fk_lorawan_field_mappings_device_id_lorawan_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lorawan_field_mappings")),
        sa.UniqueConstraint("device_id", "field", name=op.f("uq_lorawan_field_mappings_device_id")),
    )
    with op.batch_alter_table("lorawan_field_mappings") as batch:
        batch.create_index(batch.f("ix_lorawan_field_mappings_datastream_id"), ["datastream_id"], unique=False)
        batch.create_index(batch.f("ix_lorawan_field_mappings_device_id"), ["device_id"], unique=False)
    op.create_table(
        "lorawan_received",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["lorawan_devices.id"], ondelete="SET NULL",
                                name=op.f("fk_lorawan_received_device_id_lorawan_devices")),
        sa.ForeignKeyConstraint(["integration_id"], ["lorawan_integrations.id"], ondelete="CASCADE",
                                name=op.f("fk_lorawan_received_integration_id_lorawan_integrations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lorawan_received")),
        sa.UniqueConstraint("integration_id", "message_id", name=op.f("uq_lorawan_received_integration_id")),
    )
    with op.batch_alter_table("lorawan_received") as batch:
        batch.create_index(batch.f("ix_lorawan_received_device_id"), ["device_id"], unique=False)


def downgrade() -> None:
    op.drop_table("lorawan_received")
    op.drop_table("lorawan_field_mappings")
    op.drop_table("lorawan_devices")
    op.drop_table("lorawan_integrations")
