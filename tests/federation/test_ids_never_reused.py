"""Ids are never handed out twice, on SQLite and PostgreSQL, for registry items and SensorThings
entities: a deleted item's id is not given to the next one (a harvesting peer, an old link or a
tombstone would otherwise take the new item for the old one).

SQLite gives max(rowid) + 1 unless a table is AUTOINCREMENT (migration 0023, ``NO_ID_REUSE``);
PostgreSQL sequences never go back.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Integer, text

from stadslab.core.database import NO_ID_REUSE
from stadslab.models import Base
from tests.factories import UTRECHT, create, lab_payload, organisation_payload, project_payload, solution_payload
from tests.sensorthings.helpers import STA, location, observed_property, sensor, thing

_seq = itertools.count(1)

#: Capabilities whose tables publish their ids (registry items, their parts, SensorThings entities).
PUBLISHED = ("stadslab.labs.", "stadslab.network.", "stadslab.interop.", "stadslab.sensorthings.")
#: Tables there whose ids are no one's reference: reference data reloaded wholesale from its files,
#: parts replaced with their event, and LoRaWAN set-up (neither a registry item nor an STA entity).
NOT_PUBLISHED = ("city_specialisations", "event_representatives", "lorawan_")


def _published_tables() -> list[str]:
    """Every table of those capabilities with a single integer id that is generated (no reference
    table keyed by a code, no link table)."""
    names = []
    for mapper in Base.registry.mappers:
        cls, table = mapper.class_, mapper.local_table
        pk = list(table.primary_key.columns)
        if not cls.__module__.startswith(PUBLISHED) or len(pk) != 1 or pk[0].name != "id" \
                or not isinstance(pk[0].type, Integer) or pk[0].foreign_keys \
                or table.name.startswith(NOT_PUBLISHED):
            continue
        names.append(table.name)
    return sorted(set(names))


def test_every_table_that_publishes_ids_is_declared_never_to_reuse_them():
    """New databases made from the models agree with migrated ones (the same flag)."""
    tables = _published_tables()
    assert {"projects", "living_labs", "solutions", "adoptions", "organisations", "coalitions",
            "sta_things", "sta_observations", "sta_datastreams"} <= set(tables)
    missing = [t for t in tables if not Base.metadata.tables[t].dialect_kwargs.get("sqlite_autoincrement")]
    assert missing == [], f"tables without NO_ID_REUSE ({NO_ID_REUSE}): {missing}"


def test_the_migrated_database_never_reuses_ids(db):
    tables = _published_tables()
    with db.engine.connect() as conn:
        for table in tables:
            if db.dialect == "sqlite":
                sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                                   {"t": table}).scalar()
                assert sql and "AUTOINCREMENT" in sql.upper(), f"{table} is not AUTOINCREMENT on SQLite"
            else:  # a sequence (serial or identity) behind the id; sequences never go back
                seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
                assert seq, f"{table}.id has no sequence on PostgreSQL"


def _coalition() -> dict:
    return {"title": f"Coalitie {next(_seq)} voor koele wijken", "lead_city": UTRECHT}


REGISTRY = {
    "organisations": organisation_payload,
    "living-labs": lab_payload,
    "projects": project_payload,
    "solutions": solution_payload,
    "coalitions": _coalition,
}


@pytest.mark.parametrize("kind", [*REGISTRY, "adoptions"])
def test_a_deleted_registry_id_is_not_given_again(admin_client, kind):
    if kind == "adoptions":
        sol = create(admin_client, "solutions", solution_payload())["id"]
        cities = iter(("GM0363", "GM0599", "GM0772"))
        make = lambda: {"solution_id": sol, "city": next(cities)}  # noqa: E731
    else:
        make = REGISTRY[kind]
    create(admin_client, kind, make())
    last = create(admin_client, kind, make())["id"]
    assert admin_client.delete(f"/api/v1/{kind}/{last}").status_code == 204
    again = create(admin_client, kind, make())["id"]
    assert again > last
    assert admin_client.get(f"/api/v1/{kind}/{last}").status_code == 404


STA_SETS = {
    "Things": thing,
    "Locations": location,
    "Sensors": sensor,
    "ObservedProperties": lambda: observed_property(name=f"Grootheid {next(_seq)}"),
}


@pytest.mark.parametrize("entity_set", list(STA_SETS))
def test_a_deleted_sensorthings_id_is_not_given_again(admin_client, entity_set):
    make = STA_SETS[entity_set]

    def post() -> int:
        r = admin_client.post(f"{STA}/{entity_set}", json=make())
        assert r.status_code == 201, r.text
        return r.json()["@iot.id"]

    post()
    last = post()
    assert admin_client.delete(f"{STA}/{entity_set}({last})").status_code == 200
    assert post() > last


def test_a_deleted_observation_id_is_not_given_again(admin_client):
    body = {**thing(), "Locations": [location()], "Datastreams": [{"name": "Meetreeks", "description": "d", "observationType":
            "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
            "unitOfMeasurement": {"name": "graad", "symbol": "C", "definition": "https://qudt.org"},
            "Sensor": sensor(), "ObservedProperty": observed_property(name=f"Temperatuur {next(_seq)}")}]}
    t = admin_client.post(f"{STA}/Things", json=body)
    assert t.status_code == 201, t.text
    ds = admin_client.get(f"{STA}/Things({t.json()['@iot.id']})/Datastreams").json()["value"][0]["@iot.id"]

    def post(n: int) -> int:
        r = admin_client.post(f"{STA}/Datastreams({ds})/Observations",
                              json={"phenomenonTime": f"2024-05-01T1{n}:00:00Z", "result": n})
        assert r.status_code == 201, r.text
        return r.json()["@iot.id"]

    post(1)
    last = post(2)
    assert admin_client.delete(f"{STA}/Observations({last})").status_code == 200
    assert post(3) > last
