"""Locations and FeaturesOfInterest remember who they belong to once no Thing reaches them

Revision ID: 0018
Revises: 0016

``owner_organisation_id``, ``owner_access_class`` and ``owner_precision_m`` on
``sta_locations`` and ``sta_features_of_interest`` (``sensorthings.claims``): the first
owning organisation, the most restrictive access class and the coarsest public precision
of the Things that ever claimed the row. They decide visibility, write rights and
precision only while no Thing reaches the row (after a move, a deleted Thing, Observations
removed by retention), so such an orphan never becomes public or exact.

Filled here from today's links: Locations from their Things (current and historical);
FeaturesOfInterest from the Locations that generated them and the Things whose
Observations they are (one pass over the Observations). Plain ADD COLUMN on both dialects.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLES = ("sta_locations", "sta_features_of_interest")
RANK = "CASE t.access_class WHEN 'restricted' THEN 2 WHEN 'network' THEN 1 ELSE 0 END"
LEVEL = ("COALESCE(t.location_precision_m, CASE WHEN t.placement = 'mobile' OR t.processes_personal_data "
         "THEN COALESCE((SELECT sensitive_m FROM sta_public_precision_defaults LIMIT 1), 100) "
         "ELSE COALESCE((SELECT default_m FROM sta_public_precision_defaults LIMIT 1), 0) END)")


def _location_things() -> str:
    """(location id, thing id) of every current and historical link."""
    return ("SELECT location_id AS row_id, thing_id FROM sta_thing_locations "
            "UNION SELECT hll.location_id, hl.thing_id FROM sta_historical_location_locations hll "
            "JOIN sta_historical_locations hl ON hl.id = hll.historical_location_id")


def _feature_things() -> str:
    return (f"SELECT l.generated_foi_id AS row_id, lt.thing_id FROM sta_locations l "
            f"JOIN ({_location_things()}) lt ON lt.row_id = l.id WHERE l.generated_foi_id IS NOT NULL "
            "UNION SELECT DISTINCT o.feature_of_interest_id, d.thing_id FROM sta_observations o "
            "JOIN sta_datastreams d ON d.id = o.datastream_id "
            "UNION SELECT DISTINCT o.feature_of_interest_id, m.thing_id FROM sta_observations o "
            "JOIN sta_multi_datastreams m ON m.id = o.multi_datastream_id")


def _backfill(table: str, pairs: str) -> None:
    """One aggregate into a keyed temporary table, then correlated lookups by key (no quadratic plan)."""
    op.execute("CREATE TEMPORARY TABLE claims_0018 (row_id INTEGER PRIMARY KEY, org INTEGER, cls VARCHAR(12), "
               "lvl INTEGER)")
    op.execute(f"INSERT INTO claims_0018 (row_id, org, cls, lvl) "
               f"SELECT p.row_id, MIN(t.owner_organisation_id), "
               f"CASE MAX({RANK}) WHEN 2 THEN 'restricted' WHEN 1 THEN 'network' ELSE 'open' END, MAX({LEVEL}) "
               f"FROM ({pairs}) p JOIN sta_things t ON t.id = p.thing_id WHERE p.row_id IS NOT NULL GROUP BY p.row_id")
    lookup = "(SELECT c.{0} FROM claims_0018 c WHERE c.row_id = " + table + ".id)"
    op.execute(f"UPDATE {table} SET owner_organisation_id = {lookup.format('org')}, "
               f"owner_access_class = {lookup.format('cls')}, owner_precision_m = {lookup.format('lvl')} "
               f"WHERE id IN (SELECT row_id FROM claims_0018)")
    op.execute("DROP TABLE claims_0018")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("owner_organisation_id", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("owner_access_class", sa.String(12), nullable=True))
        op.add_column(table, sa.Column("owner_precision_m", sa.Integer(), nullable=True))
    _backfill("sta_locations", _location_things())
    _backfill("sta_features_of_interest", _feature_things())


def downgrade() -> None:
    for table in TABLES:  # native DROP COLUMN (SQLite >= 3.35), as in 0013: no table rebuild
        for column in ("owner_precision_m", "owner_access_class", "owner_organisation_id"):
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
