"""LoRaWAN uplinks: decoded values are bounded like any free JSON, and an uplink that fails midway
leaves nothing behind (no Observation, no received-message key, no audit event); both dialects."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stadslab.governance import audit
from stadslab.governance.models import AuditEvent
from stadslab.sensorthings.lorawan.models import LorawanReceived

from .conftest import observations, register, send
from .messages import DEV_EUI, tts_uplink


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = {"v": value}
    return value


def _count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_deep_decoded_value_is_a_400_naming_the_decoded_field(client, station, db):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing,
                              {"temperature": station.temperature, "humidity": station.humidity})
    r = send(client, iid, secret, tts_uplink({"temperature": 20.5, "humidity": _nested(241)}))
    assert r.status_code == 400, r.text
    assert r.json()["detail"] == "decoded.humidity: nesting depth 241 exceeds the limit of 32"
    assert observations(client, station.temperature) == [] and _count(db, LorawanReceived) == 0


def test_a_received_time_outside_the_supported_range_names_the_field(client, station, db):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing, {"temperature": station.temperature})
    r = send(client, iid, secret, tts_uplink(received_at="9999-12-31T23:59:59.000000000Z"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "uplink_message.received_at"
    assert "outside the supported range" in r.json()["detail"]
    assert observations(client, station.temperature) == [] and _count(db, LorawanReceived) == 0


def test_a_failure_after_the_first_insert_rolls_the_whole_uplink_back(app, client, station, db, monkeypatch):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing,
                              {"temperature": station.temperature, "humidity": station.humidity})
    events = _count(db, AuditEvent)

    def broken(*args, **kwargs):
        raise RuntimeError("injected after the first statement")

    monkeypatch.setattr(audit, "chain_events", broken)
    with TestClient(app, raise_server_exceptions=False) as raw:
        r = send(raw, iid, secret, tts_uplink())
    assert r.status_code == 500 and "Reference: " in r.json()["detail"]
    monkeypatch.undo()
    assert observations(client, station.temperature) == [] and observations(client, station.humidity) == []
    assert _count(db, LorawanReceived) == 0 and _count(db, AuditEvent) == events
    assert send(client, iid, secret, tts_uplink()).json()["status"] == "stored"  # nothing blocks a retry
