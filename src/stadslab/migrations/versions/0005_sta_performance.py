"""SensorThings performance: paging index with the id, spatial indexes for Locations and FeaturesOfInterest

Revision ID: 0005
Revises: 0002

* Observations: ``(datastream_id, phenomenon_time_start, id)`` (and the same for
  MultiDatastreams) replaces the two-column index. Pages are ordered by the time
  and then the id (stable paging), so with the id in the index PostgreSQL reads
  ``Datastreams(1)/Observations?$orderby=phenomenonTime desc&$top=100`` as a
  backward index scan that stops after 101 rows, without a sort. (SQLite keeps
  the rowid in every index anyway.)
* PostgreSQL with PostGIS: a stored generated ``geom`` column (SRID 4326) made
  from the GeoJSON, with a GiST index, on ``sta_locations`` and
  ``sta_features_of_interest``. The STA ``$filter`` uses it for the spatial
  functions (``filter_index.py``). The function behind it answers NULL for
  anything that is not a GeoJSON geometry or Feature, as the filter does.
* SQLite: an R*Tree of the bounding boxes (``<table>_rtree``), kept by triggers
  in plain SQL (``json_tree``), so that spatial filters test only the rows
  whose box meets the literal's box before shapely decides. A value whose box
  cannot be read gets an infinite box: it is always a candidate.

Servers without PostGIS (or SQLite builds without R*Tree) skip the spatial
part; the filter then falls back to evaluating every row.
"""
from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

#: table -> GeoJSON column
SPATIAL = {"sta_locations": "location", "sta_features_of_interest": "feature"}
GEOJSON_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                 "GeometryCollection")
FAR = "1e38"  # R*Tree stores 32-bit floats; this box contains every coordinate


def _stream_indexes(columns_of) -> None:
    for name, fk in (("ix_sta_observations_datastream_time", "datastream_id"),
                     ("ix_sta_observations_multi_datastream_time", "multi_datastream_id")):
        op.drop_index(name, table_name="sta_observations")
        op.create_index(name, "sta_observations", columns_of(fk), unique=False)


def _postgis_available(bind) -> bool:
    return bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first() is not None


def _postgis_upgrade(bind) -> None:
    types = ", ".join(f"'{t}'" for t in GEOJSON_TYPES)
    # SET search_path FROM CURRENT: the body finds PostGIS even when a restore runs with an
    # empty search_path (it would otherwise fail and store NULL geometries).
    op.execute(f"""
        CREATE OR REPLACE FUNCTION stadslab_geojson_geometry(doc json) RETURNS geometry
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
        DECLARE
            g jsonb := doc::jsonb;
        BEGIN
            IF jsonb_typeof(g -> 'geometry') = 'object' THEN
                g := g -> 'geometry';
            END IF;
            IF jsonb_typeof(g) <> 'object' OR NOT coalesce(g ->> 'type' IN ({types}), false) THEN
                RETURN NULL;
            END IF;
            RETURN ST_SetSRID(ST_GeomFromGeoJSON(g::text), 4326);
        EXCEPTION WHEN others THEN
            RETURN NULL;
        END $$""")
    for table, column in SPATIAL.items():
        op.execute(f"ALTER TABLE {table} ADD COLUMN geom geometry(Geometry, 4326) "
                   f"GENERATED ALWAYS AS (stadslab_geojson_geometry({column})) STORED")
        op.execute(f"CREATE INDEX ix_{table}_geom ON {table} USING gist (geom)")


def _sqlite_rtree_available(bind) -> bool:
    try:
        bind.execute(sa.text("CREATE VIRTUAL TABLE temp.stadslab_rtree_probe USING rtree(id, a, b)"))
        bind.execute(sa.text("DROP TABLE temp.stadslab_rtree_probe"))
        return True
    except sa.exc.OperationalError:
        return False


def _box_select(doc: str, id_: str) -> str:
    """SELECT id, min_x, max_x, min_y, max_y of one GeoJSON value: every number under a
    "coordinates" member is a position element; element 0 is x, element 1 is y."""
    return f"""
        SELECT {id_}, coalesce(min(x), -{FAR}), coalesce(max(x), {FAR}),
               coalesce(min(y), -{FAR}), coalesce(max(y), {FAR})
        FROM (SELECT CASE WHEN t.key = 0 THEN t.value END AS x, CASE WHEN t.key = 1 THEN t.value END AS y
              FROM json_tree(CASE WHEN json_valid({doc}) THEN {doc} ELSE '{{}}' END) AS t
              WHERE t.type IN ('integer', 'real') AND t.path LIKE '%coordinates%')"""


def _sqlite_upgrade() -> None:
    for table, column in SPATIAL.items():
        rtree = f"{table}_rtree"
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
        op.execute(f"UPDATE {table} SET {column} = {column}")  # existing rows: through the update trigger


def upgrade() -> None:
    bind = op.get_bind()
    _stream_indexes(lambda fk: [fk, "phenomenon_time_start", "id"])
    if bind.dialect.name == "postgresql":
        if _postgis_available(bind):
            _postgis_upgrade(bind)
    elif _sqlite_rtree_available(bind):
        _sqlite_upgrade()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in SPATIAL:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_geom")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS geom")
        op.execute("DROP FUNCTION IF EXISTS stadslab_geojson_geometry(json)")
    else:
        for table in SPATIAL:
            for suffix in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_rtree_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_rtree")
    _stream_indexes(lambda fk: [fk, "phenomenon_time_start"])
