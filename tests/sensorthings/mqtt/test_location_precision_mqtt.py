"""MQTT notifications carry positions at their public precision: a broker cannot tell subscribers
apart, so every message shows what an anonymous GET shows."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from stadslab.app import create_app
from stadslab.sensorthings.access.precision import snap_point
from tests.sensorthings.helpers import location, thing

from .conftest import wait_until

pytestmark = pytest.mark.mqtt

EXACT = [4.8951234, 52.3704567]


def test_location_notifications_are_coarsened(db, prefix, mqtt_settings, listener, admin_headers):
    watcher = listener(f"{prefix}/Locations")
    with TestClient(create_app(mqtt_settings, db=db), headers=admin_headers) as client:
        body = thing(properties={"register": {"locationPrecision": 1000}}, Locations=[location(*EXACT)])
        r = client.post("/sta/v1.1/Things", json=body)
        assert r.status_code == 201, r.text
        assert wait_until(lambda: watcher.json_on(f"{prefix}/Locations"), timeout=5)
        exact = client.get(f"{r.headers['location']}/Locations").json()["value"][0]
    [message] = watcher.json_on(f"{prefix}/Locations")
    assert exact["location"]["coordinates"] == EXACT  # the administrator who wrote it sees it exactly
    assert message["@iot.id"] == exact["@iot.id"]
    assert message["location"]["coordinates"] == snap_point(*EXACT, 1000)
