"""MQTT with several workers and nodes (issue #19): no orphaned persistent sessions after the worker
count went down, and no worker receives its own publishes (no notification loop-back)."""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from stadslab.sensorthings.mqtt.paho_bus import PahoBus

from .conftest import WAIT, make_datastream, observation_count, wait_until
from .test_durable_creates import _publish

pytestmark = pytest.mark.mqtt


def _session_present(settings, client_id: str) -> bool:
    """Connects as ``client_id`` without a clean start: does the broker still keep a session for it?
    (Session expiry 0: a session this probe finds or makes ends with it.)"""
    host, port = settings.mqtt_url.split("://", 1)[1].rsplit("@", 1)[-1].rsplit(":", 1)
    found, done = {}, threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(settings.mqtt_username, settings.mqtt_password)

    def on_connect(c, userdata, flags, reason_code, properties):
        found["present"] = bool(flags.session_present)
        done.set()

    client.on_connect = on_connect
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    client.connect(host, int(port), clean_start=False, properties=props)
    client.loop_start()
    try:
        assert done.wait(WAIT)
        return found["present"]
    finally:
        client.disconnect()
        client.loop_stop()


def test_sessions_of_slots_beyond_the_worker_count_are_drained_and_ended(
        db, prefix, start_runtime, listener, mqtt_settings, tmp_path):
    ds = make_datastream(db)
    first = start_runtime(mqtt_slot_dir=str(tmp_path))
    second = start_runtime(mqtt_slot_dir=str(tmp_path))
    orphan = second.bus.client_id
    first.stop()  # the node stops; it comes back with one worker instead of two
    second.stop()
    client = listener()
    topic = f"{prefix}/Datastreams({ds})/Observations"
    for i in range(6):
        _publish(client, topic, {"result": i, "phenomenonTime": f"2024-05-01T10:00:0{i}Z"})
    assert observation_count(db, ds) == 0  # the broker holds them, part of them for slot 1's session
    back = start_runtime(mqtt_slot_dir=str(tmp_path), mqtt_workers=1)
    assert back.bus.client_id != orphan
    # slot 1 will not come back: the first worker stores what its session held and ends it
    assert wait_until(lambda: observation_count(db, ds) == 6, 60)
    assert wait_until(lambda: not list(tmp_path.glob("*-1.lock")), 60)
    assert not _session_present(mqtt_settings, orphan)
    # from now on every create reaches the one live worker
    for i in range(4):
        _publish(client, topic, {"result": 10 + i, "phenomenonTime": f"2024-05-02T10:00:0{i}Z"})
    assert wait_until(lambda: observation_count(db, ds) == 10)
    assert back.creates.stored == 10


def test_a_live_workers_slot_is_not_taken(db, prefix, start_runtime, tmp_path):
    start_runtime(mqtt_slot_dir=str(tmp_path))
    busy = start_runtime(mqtt_slot_dir=str(tmp_path))  # slot 1, alive (say, the count went up again)
    start_runtime(mqtt_slot_dir=str(tmp_path), mqtt_workers=1)  # a third worker: slot 2, not slot 0
    assert list(tmp_path.glob("*-1.lock")) and busy.bus.connected


def test_no_local_a_bus_never_receives_its_own_publishes(mqtt_settings):
    """The server's own notifications never come back to it, on any topic it subscribes to
    (shared subscriptions excepted: MQTT 5 forbids No Local there, and the server never publishes
    to the inbound topics it shares)."""
    topic = f"loopback-{uuid.uuid4().hex[:8]}/v1.1/Things"
    buses = [PahoBus(mqtt_settings.mqtt_url, client_id_prefix="loop", username=mqtt_settings.mqtt_username,
                     password=mqtt_settings.mqtt_password) for _ in range(2)]
    got: list[list[bytes]] = [[], []]
    try:
        for n, bus in enumerate(buses):
            bus.subscribe(topic, lambda m, n=n: got[n].append(m.payload))
            bus.start()
            assert bus.wait_ready(WAIT)
        buses[0].publish(topic, b"from-0", qos=1)
        assert wait_until(lambda: got[1] == [b"from-0"])
        buses[1].publish(topic, b"from-1", qos=1)
        assert wait_until(lambda: got[0] == [b"from-1"])
        assert got == [[b"from-1"], [b"from-0"]]  # neither heard itself
    finally:
        for bus in buses:
            bus.stop()
