"""Roles that match the network (the desk role) and the two-sided loket

Revision ID: 0019
Revises: 0018

``users.desk_team``: a desk account handles the loket requests routed to this team
(``governance/data/loket_routing.json``). ``loket_comments.kind`` and ``detail``: the
steps of a request (taken in review, information asked, forwarded, decided) next to
plain comments, so the submitter sees each step. ``loket_requests.valid_from`` /
``valid_until``: the validity period of a granted exemption; ``expiry_notified_at``:
its lab's editors were told it ends soon. ``loket_exemption_labs``: the living labs a
granted exemption applies to. ``outbox_messages``: e-mail written in the transaction
of the change it reports, sent after commit by a worker, retried with backoff.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("desk_team", sa.String(40), nullable=True))
    with op.batch_alter_table("loket_comments") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="comment"))
        batch.add_column(sa.Column("detail", sa.JSON(), nullable=True))
    with op.batch_alter_table("loket_requests") as batch:
        batch.add_column(sa.Column("valid_from", sa.Date(), nullable=True))
        batch.add_column(sa.Column("valid_until", sa.Date(), nullable=True))
        batch.add_column(sa.Column("expiry_notified_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_users_desk_team", "users", ["desk_team"])
    op.create_index("ix_loket_requests_valid_until", "loket_requests", ["valid_until"])
    op.create_table(
        "loket_exemption_labs",
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("loket_requests.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("living_lab_id", sa.Integer(), sa.ForeignKey("living_labs.id", ondelete="CASCADE"),
                  primary_key=True),
    )
    op.create_index("ix_loket_exemption_labs_living_lab_id", "loket_exemption_labs", ["living_lab_id"])
    # Existing grants apply to the lab they were requested for.
    op.execute("INSERT INTO loket_exemption_labs (request_id, living_lab_id) SELECT id, living_lab_id "
               "FROM loket_requests WHERE decision = 'granted' AND living_lab_id IS NOT NULL")
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_outbox_messages_pending", "outbox_messages", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_pending", table_name="outbox_messages")
    op.drop_table("outbox_messages")
    op.drop_index("ix_loket_exemption_labs_living_lab_id", table_name="loket_exemption_labs")
    op.drop_table("loket_exemption_labs")
    op.drop_index("ix_loket_requests_valid_until", table_name="loket_requests")
    op.drop_index("ix_users_desk_team", table_name="users")
    with op.batch_alter_table("loket_requests") as batch:
        batch.drop_column("expiry_notified_at")
        batch.drop_column("valid_until")
        batch.drop_column("valid_from")
    with op.batch_alter_table("loket_comments") as batch:
        batch.drop_column("detail")
        batch.drop_column("kind")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("desk_team")
