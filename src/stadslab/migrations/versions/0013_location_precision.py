"""Public location precision: coarsened copies of Location and FeatureOfInterest geometry

Revision ID: 0013
Revises: 0014 (the head when this was added; 0012 and 0014 were written alongside it)

* ``sta_things.location_precision_m``: ``register.locationPrecision`` (NULL: the default).
* ``sta_locations.public_location`` / ``sta_features_of_interest.public_feature`` with their
  ``public_precision_m``: the geometry as non-owners see it (``sensorthings.public_geometry``).
  NULL means "not computed yet" and is never shown or matched; a partial index finds those rows.
* ``sta_public_precision_defaults``: the configured defaults the copies were made with, so a
  process started with other defaults knows to recompute them.
* Triggers reset the copies whenever what they derive from changes: the geometry itself, a
  Thing linked to the Location (directly or through a HistoricalLocation), or the precision,
  placement or personal-data flag of a linked or observing Thing. Triggers rather than
  application code so that every write path (HTTP, MQTT, bulk import, LoRaWAN) is covered.
  Removing a link does not reset: the copy then stays at least as coarse as before.
* The copies get the spatial index of their exact columns (migration 0005), so a non-owner's
  spatial filter is as fast as an administrator's: PostGIS ``public_geom`` (generated, GiST),
  SQLite ``<table>_public_rtree`` kept by triggers.

Plain ADD COLUMN on both dialects (no SQLite table rebuild).
"""
from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None

RESET_LOC = "UPDATE sta_locations SET public_location = NULL, public_precision_m = NULL"
RESET_FOI = "UPDATE sta_features_of_interest SET public_feature = NULL, public_precision_m = NULL"


def _thing_locations(thing: str) -> str:
    return (f"SELECT location_id FROM sta_thing_locations WHERE thing_id = {thing} "
            f"UNION SELECT hll.location_id FROM sta_historical_location_locations hll "
            f"JOIN sta_historical_locations hl ON hl.id = hll.historical_location_id WHERE hl.thing_id = {thing}")


def _thing_features(thing: str) -> str:
    return (f"SELECT generated_foi_id FROM sta_locations WHERE id IN ({_thing_locations(thing)}) "
            f"UNION SELECT feature_of_interest_id FROM sta_observations WHERE datastream_id IN "
            f"(SELECT id FROM sta_datastreams WHERE thing_id = {thing}) "
            f"UNION SELECT feature_of_interest_id FROM sta_observations WHERE multi_datastream_id IN "
            f"(SELECT id FROM sta_multi_datastreams WHERE thing_id = {thing})")


def _link_reset(loc: str) -> str:
    return (f"{RESET_LOC} WHERE id = {loc}; "
            f"{RESET_FOI} WHERE id = (SELECT generated_foi_id FROM sta_locations WHERE id = {loc});")


def _thing_reset(thing: str) -> str:
    # features first: the generated FOIs are found through the Locations' links, which stay
    return (f"{RESET_FOI} WHERE id IN ({_thing_features(thing)}); "
            f"{RESET_LOC} WHERE id IN ({_thing_locations(thing)});")


THING_CHANGED_SQLITE = ("OLD.location_precision_m IS NOT NEW.location_precision_m OR OLD.placement IS NOT "
                        "NEW.placement OR OLD.processes_personal_data IS NOT NEW.processes_personal_data")
THING_CHANGED_PG = ("OLD.location_precision_m IS DISTINCT FROM NEW.location_precision_m OR OLD.placement IS "
                    "DISTINCT FROM NEW.placement OR OLD.processes_personal_data IS DISTINCT FROM "
                    "NEW.processes_personal_data")
LINKS = ("sta_thing_locations", "sta_historical_location_locations")
PUBLIC = {"sta_locations": "public_location", "sta_features_of_interest": "public_feature"}
FAR = "1e38"  # as in 0005: R*Tree stores 32-bit floats; this box contains every coordinate


def _box_select(doc: str, id_: str) -> str:
    """As in 0005: the bounding box of one GeoJSON value (an unreadable one gets an infinite box)."""
    return f"""
        SELECT {id_}, coalesce(min(x), -{FAR}), coalesce(max(x), {FAR}),
               coalesce(min(y), -{FAR}), coalesce(max(y), {FAR})
        FROM (SELECT CASE WHEN t.key = 0 THEN t.value END AS x, CASE WHEN t.key = 1 THEN t.value END AS y
              FROM json_tree(CASE WHEN json_valid({doc}) THEN {doc} ELSE '{{}}' END) AS t
              WHERE t.type IN ('integer', 'real') AND t.path LIKE '%coordinates%')"""


def _has(bind, sql: str) -> bool:
    return bind.execute(sa.text(sql)).first() is not None


