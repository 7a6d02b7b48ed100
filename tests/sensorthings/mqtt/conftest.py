"""Fixtures for the MQTT tests: a unique topic prefix per test, server runtimes, a listening client.

Every test gets its own topic prefix and shared-subscription group, so parallel
or repeated runs against one Mosquitto never see each other's messages.

The server runtimes talk to the secure broker (Mosquitto with the dynamic-security
plugin, as deployed: ``STADSLAB_TEST_MQTT_SECURE_URL`` with the admin account in
it, or one of the test session's own). Writers log in with an API token (its
broker account is made when the token is made) and create by publishing to
their own inbound namespace (``Listener.create``); listeners log in with an
administrator's token unless a test says otherwise (``token=None``: anonymous).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import orjson
import pytest

from stadslab.core.auth import SYSTEM
from stadslab.core.config import Settings
from stadslab.core.credentials import hash_secret
from stadslab.sensorthings.write import service
from stadslab.sensorthings.mqtt.broker_acl import DynsecControl, broker_username
from stadslab.sensorthings.mqtt.bus import BusMessage
from stadslab.sensorthings.mqtt.paho_bus import PahoBus
from stadslab.sensorthings.mqtt.runtime import MqttRuntime
from stadslab.sensorthings.model.urls import parse_path
from tests.governance.factories import make_token, make_user
from tests.sensorthings.helpers import datastream, location, thing
from tests.support.processes import Mosquitto, dynamic_security_available, init_dynamic_security, mosquitto_binary

WAIT = 15.0  # upper bound for the broker round trips; tests never assert on durations


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def login_of(db, secret: str) -> str:
    """The broker username of an API token (what a device is told when its token is made)."""
    from stadslab.governance.models import ApiToken

    with db.session() as s:
        token_id = s.query(ApiToken.id).filter(ApiToken.token_hash == hash_secret(secret)).scalar()
    return broker_username(token_id, hash_secret(secret))


class Listener:
    """A plain MQTT client as an STA subscriber or writer would use it; logged in when given a token."""

    def __init__(self, url: str, token: str | None = None, username: str | None = None,
                 inbound: str = "stadslab-in"):
        self.token = token
        self.username = username
        self.inbound = inbound
        self.bus = PahoBus(url, client_id_prefix="test-listener", username=username,
                           password=token if username else None)
        self.messages: list[BusMessage] = []
        self._lock = threading.Lock()

    def subscribe(self, *topics: str) -> Listener:
        for topic in topics:
            self.bus.subscribe(topic, self._collect)
        return self

    def _collect(self, message: BusMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def on(self, topic: str) -> list[BusMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def json_on(self, topic: str) -> list[dict]:
        return [orjson.loads(m.payload) for m in self.on(topic)]

    def publish(self, topic: str, payload: bytes | str | dict, qos: int = 1,
                user_properties: dict[str, str] | None = None) -> None:
        if isinstance(payload, dict):
            payload = orjson.dumps(payload)
        self.bus.publish(topic, payload, qos, user_properties)

    def create(self, topic: str, payload: bytes | str | dict, qos: int = 1, as_user: str | None = None,
               **options) -> None:
        """Publish a create for ``topic`` (a standard STA topic) in the inbound namespace of this
        listener's broker account, or of ``as_user`` (which the broker refuses unless it is ours)."""
        self.publish(f"{self.inbound}/{as_user or self.username or 'anonymous'}/{topic}", payload, qos, **options)


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}/v1.1"


@dataclass(frozen=True)
class BrokerAccess:
    """Where the secure broker listens, and the dynamic-security admin account Stadslab uses."""

    url: str
    username: str
    password: str

    def settings(self) -> dict:
        return {"mqtt_url": self.url, "mqtt_username": self.username, "mqtt_password": self.password,
                "mqtt_dynamic_security": True}


@pytest.fixture(scope="session")
def secure_broker() -> Iterator[BrokerAccess]:
    """The deployed kind of broker: ``STADSLAB_TEST_MQTT_SECURE_URL`` (``mqtt://admin:pw@host:port``,
    started by .ci/run), else a Mosquitto of this test session's own; never a silent skip."""
    given = os.environ.get("STADSLAB_TEST_MQTT_SECURE_URL")
    if given:
        parts = urlsplit(given)
        yield BrokerAccess(f"{parts.scheme}://{parts.hostname}:{parts.port or 1883}",
                           unquote(parts.username or ""), unquote(parts.password or ""))
        return
    if not dynamic_security_available():
        from tests.conftest import require_service
        require_service("STADSLAB_TEST_MQTT_SECURE_URL not set, and no mosquitto_ctrl/dynamic-security plugin "
                        "to start a secure broker")
    import tempfile
    from pathlib import Path

    # not under pytest's private (0700) tmp dir: mosquitto drops to its own user and must reach the file
    workdir = Path(tempfile.mkdtemp(prefix="stadslab-dynsec-"))
    broker = SecureBroker(workdir)
    broker.start()
    yield broker.access
    broker.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def mqtt_settings(settings: Settings, secure_broker: BrokerAccess, prefix: str) -> Settings:
    return settings.model_copy(update={
        **secure_broker.settings(), "mqtt_topic_prefix": prefix, "mqtt_shared_group": f"g{uuid.uuid4().hex[:8]}",
        "external_base_url": "http://testserver"})


