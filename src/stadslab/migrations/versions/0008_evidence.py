"""Evidence: experiment designs per project and stored evaluations

Revision ID: 0008
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment_designs",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("design", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_experiment_designs_project_id_projects")),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_experiment_designs")),
    )
    op.create_index(op.f("ix_experiment_designs_updated_at"), "experiment_designs", ["updated_at"])
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("design", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.JSON(), nullable=False),
        sa.Column("code_version", sa.String(length=60), nullable=False),
        sa.Column("engine_version", sa.String(length=20), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name=op.f("fk_evaluations_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
    )
    op.create_index(op.f("ix_evaluations_project_id"), "evaluations", ["project_id"])
    op.create_index(op.f("ix_evaluations_evaluated_at"), "evaluations", ["evaluated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_evaluations_evaluated_at"), table_name="evaluations")
    op.drop_index(op.f("ix_evaluations_project_id"), table_name="evaluations")
    op.drop_table("evaluations")
    op.drop_index(op.f("ix_experiment_designs_updated_at"), table_name="experiment_designs")
    op.drop_table("experiment_designs")
