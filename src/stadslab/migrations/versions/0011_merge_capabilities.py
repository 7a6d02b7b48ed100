"""Merge the capability branches into one head.

The capabilities were built side by side, each migration starting from 0001/0002.
From here on there is one line of history again: new migrations revise "0011".

Revision ID: 0011
Revises: 0004, 0005, 0006, 0007, 0008, 0009, 0010
"""

revision = "0011"
down_revision = ("0004", "0005", "0006", "0007", "0008", "0009", "0010")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
