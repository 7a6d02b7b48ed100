"""Moderated contributions and the structured test offer of living labs

Revision ID: 0020
Revises: 0019

``moderated_contributions``: what one organisation attaches to another organisation's
content (a project to a lab, an adoption to a solution, a lesson to a project) and
applications to test in a lab, pending until an editor of the owner accepts or declines.
``living_labs`` gets the test offer: conditions, costs and how to apply.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

OFFER = ("offer_conditions", "offer_costs", "offer_how_to_apply")


def upgrade() -> None:
    with op.batch_alter_table("living_labs") as batch_op:
        for name in OFFER:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "moderated_contributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("contributor_organisation_id", sa.Integer(), nullable=True),
        sa.Column("owner_organisation_id", sa.Integer(), nullable=True),
        sa.Column("living_lab_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("solution_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contributor_organisation_id"], ["organisations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["owner_organisation_id"], ["organisations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["living_lab_id"], ["living_labs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["solution_id"], ["solutions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("moderated_contributions") as batch_op:
        for col in ("kind", "status", "contributor_organisation_id", "owner_organisation_id", "living_lab_id",
                    "project_id", "solution_id", "updated_at"):
            batch_op.create_index(batch_op.f(f"ix_moderated_contributions_{col}"), [col], unique=False)


def downgrade() -> None:
    op.drop_table("moderated_contributions")
    with op.batch_alter_table("living_labs") as batch_op:
        for name in reversed(OFFER):
            batch_op.drop_column(name)
