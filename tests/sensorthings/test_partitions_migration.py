"""Migration 0012 on a database that already holds Observations: rows, ids and the sequence survive
upgrade and downgrade (PostgreSQL; on SQLite the migration changes nothing)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stadslab.core.database import make_engine, normalise_url
from stadslab.core.migrate import downgrade, upgrade
from stadslab.sensorthings.storage import partitions as P
from tests.conftest import PG_URL, require_service

ROWS = "SELECT id, datastream_id, phenomenon_time_start, result::text FROM sta_observations ORDER BY id"
SEED = """
INSERT INTO sta_features_of_interest (id, name, description, encoding_type, feature) VALUES (1, 'f', 'd', 'x', '{}');
INSERT INTO sta_things (id, name, description) VALUES (1, 't', 'd');
INSERT INTO sta_sensors (id, name, description, encoding_type, metadata) VALUES (1, 's', 'd', 'x', 'm');
INSERT INTO sta_observed_properties (id, name, definition, description) VALUES (1, 'p', 'd', 'd');
INSERT INTO sta_datastreams (id, name, description, observation_type, unit_of_measurement, thing_id, sensor_id,
                             observed_property_id) VALUES (1, 'd', 'd', 'x', '{}', 1, 1, 1);
INSERT INTO sta_observations (datastream_id, feature_of_interest_id, phenomenon_time_start, result)
    SELECT 1, 1, timestamptz '2024-01-30' + g * interval '1 day', to_json(g) FROM generate_series(1, 40) g;
INSERT INTO sta_observations (datastream_id, feature_of_interest_id, phenomenon_time_start, result)
    VALUES (1, 1, '2099-01-01', '"far"'), (1, 1, now(), '"now"');
"""


@pytest.fixture
def pg_url():
    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set: migration 0012 partitions PostgreSQL only")
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"stadslab_partitions_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _state(engine) -> tuple[list, str, str]:
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(ROWS))]
        kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = 'sta_observations'::regclass")).scalar()
        pk = conn.execute(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                               "WHERE conrelid = 'sta_observations'::regclass AND contype = 'p'")).scalar()
    return rows, kind, pk


def test_upgrade_and_downgrade_keep_every_row(pg_url):
    upgrade(pg_url, "0011")
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(SEED)
    before, kind, _ = _state(engine)
    assert kind == "r" and len(before) == 42
    engine.dispose()

    upgrade(pg_url, "0012")
    after, kind, pk = _state(engine)
    assert after == before and kind == "p" and pk == "PRIMARY KEY (id, phenomenon_time_start)"
    with engine.begin() as conn:
        where = dict(conn.execute(text("SELECT result::text, tableoid::regclass::text FROM sta_observations "
                                       "WHERE result::text IN ('\"far\"', '\"now\"', '1', '40')")).all())
        assert where == {'"far"': P.DEFAULT, '"now"': P.partition_name(P.month_start(datetime.now(timezone.utc))),
                         "1": "sta_observations_p202401", "40": "sta_observations_p202403"}
        new_id = conn.execute(text("INSERT INTO sta_observations (datastream_id, feature_of_interest_id, "
                                   "phenomenon_time_start) VALUES (1, 1, now()) RETURNING id")).scalar_one()
        assert new_id == 43  # the sequence went along with the table
        conn.execute(text("DELETE FROM sta_datastreams"))  # ON DELETE CASCADE still reaches every partition
        assert conn.execute(text("SELECT count(*) FROM sta_observations")).scalar_one() == 0
        conn.rollback()
    engine.dispose()

    downgrade(pg_url, "0011")
    back, kind, pk = _state(engine)
    assert back == before and kind == "r" and pk == "PRIMARY KEY (id)"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_get_serial_sequence('sta_observations', 'id')")).scalar()
        assert not conn.execute(text("SELECT count(*) FROM pg_class WHERE relname LIKE 'sta_observations_p%'")).scalar()
    engine.dispose()
    upgrade(pg_url)
    assert _state(engine)[0] == before
    engine.dispose()
