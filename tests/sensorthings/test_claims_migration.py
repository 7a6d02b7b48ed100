"""Migration 0018 fills the claims of existing Locations and FeaturesOfInterest from today's links, and
goes down and up again, on both databases."""

from __future__ import annotations

from sqlalchemy import inspect, text

from stadslab.core.database import make_engine
from stadslab.core.migrate import downgrade, upgrade
from tests.core.test_migrations import empty_url  # noqa: F401  (a fresh database per dialect)

CLAIM = {"owner_organisation_id", "owner_access_class", "owner_precision_m"}
POINT = '{"type": "Point", "coordinates": [5.1, 52.1]}'


def _rows(conn, sql: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(text(sql))]


def test_0018_fills_claims_from_current_and_historical_links(empty_url):  # noqa: F811
    upgrade(empty_url, "0017")
    engine = make_engine(empty_url)
    with engine.begin() as c:
        c.execute(text("INSERT INTO organisations (id, name, kind, description, is_demo, created_at, updated_at) "
                       "VALUES (7, 'Eigenaar', 'municipality', '', :f, '2024-01-01 00:00:00', '2024-01-01 00:00:00')"),
                  {"f": False})
        for tid, cls, level, personal in ((1, "restricted", 1000, False), (2, "open", None, True),
                                          (3, "network", None, False)):
            c.execute(text("INSERT INTO sta_things (id, name, description, owner_organisation_id, access_class, "
                           "location_precision_m, processes_personal_data) VALUES (:i, 't', '', 7, :c, :l, :p)"),
                      {"i": tid, "c": cls, "l": level, "p": personal})
        for lid in (10, 11, 12, 13):
            c.execute(text("INSERT INTO sta_locations (id, name, description, encoding_type, location) "
                           f"VALUES ({lid}, 'l', '', 'application/geo+json', '{POINT}')"))
        c.execute(text("INSERT INTO sta_features_of_interest (id, name, description, encoding_type, feature) "
                       f"VALUES (20, 'f', '', 'application/geo+json', '{POINT}'), "
                       f"(21, 'f', '', 'application/geo+json', '{POINT}')"))
        c.execute(text("UPDATE sta_locations SET generated_foi_id = 20 WHERE id = 10"))
        # Thing 1 moved from Location 10 to 11 (10 only in its history); Thing 2 at 11 too; 13 unlinked
        c.execute(text("INSERT INTO sta_thing_locations (thing_id, location_id) VALUES (1, 11), (2, 11), (3, 12)"))
        c.execute(text("INSERT INTO sta_historical_locations (id, thing_id, time) VALUES "
                       "(30, 1, '2024-01-01 00:00:00')"))
        c.execute(text("INSERT INTO sta_historical_location_locations (historical_location_id, location_id) "
                       "VALUES (30, 10)"))
        c.execute(text("INSERT INTO sta_sensors (id, name, description, encoding_type, metadata) "
                       "VALUES (40, 's', '', 'text/plain', '')"))
        c.execute(text("INSERT INTO sta_observed_properties (id, name, definition, description) "
                       "VALUES (41, 'p', 'd', '')"))
        c.execute(text("INSERT INTO sta_datastreams (id, name, description, observation_type, unit_of_measurement, "
                       "thing_id, sensor_id, observed_property_id) VALUES (50, 'd', '', 'x', '{}', 3, 40, 41)"))
        c.execute(text("INSERT INTO sta_observations (datastream_id, feature_of_interest_id, phenomenon_time_start, "
                       "result) VALUES (50, 21, '2024-01-01 00:00:00', '1')"))
    engine.dispose()
    upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.connect() as c:
        locs = dict((r[0], r[1:]) for r in _rows(c, "SELECT id, owner_organisation_id, owner_access_class, "
                                                    "owner_precision_m FROM sta_locations"))
        fois = dict((r[0], r[1:]) for r in _rows(c, "SELECT id, owner_organisation_id, owner_access_class, "
                                                    "owner_precision_m FROM sta_features_of_interest"))
    engine.dispose()
    assert locs[10] == (7, "restricted", 1000)       # through the HistoricalLocation of Thing 1
    assert locs[11] == (7, "restricted", 1000)       # the most restrictive and coarsest of Things 1 and 2
    assert locs[12] == (7, "network", 0)
    assert locs[13] == (None, None, None)            # nobody ever claimed it
    assert fois[20] == (7, "restricted", 1000)       # generated from Location 10
    assert fois[21] == (7, "network", 0)             # observed by Thing 3's Datastream
    downgrade(empty_url, "0017")
    engine = make_engine(empty_url)
    for table in ("sta_locations", "sta_features_of_interest"):
        assert not CLAIM & {col["name"] for col in inspect(engine).get_columns(table)}
    engine.dispose()
    upgrade(empty_url)