@pytest.fixture
def token_accounts(db, mqtt_settings) -> Iterator[DynsecControl]:
    """Broker accounts follow the tokens this test makes, also before any server runtime is started
    (as the running server does; a runtime started later adds its own listener)."""
    from stadslab.governance.service import token_listeners

    bus = PahoBus(mqtt_settings.mqtt_url, client_id_prefix="test-control", username=mqtt_settings.mqtt_username,
                  password=mqtt_settings.mqtt_password)
    bus.start()
    control = DynsecControl(db, bus, prefix=mqtt_settings.mqtt_topic_prefix,
                            inbound_prefix=mqtt_settings.mqtt_inbound_prefix,
                            server_username=mqtt_settings.mqtt_username)
    control.execute(*control.base_commands(), tolerate=("already", "not found"))
    token_listeners.append(control.token_event)
    yield control
    token_listeners.remove(control.token_event)
    bus.stop()


@pytest.fixture
def start_runtime(db, mqtt_settings) -> Iterator[Callable[..., MqttRuntime]]:
    """Starts server runtimes (one per simulated worker) and stops them after the test."""
    started: list[MqttRuntime] = []

    def start(**overrides) -> MqttRuntime:
        rt = MqttRuntime(mqtt_settings.model_copy(update=overrides), db)
        rt.start()
        started.append(rt)
        assert rt.wait_ready(WAIT), "server bus did not connect and subscribe"
        return rt

    yield start
    for rt in started:
        rt.stop()


@pytest.fixture
def mqtt_token(db, token_accounts) -> str:
    """An administrator's API token, the broker login of the listeners."""
    with db.session() as s:
        return make_token(s, make_user(s, "admin"))


@pytest.fixture
def listener(db, mqtt_settings, mqtt_token) -> Iterator[Callable[..., Listener]]:
    made: list[Listener] = []

    def make(*topics: str, token: str | None = mqtt_token, url: str | None = None) -> Listener:
        lst = Listener(url or mqtt_settings.mqtt_url, token, login_of(db, token) if token else None,
                       mqtt_settings.mqtt_inbound_prefix).subscribe(*topics)
        lst.bus.start()
        made.append(lst)
        assert lst.bus.wait_ready(WAIT), "test client did not connect and subscribe"
        return lst

    yield make
    for lst in made:
        lst.bus.stop()


def make_datastream(db, principal=SYSTEM, **thing_over) -> int:
    """A Thing with one Datastream, made through the STA service; returns the Datastream id."""
    with db.session() as s:
        _, thing_id = service.create(s, parse_path("Things"),
                                     thing(Locations=[location()], Datastreams=[datastream()], **thing_over),
                                     principal=principal)
        from stadslab.sensorthings.model.tables import Datastream
        return s.query(Datastream.id).filter(Datastream.thing_id == thing_id).scalar()


def observation_count(db, datastream_id: int | None = None) -> int:
    from sqlalchemy import func, select

    from stadslab.sensorthings.model.tables import Observation
    with db.session() as s:
        stmt = select(func.count()).select_from(Observation)
        if datastream_id is not None:
            stmt = stmt.where(Observation.datastream_id == datastream_id)
        return s.scalar(stmt)


class PrivateBroker(Mosquitto):
    """A Mosquitto of our own on a free loopback port, for tests that stop the broker or
    need ``log_dest topic`` (which the shared broker does not have)."""

    def __init__(self, workdir, extra: str = ""):
        super().__init__(workdir, "log_dest topic\nlog_type subscribe\nlog_type unsubscribe\n" + extra)


class SecureBroker(PrivateBroker):
    """A private Mosquitto with the dynamic-security plugin, initialised with an admin account
    (``mosquitto_ctrl dynsec init``) as docs/deployment.md describes."""

    def __init__(self, workdir):
        self.access_password = uuid.uuid4().hex
        super().__init__(workdir, init_dynamic_security(workdir, "stadslab", self.access_password))

    @property
    def access(self) -> BrokerAccess:
        return BrokerAccess(self.url, "stadslab", self.access_password)


@pytest.fixture
def private_broker(tmp_path, mqtt_url) -> Iterator[PrivateBroker]:
    if mosquitto_binary() is None:
        from tests.conftest import require_service
        require_service("the mosquitto binary is needed to run a private broker")
    broker = PrivateBroker(tmp_path)
    broker.start()
    yield broker
    broker.stop()
