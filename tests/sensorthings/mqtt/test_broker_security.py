"""Issue #13.1: no credential travels through the broker, and readers get only what they may read.

Against the secure broker as deployed (Mosquitto 2 with the dynamic-security plugin,
Stadslab as its control plane), on SQLite and PostgreSQL. See docs/sensorthings.md, "MQTT".
"""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import update

from stadslab.core.auth import SYSTEM
from stadslab.core.database import utcnow
from stadslab.governance import service as governance
from stadslab.governance.models import ApiToken
from stadslab.sensorthings.write import service
from stadslab.sensorthings.model.urls import parse_path
from tests.governance.factories import make_organisation, make_token, make_user

from .conftest import WAIT, login_of, make_datastream, observation_count, wait_until

pytestmark = pytest.mark.mqtt


class Probe:
    """A bare paho client that reports what the broker answered (CONNACK, SUBACK, disconnects)."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None):
        host, port = url.split("://", 1)[1].rsplit(":", 1)
        self.connack: str | None = None
        self.subacks: dict[int, list[str]] = {}
        self.disconnected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(60, 60)  # a refused or kicked probe stays down
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, u, f, rc, p: setattr(self, "connack", str(rc))
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.__setitem__(mid, [str(r) for r in rcs])
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()
        self.client.connect(host, int(port))
        self.client.loop_start()
        wait_until(lambda: self.connack is not None)

    def suback(self, topic: str) -> str:
        """The broker's answer to a subscription. Mosquitto drops anonymous clients whenever the
        read role's ACLs change (docs/deployment.md), which may happen while this one waits: then
        it connects again and asks again (a refused login gets no SUBACK either way)."""
        for _ in range(3):
            self.disconnected.clear()
            _, mid = self.client.subscribe(topic, qos=1)
            if wait_until(lambda: mid in self.subacks or self.disconnected.is_set()) and mid in self.subacks:
                return self.subacks[mid][0]
            if not self.disconnected.is_set():
                break
            self.connack = None
            self.client.reconnect()
            wait_until(lambda: self.connack is not None)
        raise AssertionError(f"no SUBACK for {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def probe(mqtt_settings):
    made: list[Probe] = []

    def make(username: str | None = None, password: str | None = None) -> Probe:
        made.append(Probe(mqtt_settings.mqtt_url, username, password))
        return made[-1]

    yield make
    for p in made:
        p.close()


def _stream(db, cls: str, org_id: int) -> int:
    return make_datastream(db, properties={"register": {"access_class": cls, "owner": {"organisation_id": org_id}}})


def test_anonymous_subscribers_never_receive_a_token_or_a_restricted_payload(db, prefix, start_runtime, listener,
                                                                              probe):
    """Regression: before, a create carried ``authorization: Bearer stl_...`` on the standard topic, and the
    broker relayed it (and the restricted Observation) to an anonymous ``v1.1/#`` subscriber."""
    with db.session() as s:
        org = make_organisation(s)
        outsider_token = make_token(s, make_user(s, "member", make_organisation(s), password=None))
    rt = start_runtime()
    restricted, open_ = _stream(db, "restricted", org.id), _stream(db, "open", org.id)
    with db.session() as s:
        writer_token = make_token(s, make_user(s, "editor", org, password=None))
    assert rt.control.drain()  # the new deny ACLs are in (a role change makes the broker drop anonymous clients)
    spy = listener(f"{prefix}/#", "#", token=None)
    outsider = listener(f"{prefix}/#", f"{rt.creates.inbound}/#", token=outsider_token)
    assert probe().suback("#") == "Not authorized"
    assert probe(login_of(db, outsider_token), outsider_token).suback(f"{rt.creates.inbound}/#") == "Not authorized"
    writer = listener(token=writer_token)

    # the old way: the broker refuses the publish on the standard topic (only the server writes there)
    writer.publish(f"{prefix}/Datastreams({restricted})/Observations", {"result": 41.375},
                   user_properties={"authorization": f"Bearer {writer_token}"})
    writer.create(f"{prefix}/Datastreams({restricted})/Observations", {"result": 42.625})
    writer.create(f"{prefix}/Datastreams({open_})/Observations", {"result": 7.5})
    assert wait_until(lambda: observation_count(db, restricted) == 1 and observation_count(db, open_) == 1)
    # the open Observation's notification reached both readers, so they were listening all along
    assert wait_until(lambda: spy.on(f"{prefix}/Datastreams({open_})/Observations")
                      and outsider.on(f"{prefix}/Datastreams({open_})/Observations"))
    assert rt.notifier.drain()
    for reader in (spy, outsider):
        for m in reader.messages:
            assert "stl_" not in repr(m.user_properties) and b"stl_" not in m.payload
            assert b"41.375" not in m.payload and b"42.625" not in m.payload
            assert f"Datastreams({restricted})" not in m.topic and not m.topic.startswith(rt.creates.inbound)


