"""/metrics counts Observations stored from LoRaWAN uplinks (channel "lorawan"), once per uplink."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.ops.test_probes_metrics import LOOPBACK, _sample

from .conftest import register, send
from .messages import DEV_EUI, tts_uplink


def _scrape(app) -> str:
    r = TestClient(app, client=LOOPBACK).get("/metrics")
    assert r.status_code == 200, r.text
    return r.text


def test_lorawan_ingest_is_counted_in_metrics(client, station):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing,
                              {"temperature": station.temperature, "humidity": station.humidity})
    before = _scrape(client.app)
    message = tts_uplink()
    assert send(client, iid, secret, message).json()["status"] == "stored"
    assert send(client, iid, secret, message).json()["status"] == "duplicate"  # counted once
    after = _scrape(client.app)
    grew = (_sample(after, "stadslab_observations_ingested_total", channel="lorawan")
            - _sample(before, "stadslab_observations_ingested_total", channel="lorawan"))
    assert grew == 2
