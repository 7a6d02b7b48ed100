"""Creating Observations by MQTT publish, against the real (secure) broker, on SQLite and PostgreSQL.

Writers log in to the broker with an API token and publish to their own inbound
namespace (``Listener.create``); see docs/sensorthings.md, "MQTT".
"""

from __future__ import annotations

import logging

import orjson
import pytest
from sqlalchemy import select

from stadslab.sensorthings.model.tables import Observation
from stadslab.sensorthings.mqtt.notify import NOTIFICATION_MARKER

from .conftest import WAIT, Listener, make_datastream, observation_count, wait_until

pytestmark = pytest.mark.mqtt


def test_publish_to_datastream_observations_is_stored_and_announced(db, prefix, start_runtime, listener):
    ds = make_datastream(db)
    rt = start_runtime()
    topic = f"{prefix}/Datastreams({ds})/Observations"
    watcher = listener(topic)

    watcher.create(topic, {"result": 21.5, "phenomenonTime": "2024-05-01T10:00:00Z"})

    assert wait_until(lambda: observation_count(db, ds) == 1)
    with db.session() as s:
        obs = s.execute(select(Observation)).scalar_one()
    assert obs.result == 21.5 and obs.datastream_id == ds
    # The subscriber sees the server's notification (never the client's create, which went to the
    # inbound namespace): marked, and carrying the stored entity with its id and selfLink.
    assert wait_until(lambda: any(NOTIFICATION_MARKER in m.user_properties for m in watcher.on(topic)))
    assert all(NOTIFICATION_MARKER in m.user_properties for m in watcher.on(topic))
    note = next(orjson.loads(m.payload) for m in watcher.on(topic) if NOTIFICATION_MARKER in m.user_properties)
    assert note["@iot.id"] == obs.id
    assert note["@iot.selfLink"] == f"http://testserver/sta/v1.1/Observations({obs.id})"
    assert note["result"] == 21.5 and note["phenomenonTime"] == "2024-05-01T10:00:00Z"
    assert rt.creates.stored == 1


def test_publish_to_observations_with_datastream_in_body(db, prefix, start_runtime, listener):
    ds = make_datastream(db)
    start_runtime()
    client = listener()
    client.create(f"{prefix}/Observations", {"result": 7, "Datastream": {"@iot.id": ds}})
    assert wait_until(lambda: observation_count(db, ds) == 1)


def test_own_notifications_are_not_stored_again(db, prefix, start_runtime, listener):
    """Notifications go to the standard topics, creates to the inbound namespace: no loop."""
    ds = make_datastream(db)
    rt = start_runtime()
    client = listener(f"{prefix}/#")
    client.create(f"{prefix}/Datastreams({ds})/Observations", {"result": 1})
    assert wait_until(lambda: len(client.on(f"{prefix}/Observations")) == 1)
    assert rt.notifier.drain()
    assert observation_count(db) == 1
    assert rt.creates.stored == 1 and rt.creates.rejected == 0 and rt.creates.ignored == 0


def test_two_workers_in_a_shared_group_store_a_burst_exactly_once(db, prefix, start_runtime, listener):
    ds = make_datastream(db)
    workers = [start_runtime(), start_runtime()]
    client = listener()
    n = 60
    for i in range(n):
        client.create(f"{prefix}/Datastreams({ds})/Observations", {"result": i})

    assert wait_until(lambda: sum(w.creates.stored for w in workers) >= n)
    for w in workers:
        assert w.notifier.drain()
    with db.session() as s:
        results = s.scalars(select(Observation.result).where(Observation.datastream_id == ds)).all()
        ids = s.scalars(select(Observation.id)).all()
    assert len(results) == n and sorted(results) == list(range(n))
    assert len(set(ids)) == n
    assert sum(w.creates.stored for w in workers) == n
    assert all(w.creates.stored > 0 for w in workers), "the broker did not share the messages"