def test_a_message_carrying_a_token_secret_is_refused_and_not_stored(db, prefix, start_runtime, listener, caplog):
    ds = make_datastream(db)
    rt = start_runtime()
    with db.session() as s:
        token = make_token(s, make_user(s, "admin"))
    writer = listener(token=token)
    caplog.set_level(logging.WARNING, logger="stadslab.mqtt.ingest")
    topic = f"{prefix}/Datastreams({ds})/Observations"
    writer.create(topic, {"result": 1}, user_properties={"authorization": f"Bearer {token}"})
    writer.create(topic, {"result": 2, "parameters": {"note": f"my key is {token}"}})
    writer.create(f"{prefix}/{token}/Observations", {"result": 3})  # even in the topic
    assert wait_until(lambda: rt.creates.rejected == 3)
    assert observation_count(db) == 0
    assert caplog.text.count("carries an API token secret") == 3
    assert token not in caplog.text and token[4:] not in caplog.text
    writer.create(topic, {"result": 4})  # the same writer, logged in, no secret in the message: stored
    assert wait_until(lambda: observation_count(db, ds) == 1)


def test_a_revoked_tokens_account_is_kicked_and_can_no_longer_connect(db, prefix, start_runtime, listener, probe):
    ds = make_datastream(db)
    rt = start_runtime()
    with db.session() as s:
        user = make_user(s, "admin")
        token = make_token(s, user)
    login = login_of(db, token)
    connected = probe(login, token)
    assert connected.connack == "Success"
    assert probe(login, "stl_" + "x" * 43).connack == "Not authorized"
    with db.session() as s:
        token_id = s.query(ApiToken.id).filter(ApiToken.user_id == user.id).scalar()
        governance.revoke_token(s, SYSTEM, token_id)
    assert connected.disconnected.wait(WAIT), "the broker did not disconnect the revoked token's client"
    assert probe(login, token).connack == "Not authorized"
    assert observation_count(db, ds) == 0 and rt.creates.stored == 0


def test_a_deactivated_owners_accounts_are_disabled_until_reactivated(db, prefix, start_runtime, probe):
    start_runtime()
    with db.session() as s:
        user = make_user(s, "editor")
        token = make_token(s, user)
    login = login_of(db, token)
    connected = probe(login, token)
    with db.session() as s:
        governance.update_user(s, SYSTEM, user.id, {"active": False})
    assert connected.disconnected.wait(WAIT), "the broker did not disconnect the deactivated owner's client"
    assert probe(login, token).connack == "Not authorized"
    with db.session() as s:
        governance.update_user(s, SYSTEM, user.id, {"active": True})
    assert probe(login, token).connack == "Success"


def test_the_server_rechecks_the_token_behind_a_broker_account(db, prefix, start_runtime, listener, caplog):
    """Should the broker still hold an account (revoked while the broker was away), the token decides."""
    ds = make_datastream(db)
    rt = start_runtime()
    with db.session() as s:
        token = make_token(s, make_user(s, "admin"))
    writer = listener(token=token)
    with db.session() as s:  # revoked behind the control plane's back: no broker event
        s.execute(update(ApiToken).values(revoked_at=utcnow()))
        s.commit()
    caplog.set_level(logging.WARNING, logger="stadslab.mqtt.ingest")
    writer.create(f"{prefix}/Datastreams({ds})/Observations", {"result": 1})
    assert wait_until(lambda: rt.creates.rejected == 1)
    assert observation_count(db) == 0 and "Authentication failed" in caplog.text
    # and `stadslab mqtt sync` removes the account
    report = rt.control.sync()
    assert login_of(db, token) in report.accounts_deleted
    assert wait_until(lambda: not writer.bus.connected)


