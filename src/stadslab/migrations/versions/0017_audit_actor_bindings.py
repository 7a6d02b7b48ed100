"""Audit actors: each pseudonym-to-user mapping is bound into the hash chain.

``audit_actors`` says who a pseudonym is, yet it stood outside the tamper evidence:
swapping two mappings (with no trigger in the way, the table must stay deletable for
erasure) silently moved one person's actions to another. A mapping made from now on
gets a random ``salt`` and an ``audit_actor.bind`` event whose hash covers
SHA-256(pseudonym, user id, salt); ``stadslab audit verify`` recomputes it for every
mapping. Erasure deletes the row and its salt, so the binding in the trail no longer
links to anyone. Existing events keep their hashes; existing mappings have no salt and
are reported as unbound until ``stadslab audit bind-actors`` binds them.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_actors", sa.Column("salt", sa.String(32), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("audit_actors", "salt")
    else:
        op.execute("ALTER TABLE audit_actors DROP COLUMN salt")