def test_invalid_messages_are_logged_and_dropped(db, prefix, start_runtime, listener, caplog):
    ds = make_datastream(db)
    rt = start_runtime()
    client = listener()
    caplog.set_level(logging.WARNING, logger="stadslab.mqtt.ingest")
    bad = [
        (f"{prefix}/Observations", b"this is not json"),
        (f"{prefix}/Observations", b"[1, 2, 3]"),
        (f"{prefix}/Observations", orjson.dumps({"result": "PERSOONSGEGEVEN-42"})),  # no Datastream
        (f"{prefix}/Datastreams({ds})/Observations",
         orjson.dumps({"result": 1, "phenomenonTime": "PERSOONSGEGEVEN-43"})),  # echoed by the validator
        (f"{prefix}/Datastreams(999999)/Observations", orjson.dumps({"result": 1})),
        (f"{prefix}/Datastreams({ds})/Observations", orjson.dumps({"result": 1, "@iot.id": 5})),
        (f"{prefix}/Datastreams({ds})/Observations", orjson.dumps({"result": 1, "colour": "red"})),
        (f"{prefix}/Things(1)/Observations", orjson.dumps({"result": 1})),
    ]
    for topic, payload in bad:
        client.create(topic, payload)
    assert wait_until(lambda: rt.creates.rejected == len(bad))
    assert observation_count(db) == 0
    # The subscriber survived: a good message afterwards is still stored.
    client.create(f"{prefix}/Datastreams({ds})/Observations", {"result": 3})
    assert wait_until(lambda: observation_count(db) == 1)
    assert rt.bus.connected
    assert "PERSOONSGEGEVEN" not in caplog.text  # payload values are never logged
    assert "Datastream" in caplog.text and "999999" in caplog.text  # but the reason is


def test_creates_need_a_token_with_write_rights_on_the_thing(db, prefix, start_runtime, listener, caplog):
    """The topic names the broker account; the server maps it to the token and applies the HTTP rules.
    A writer of organisation A cannot write organisation B's Datastream."""
    from stadslab.governance import audit
    from tests.governance.factories import make_organisation, make_token, make_user

    rt = start_runtime()
    with db.session() as s:
        own, other = make_organisation(s), make_organisation(s)
        tokens = {name: make_token(s, make_user(s, role, org, password=None), scopes=scopes)
                  for name, role, org, scopes in (("editor", "editor", own, None), ("member", "member", own, None),
                                                  ("other-editor", "editor", other, None),
                                                  ("readonly", "editor", own, ["sta:read"]))}
    ds = make_datastream(db, properties={"register": {"owner": {"organisation_id": own.id}}})
    topic = f"{prefix}/Datastreams({ds})/Observations"
    caplog.set_level(logging.WARNING, logger="stadslab.mqtt.ingest")
    refused = ["member", "readonly", "other-editor"]
    for i, name in enumerate(refused):
        listener(token=tokens[name]).create(topic, {"result": i})
    assert wait_until(lambda: rt.creates.rejected == len(refused))
    assert observation_count(db) == 0
    listener(token=tokens["editor"]).create(topic, {"result": 42})
    assert wait_until(lambda: observation_count(db, ds) == 1)
    assert rt.creates.stored == 1
    assert caplog.text.count("Not permitted") == len(refused)
    assert not any(t in caplog.text for t in tokens.values())
    with db.session() as s:
        [event] = audit.iterate(s, audit.AuditFilter(entity_type="sta.Observation"))
    assert event["actor_type"] == "user" and event["organisation_id"] == own.id
    assert event["after"] == {"count": 1, "datastreams": [ds], "multi_datastreams": [], "via": "mqtt"}


def test_anonymous_creates_only_with_the_development_setting(db, prefix, start_runtime, private_broker):
    """A plain broker proves nothing about the publisher: creates are refused there unless the
    development setting ``anonymous_writes`` is on, and then stored as anonymous."""
    from tests.governance.factories import make_token, make_user

    ds = make_datastream(db)
    with db.session() as s:
        token = make_token(s, make_user(s, "admin"))
    plain = {"mqtt_url": private_broker.url, "mqtt_dynamic_security": False, "mqtt_username": None}
    refusing = start_runtime(**plain)
    anonymous = Listener(private_broker.url, inbound=refusing.creates.inbound)
    anonymous.bus.start()
    topic = f"{prefix}/Datastreams({ds})/Observations"
    old_way = {"authorization": f"Bearer {token}"}
    try:
        assert anonymous.bus.wait_ready(WAIT)
        anonymous.create(topic, {"result": 1})
        anonymous.create(topic, {"result": 1}, user_properties=old_way)  # a token in the message: never
        assert wait_until(lambda: refusing.creates.rejected == 2), vars(refusing.creates)
        refusing.stop()
        accepting = start_runtime(**plain, anonymous_writes=True)
        anonymous.create(topic, {"result": 2}, user_properties=old_way)
        anonymous.create(topic, {"result": 3})
        assert wait_until(lambda: observation_count(db, ds) == 1 and accepting.creates.rejected == 1), \
            (observation_count(db, ds), vars(accepting.creates), vars(refusing.creates))
        assert accepting.creates.stored == 1
    finally:
        anonymous.bus.stop()