def test_a_writer_can_publish_only_under_its_own_account(db, prefix, start_runtime, listener):
    ds = make_datastream(db)
    rt = start_runtime()
    with db.session() as s:
        victim = make_token(s, make_user(s, "admin"))
        mallory = make_token(s, make_user(s, "editor"))
    writer = listener(token=mallory)
    topic = f"{prefix}/Datastreams({ds})/Observations"
    writer.create(topic, {"result": 666}, as_user=login_of(db, victim))  # dropped by the broker
    listener(token=victim).create(topic, {"result": 1})
    assert wait_until(lambda: observation_count(db, ds) == 1 and rt.creates.stored == 1)
    assert rt.notifier.drain()
    assert observation_count(db, ds) == 1 and rt.creates.rejected == 0


def test_anonymous_clients_cannot_subscribe_to_network_or_restricted_stream_topics(db, prefix, start_runtime,
                                                                                  probe):
    with db.session() as s:
        org = make_organisation(s)
    before = {cls: _stream(db, cls, org.id) for cls in ("open", "network", "restricted")}
    rt = start_runtime()  # streams made before the server started: ACLs from the start-up sync
    after = {cls: _stream(db, cls, org.id) for cls in ("open", "network", "restricted")}  # from the change feed
    assert rt.control.drain()
    anonymous = probe()
    for streams in (before, after):
        for cls, ds in streams.items():
            expected = "Granted QoS 1" if cls == "open" else "Not authorized"
            for topic in (f"{prefix}/Datastreams({ds})/Observations", f"{prefix}/Datastreams({ds})"):
                assert anonymous.suback(topic) == expected, (cls, topic)
    assert anonymous.suback(f"{prefix}/Observations") == "Granted QoS 1"

    # an access class change moves the stream's topics with it
    ds = after["open"]
    with db.session() as s:
        service.update(s, parse_path(f"Datastreams({ds})"), {"properties": {"access_class": "network"}},
                       principal=SYSTEM)
    assert rt.control.drain()
    assert probe().suback(f"{prefix}/Datastreams({ds})/Observations") == "Not authorized"
    with db.session() as s:
        service.update(s, parse_path(f"Datastreams({ds})"), {"properties": {"access_class": "open"}},
                       principal=SYSTEM)
    assert rt.control.drain()
    assert probe().suback(f"{prefix}/Datastreams({ds})/Observations") == "Granted QoS 1"


def test_cli_tokens_get_broker_accounts_and_mqtt_sync_reconciles(db, mqtt_settings, probe, monkeypatch):
    """``stadslab token create|revoke`` drive the broker like the API does; ``stadslab mqtt sync``
    denies the topics of streams made while no server was running."""
    from typer.testing import CliRunner

    from stadslab.cli import app as cli
    from stadslab.core.config import get_settings

    with db.session() as s:
        org = make_organisation(s)
        email = make_user(s, "editor", org, password=None).email
    env = {"STADSLAB_DATABASE_URL": db.url, "STADSLAB_MQTT_URL": mqtt_settings.mqtt_url,
           "STADSLAB_MQTT_USERNAME": mqtt_settings.mqtt_username, "STADSLAB_MQTT_PASSWORD": mqtt_settings.mqtt_password,
           "STADSLAB_MQTT_DYNAMIC_SECURITY": "true", "STADSLAB_MQTT_TOPIC_PREFIX": mqtt_settings.mqtt_topic_prefix,
           "COLUMNS": "200"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        made = runner.invoke(cli, ["token", "create", "--name", "sensor", "--scope", "sta:write", "--user", email])
        assert made.exit_code == 0, made.output
        secret = made.stdout.strip().splitlines()[-1]
        login = login_of(db, secret)
        assert f"MQTT login {login}" in made.output
        assert probe(login, secret).connack == "Success"

        hidden = _stream(db, "restricted", org.id)  # no server running: no ACL yet
        synced = runner.invoke(cli, ["mqtt", "sync"])
        assert synced.exit_code == 0, synced.output
        assert probe().suback(f"{mqtt_settings.mqtt_topic_prefix}/Datastreams({hidden})/#") == "Not authorized"

        with db.session() as s:
            token_id = s.query(ApiToken.id).filter(ApiToken.token_hash.startswith(login.split("-")[2])).scalar()
        revoked = runner.invoke(cli, ["token", "revoke", str(token_id)])
        assert revoked.exit_code == 0, revoked.output
        assert probe(login, secret).connack == "Not authorized"
    finally:
        get_settings.cache_clear()
