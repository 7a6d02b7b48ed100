"""MQTT creates are bounded like HTTP ones, and a create that fails midway leaves nothing behind.

Through the real broker, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from stadslab.governance import audit
from stadslab.governance.models import AuditEvent
from stadslab.sensorthings.mqtt.receipts import IngestReceipt

from .conftest import make_datastream, observation_count, wait_until

pytestmark = pytest.mark.mqtt


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def _count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_deep_result_published_is_dropped_with_the_field_and_limit_logged(db, prefix, start_runtime, listener,
                                                                             caplog):
    ds = make_datastream(db)
    rt = start_runtime()
    client = listener()
    topic = f"{prefix}/Datastreams({ds})/Observations"
    with caplog.at_level(logging.WARNING, logger="stadslab.mqtt.ingest"):
        client.create(topic, {"result": _nested(241)})
        client.create(topic, {"result": 1, "parameters": {"p": _nested(40)}})
        client.create(topic, {"result": 2, "phenomenonTime": "9999-12-31T23:59:59Z"})
        client.create(topic, {"result": "fine"})
        assert wait_until(lambda: rt.creates.stored + rt.creates.rejected >= 4)
    assert rt.creates.rejected == 3 and rt.creates.stored == 1
    assert observation_count(db, ds) == 1
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "result: nesting depth 241 exceeds the limit of 32" in logged
    assert "parameters: nesting depth 41 exceeds the limit of 32" in logged
    assert "phenomenonTime" in logged and "outside the supported range" in logged


def test_a_failure_after_the_insert_rolls_the_mqtt_create_back(db, prefix, start_runtime, listener, monkeypatch):
    """The audit event is written after the Observation: when it fails, neither the Observation nor
    the ingest receipt stays, so a redelivery can still store the message."""
    ds = make_datastream(db)
    events = _count(db, AuditEvent)

    def broken(*args, **kwargs):
        raise RuntimeError("injected after the first statement")

    monkeypatch.setattr(audit, "chain_events", broken)
    rt = start_runtime()
    listener().create(f"{prefix}/Datastreams({ds})/Observations", {"result": 3})
    assert wait_until(lambda: rt.creates.rejected == 1)
    assert observation_count(db, ds) == 0
    assert _count(db, IngestReceipt) == 0 and _count(db, AuditEvent) == events
