"""/metrics shows MQTT ingest: Observations stored, messages by outcome, connection, last message, queue."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from stadslab.app import create_app
from tests.ops.test_probes_metrics import LOOPBACK, _sample

from .conftest import WAIT, make_datastream, observation_count, wait_until

pytestmark = pytest.mark.mqtt


def test_mqtt_ingest_is_counted_in_metrics(db, mqtt_settings, prefix, listener):
    ds = make_datastream(db)
    app = create_app(mqtt_settings, db=db)
    with TestClient(app, client=LOOPBACK) as c:
        assert app.state.mqtt.wait_ready(WAIT)
        before = c.get("/metrics").text
        started = time.time()
        client = listener()
        for i in range(3):
            client.create(f"{prefix}/Datastreams({ds})/Observations", {"result": i})
        client.create(f"{prefix}/Datastreams({ds})/Observations", b"not json")
        assert wait_until(lambda: app.state.mqtt.creates.stored == 3 and app.state.mqtt.creates.rejected == 1)
        after = c.get("/metrics").text
    assert observation_count(db, ds) == 3

    def grew(name, **labels):
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert grew("stadslab_observations_ingested_total", channel="mqtt") == 3
    assert grew("stadslab_mqtt_create_messages_total", outcome="stored") == 3
    assert grew("stadslab_mqtt_create_messages_total", outcome="rejected") == 1
    assert _sample(after, "stadslab_mqtt_last_message_timestamp_seconds") >= int(started)
    assert _sample(after, "stadslab_mqtt_connected") == 1
    assert "stadslab_mqtt_notification_queue " in after
    assert "stadslab_mqtt_create_retries_total" in after
    assert grew("stadslab_observations_ingested_total", channel="http") == 0
