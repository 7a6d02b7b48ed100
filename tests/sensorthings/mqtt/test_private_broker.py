"""Behaviour that needs a broker of our own: reconnecting, and learning $select topics.

The private broker is a plain one (no dynamic security), so the writers here are
anonymous and the runtimes run with the development setting ``anonymous_writes``.
"""

from __future__ import annotations

import pytest

from .conftest import Listener, make_datastream, observation_count, wait_until

pytestmark = pytest.mark.mqtt


PLAIN = {"mqtt_dynamic_security": False, "mqtt_username": None, "anonymous_writes": True}


def test_server_reconnects_and_resubscribes_after_a_broker_restart(db, private_broker, start_runtime, prefix):
    ds = make_datastream(db)
    rt = start_runtime(mqtt_url=private_broker.url, **PLAIN)
    topic = f"{prefix}/Datastreams({ds})/Observations"
    client = Listener(private_broker.url)
    client.bus.start()
    try:
        assert client.bus.wait_ready(15)
        client.create(topic, {"result": 1})
        assert wait_until(lambda: observation_count(db, ds) == 1)

        private_broker.stop()
        assert wait_until(lambda: not rt.bus.connected)
        private_broker.start()
        assert wait_until(lambda: rt.bus.connected, timeout=60), "server did not reconnect"
        assert rt.wait_ready(30), "subscriptions were not made again"
        assert wait_until(lambda: client.bus.connected, timeout=60)

        client.create(topic, {"result": 2})
        assert wait_until(lambda: observation_count(db, ds) == 2)
    finally:
        client.bus.stop()


def test_select_topics_are_learned_from_mosquittos_subscribe_log(db, private_broker, start_runtime, prefix):
    ds = make_datastream(db)
    rt = start_runtime(mqtt_url=private_broker.url, mqtt_learn_select_topics=True, **PLAIN)
    wanted = f"{prefix}/Observations?$select=result"
    watcher = Listener(private_broker.url).subscribe(wanted)
    watcher.bus.start()
    try:
        assert watcher.bus.wait_ready(15)
        assert wait_until(lambda: [t.raw for t in rt.selects.for_path("Observations")]
                          == ["Observations?$select=result"])
        watcher.create(f"{prefix}/Datastreams({ds})/Observations", {"result": 33})
        assert wait_until(lambda: watcher.on(wanted))
        assert watcher.json_on(wanted) == [{"result": 33}]
    finally:
        watcher.bus.stop()
