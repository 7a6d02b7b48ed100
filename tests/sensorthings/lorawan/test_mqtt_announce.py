"""Observations that arrive by LoRaWAN are announced over MQTT like any other create."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from stadslab.app import create_app
from tests.sensorthings.mqtt.conftest import Listener, wait_until

from .conftest import register, send
from .messages import DEV_EUI, tts_uplink

pytestmark = pytest.mark.mqtt


def test_lorawan_observation_is_published_on_its_datastream_topic(client, station, db, settings, mqtt_url):
    prefix = f"test-{uuid.uuid4().hex[:10]}/v1.1"
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing, {"temperature": station.temperature})
    topic = f"{prefix}/Datastreams({station.temperature})/Observations"
    listener = Listener(mqtt_url).subscribe(topic)
    listener.bus.start()
    try:
        assert listener.bus.wait_ready(15)
        mqtt_app = create_app(settings.model_copy(update={"mqtt_url": mqtt_url, "mqtt_topic_prefix": prefix}),
                              db=db)
        with TestClient(mqtt_app) as hub:
            r = send(hub, iid, secret, tts_uplink())
            assert r.status_code == 200, r.text
            assert wait_until(lambda: listener.json_on(topic))
        [note] = listener.json_on(topic)
        assert note["@iot.id"] == r.json()["observations"][0] and note["result"] == 21.5
        assert note["@iot.selfLink"] == f"/sta/v1.1/Observations({note['@iot.id']})"  # no external URL set
    finally:
        listener.bus.stop()