def _public_indexes(bind) -> None:
    """Only where 0005 made the exact ones (PostGIS installed, SQLite with R*Tree)."""
    if bind.dialect.name == "postgresql":
        if not _has(bind, "SELECT 1 FROM pg_proc WHERE proname = 'stadslab_geojson_geometry'"):
            return
        for table, column in PUBLIC.items():
            op.execute(f"ALTER TABLE {table} ADD COLUMN public_geom geometry(Geometry, 4326) "
                       f"GENERATED ALWAYS AS (stadslab_geojson_geometry({column})) STORED")
            op.execute(f"CREATE INDEX ix_{table}_public_geom ON {table} USING gist (public_geom)")
        return
    if not _has(bind, "SELECT 1 FROM sqlite_master WHERE name = 'sta_locations_rtree'"):
        return
    for table, column in PUBLIC.items():
        rtree = f"{table}_public_rtree"
        op.execute(f"CREATE VIRTUAL TABLE {rtree} USING rtree(id, min_x, max_x, min_y, max_y)")
        op.execute(f"""CREATE TRIGGER {rtree}_insert AFTER INSERT ON {table} BEGIN
            INSERT INTO {rtree} (id, min_x, max_x, min_y, max_y) {_box_select(f'NEW.{column}', 'NEW.id')};
            END""")
        op.execute(f"""CREATE TRIGGER {rtree}_update AFTER UPDATE OF {column} ON {table} BEGIN
            DELETE FROM {rtree} WHERE id = OLD.id;
            INSERT INTO {rtree} (id, min_x, max_x, min_y, max_y) {_box_select(f'NEW.{column}', 'NEW.id')};
            END""")
        op.execute(f"""CREATE TRIGGER {rtree}_delete AFTER DELETE ON {table} BEGIN
            DELETE FROM {rtree} WHERE id = OLD.id;
            END""")
        op.execute(f"INSERT INTO {rtree} (id, min_x, max_x, min_y, max_y) SELECT id, -{FAR}, {FAR}, -{FAR}, {FAR} "
                   f"FROM {table}")  # existing rows: no copy yet, so a box that is always a candidate


def upgrade() -> None:
    op.add_column("sta_things", sa.Column("location_precision_m", sa.Integer(), nullable=True))
    for table, column in (("sta_locations", "public_location"), ("sta_features_of_interest", "public_feature")):
        op.add_column(table, sa.Column(column, sa.JSON(), nullable=True))
        op.add_column(table, sa.Column("public_precision_m", sa.Integer(), nullable=True))
        op.create_index(f"ix_{table}_public_pending", table, ["id"],
                        sqlite_where=sa.text(f"{column} IS NULL"), postgresql_where=sa.text(f"{column} IS NULL"))
    op.create_table("sta_public_precision_defaults",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("default_m", sa.Integer(), nullable=False),
                    sa.Column("sensitive_m", sa.Integer(), nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()
    _public_indexes(op.get_bind())


def _sqlite_triggers() -> None:
    for table, column, reset in (("sta_locations", "location", RESET_LOC),
                                 ("sta_features_of_interest", "feature", RESET_FOI)):
        op.execute(f"""CREATE TRIGGER {table}_public_reset AFTER UPDATE OF {column} ON {table}
            WHEN OLD.{column} IS NOT NEW.{column} BEGIN {reset} WHERE id = NEW.id; END""")
    for link in LINKS:
        op.execute(f"CREATE TRIGGER {link}_public_reset AFTER INSERT ON {link} "
                   f"BEGIN {_link_reset('NEW.location_id')} END")
    op.execute(f"""CREATE TRIGGER sta_things_public_reset AFTER UPDATE ON sta_things
        WHEN {THING_CHANGED_SQLITE} BEGIN {_thing_reset('NEW.id')} END""")


def _postgres_triggers() -> None:
    for table, column, public in (("sta_locations", "location", "public_location"),
                                  ("sta_features_of_interest", "feature", "public_feature")):
        op.execute(f"""CREATE OR REPLACE FUNCTION {table}_public_reset() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN
                NEW.{public} := NULL; NEW.public_precision_m := NULL; RETURN NEW;
            END $$""")
        op.execute(f"""CREATE TRIGGER {table}_public_reset BEFORE UPDATE OF {column} ON {table} FOR EACH ROW
            WHEN (OLD.{column}::text IS DISTINCT FROM NEW.{column}::text)
            EXECUTE FUNCTION {table}_public_reset()""")
    op.execute(f"""CREATE OR REPLACE FUNCTION sta_link_public_reset() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN {_link_reset('NEW.location_id')} RETURN NULL; END $$""")
    for link in LINKS:
        op.execute(f"CREATE TRIGGER {link}_public_reset AFTER INSERT ON {link} FOR EACH ROW "
                   f"EXECUTE FUNCTION sta_link_public_reset()")
    op.execute(f"""CREATE OR REPLACE FUNCTION sta_things_public_reset() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN {_thing_reset('NEW.id')} RETURN NULL; END $$""")
    op.execute(f"""CREATE TRIGGER sta_things_public_reset AFTER UPDATE ON sta_things FOR EACH ROW
        WHEN ({THING_CHANGED_PG}) EXECUTE FUNCTION sta_things_public_reset()""")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in PUBLIC:
        if postgres:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_public_geom")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS public_geom")
        else:
            for suffix in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_public_rtree_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_public_rtree")
    for table in ("sta_locations", "sta_features_of_interest", *LINKS, "sta_things"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_public_reset" + (f" ON {table}" if postgres else ""))
    if postgres:
        for fn in ("sta_locations_public_reset", "sta_features_of_interest_public_reset",
                   "sta_link_public_reset", "sta_things_public_reset"):
            op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
    op.drop_table("sta_public_precision_defaults")
    for table, column in (("sta_features_of_interest", "public_feature"), ("sta_locations", "public_location")):
        op.drop_index(f"ix_{table}_public_pending", table_name=table)
        # native DROP COLUMN (SQLite >= 3.35): a batch rebuild would cascade into other tables
        op.execute(f"ALTER TABLE {table} DROP COLUMN public_precision_m")
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.execute("ALTER TABLE sta_things DROP COLUMN location_precision_m")
