"""Durable MQTT creates: idempotency receipts, persistent sessions per worker slot, pruning.

Killed workers and a restarted database are in tests/ops/test_durability.py; these
tests pin the rules one message at a time, against the real broker, on both databases.
"""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import func, select

from stadslab.core.database import utcnow
from stadslab.sensorthings.mqtt import receipts
from stadslab.sensorthings.mqtt.receipts import IngestReceipt
from tests.governance.factories import make_token, make_user

from .conftest import WAIT, make_datastream, observation_count, wait_until

pytestmark = pytest.mark.mqtt


def _publish(client, topic: str, body: dict, key: str | None = None) -> None:
    """A create by ``client``'s broker account: QoS 1, and back only once the broker has acknowledged it."""
    props = None
    if key:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("idempotency-key", key)]
    info = client.bus._client.publish(f"{client.inbound}/{client.username}/{topic}", orjson.dumps(body), qos=1,
                                      properties=props)
    info.wait_for_publish(WAIT)
    assert info.is_published()


def _handled(rt) -> int:
    c = rt.creates
    return c.stored + c.duplicates + c.rejected


def test_a_repeated_publish_is_stored_once(db, prefix, start_runtime, listener):
    ds = make_datastream(db)
    rt = start_runtime()
    client = listener()
    topic = f"{prefix}/Datastreams({ds})/Observations"
    body = {"result": 3.5, "phenomenonTime": "2024-05-01T10:00:00Z"}
    _publish(client, topic, body)
    _publish(client, topic, body)  # what a redelivery looks like: the same bytes again
    assert wait_until(lambda: _handled(rt) == 2)
    assert observation_count(db, ds) == 1
    assert rt.creates.stored == 1 and rt.creates.duplicates == 1
    with db.session() as s:
        receipt = s.scalars(select(IngestReceipt)).one()
    assert receipt.observations == 1 and receipt.via == "mqtt" and len(receipt.key) == 64


def test_the_idempotency_key_wins_over_the_payload(db, prefix, start_runtime, listener):
    ds = make_datastream(db)
    rt = start_runtime()
    client = listener()
    topic = f"{prefix}/Datastreams({ds})/Observations"
    # a publisher's retry may carry a different payload: the key alone decides
    _publish(client, topic, {"result": 1, "phenomenonTime": "2024-05-01T10:00:00Z"}, key="r-1")
    _publish(client, topic, {"result": 2, "phenomenonTime": "2024-05-01T10:00:01Z"}, key="r-1")
    _publish(client, topic, {"result": 3, "phenomenonTime": "2024-05-01T10:00:00Z"}, key="r-2")
    assert wait_until(lambda: _handled(rt) == 3)
    assert observation_count(db, ds) == 2 and rt.creates.duplicates == 1


def test_keys_belong_to_the_publishing_account(db, prefix, start_runtime, listener):
    """Another account cannot suppress someone's writes by reusing their idempotency key."""
    ds = make_datastream(db)
    with db.session() as s:
        other = make_token(s, make_user(s, "admin"))
    rt = start_runtime()
    client = listener()
    topic = f"{prefix}/Datastreams({ds})/Observations"
    body = {"result": 1, "phenomenonTime": "2024-05-01T10:00:00Z"}
    _publish(client, topic, body, key="same")
    _publish(listener(token=other), topic, body, key="same")
    assert wait_until(lambda: _handled(rt) == 2)
    assert observation_count(db, ds) == 2 and rt.creates.duplicates == 0


def test_without_phenomenon_time_or_key_identical_payloads_are_two_measurements(
        db, prefix, start_runtime, listener):
    """The server stamps the time itself, so equal bytes need not be a redelivery."""
    ds = make_datastream(db)
    rt = start_runtime()
    client = listener()
    topic = f"{prefix}/Datastreams({ds})/Observations"
    _publish(client, topic, {"result": 0})
    _publish(client, topic, {"result": 0})
    assert wait_until(lambda: _handled(rt) == 2)
    assert observation_count(db, ds) == 2
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(IngestReceipt)) == 0


def test_an_oversized_key_is_rejected(db, prefix, start_runtime, listener):
    ds = make_datastream(db)
    rt = start_runtime()
    client = listener()
    _publish(client, f"{prefix}/Datastreams({ds})/Observations",
             {"result": 1, "phenomenonTime": "2024-05-01T10:00:00Z"}, key="k" * 300)
    assert wait_until(lambda: rt.creates.rejected == 1)
    assert observation_count(db, ds) == 0


def test_a_restarted_worker_resumes_its_session_and_gets_what_was_queued(
        db, prefix, start_runtime, listener, tmp_path):
    """The replacement claims the freed slot, so it comes back under the same client id."""
    ds = make_datastream(db)
    first = start_runtime(mqtt_slot_dir=str(tmp_path))
    second = start_runtime(mqtt_slot_dir=str(tmp_path))
    assert first.bus.client_id != second.bus.client_id  # two live workers never share a session
    gone = first.bus.client_id
    first.stop()  # the worker goes away; its session stays with the broker
    second.stop()
    client = listener()
    topic = f"{prefix}/Datastreams({ds})/Observations"
    for i in range(4):
        _publish(client, topic, {"result": i, "phenomenonTime": f"2024-05-01T10:00:0{i}Z"})
    assert observation_count(db, ds) == 0  # acknowledged by the broker, which holds them for the sessions
    back = start_runtime(mqtt_slot_dir=str(tmp_path))
    assert back.bus.client_id == gone
    other = start_runtime(mqtt_slot_dir=str(tmp_path))
    assert wait_until(lambda: observation_count(db, ds) == 4)
    assert back.creates.stored + other.creates.stored == 4


def test_expired_receipts_are_pruned(db):
    with db.session() as s:
        s.add_all([IngestReceipt(key="a" * 64, via="mqtt", received_at=utcnow() - timedelta(hours=200)),
                   IngestReceipt(key="b" * 64, via="mqtt", received_at=utcnow() - timedelta(hours=1))])
        s.commit()
    with db.session() as s:
        assert receipts.prune(s, retention_hours=168) == 1
        assert s.scalars(select(IngestReceipt.key)).all() == ["b" * 64]
