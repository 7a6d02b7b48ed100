"""Interoperability: international calendar (events, representatives) and funding calls

Revision ID: 0007
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0002"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("series_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=True),
        sa.Column("location_name", sa.String(length=300), nullable=True),
        sa.Column("city", sa.String(length=120), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("owner_organisation_id", sa.Integer(), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["owner_organisation_id"], ["organisations.id"], ondelete="SET NULL",
                                name=op.f("fk_events_owner_organisation_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("uid", name=op.f("uq_events_uid")),
    )
    with op.batch_alter_table("events") as batch:
        for col in ("kind", "starts_at", "series_ends_at", "city", "country", "owner_organisation_id",
                    "updated_at"):
            batch.create_index(batch.f(f"ix_events_{col}"), [col], unique=False)

    op.create_table(
        "event_themes",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("theme_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE",
                                name=op.f("fk_event_themes_event_id_events")),
        sa.ForeignKeyConstraint(["theme_code"], ["themes.code"], name=op.f("fk_event_themes_theme_code_themes")),
        sa.PrimaryKeyConstraint("event_id", "theme_code", name=op.f("pk_event_themes")),
    )
    op.create_table(
        "event_representatives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE",
                                name=op.f("fk_event_representatives_event_id_events")),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipalities.code"],
                                name=op.f("fk_event_representatives_municipality_code_municipalities")),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="CASCADE",
                                name=op.f("fk_event_representatives_organisation_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_representatives")),
    )
    with op.batch_alter_table("event_representatives") as batch:
        for col in ("event_id", "municipality_code", "organisation_id"):
            batch.create_index(batch.f(f"ix_event_representatives_{col}"), [col], unique=False)

    op.create_table(
        "funding_programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_programmes")),
        sa.UniqueConstraint("code", name=op.f("uq_funding_programmes_code")),
    )
    with op.batch_alter_table("funding_programmes") as batch:
        batch.create_index(batch.f("ix_funding_programmes_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "funding_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=120), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_timezone", sa.String(length=64), nullable=False),
        sa.Column("deadline_all_day", sa.Boolean(), nullable=False),
        sa.Column("budget_eur", sa.Float(), nullable=True),
        sa.Column("url", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("owner_organisation_id", sa.Integer(), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["programme_id"], ["funding_programmes.id"], ondelete="RESTRICT",
                                name=op.f("fk_funding_calls_programme_id_funding_programmes")),
        sa.ForeignKeyConstraint(["owner_organisation_id"], ["organisations.id"], ondelete="SET NULL",
                                name=op.f("fk_funding_calls_owner_organisation_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_calls")),
        sa.UniqueConstraint("uid", name=op.f("uq_funding_calls_uid")),
    )
    with op.batch_alter_table("funding_calls") as batch:
        for col in ("programme_id", "deadline_at", "status", "owner_organisation_id", "updated_at"):
            batch.create_index(batch.f(f"ix_funding_calls_{col}"), [col], unique=False)

    op.create_table(
        "funding_call_themes",
        sa.Column("funding_call_id", sa.Integer(), nullable=False),
        sa.Column("theme_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["funding_call_id"], ["funding_calls.id"], ondelete="CASCADE",
                                name=op.f("fk_funding_call_themes_funding_call_id_funding_calls")),
        sa.ForeignKeyConstraint(["theme_code"], ["themes.code"],
                                name=op.f("fk_funding_call_themes_theme_code_themes")),
        sa.PrimaryKeyConstraint("funding_call_id", "theme_code", name=op.f("pk_funding_call_themes")),
    )


def downgrade() -> None:
    for table in ("funding_call_themes", "funding_calls", "funding_programmes", "event_representatives",
                  "event_themes", "events"):
        op.drop_table(table)
