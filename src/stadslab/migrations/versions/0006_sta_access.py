"""SensorThings access: access_class on (Multi)Datastreams, owner organisation of LoRaWAN integrations

Revision ID: 0006
Revises: 0003 (adds owner columns to lorawan_integrations)

Plain ADD COLUMN on both dialects (no SQLite table rebuild: rebuilding
sta_datastreams would cascade into its Observations). Existing rows become
``open``, i.e. they keep exactly the visibility of their Thing.
"""
from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0003"  # adds owner columns to the LoRaWAN tables of 0003
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("sta_datastreams", "sta_multi_datastreams"):
        op.add_column(table, sa.Column("access_class", sa.String(length=12), server_default="open",
                                       nullable=False))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite takes a REFERENCES clause in ADD COLUMN; Alembic would rebuild the table, and
        # dropping lorawan_integrations would cascade into its devices.
        op.execute("ALTER TABLE lorawan_integrations ADD COLUMN owner_organisation_id INTEGER "
                   "REFERENCES organisations (id) ON DELETE SET NULL")
    else:
        op.add_column("lorawan_integrations", sa.Column("owner_organisation_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_lorawan_integrations_owner_organisation_id_organisations"),
                              "lorawan_integrations", "organisations", ["owner_organisation_id"], ["id"],
                              ondelete="SET NULL")
    op.create_index(op.f("ix_lorawan_integrations_owner_organisation_id"), "lorawan_integrations",
                    ["owner_organisation_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_lorawan_integrations_owner_organisation_id"), table_name="lorawan_integrations")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("fk_lorawan_integrations_owner_organisation_id_organisations"),
                           "lorawan_integrations", type_="foreignkey")
    op.execute("ALTER TABLE lorawan_integrations DROP COLUMN owner_organisation_id")
    for table in ("sta_multi_datastreams", "sta_datastreams"):
        # native DROP COLUMN (SQLite >= 3.35): a batch rebuild would cascade into the Observations
        op.execute(f"ALTER TABLE {table} DROP COLUMN access_class")
