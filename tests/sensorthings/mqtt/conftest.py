"""Fixtures for the MQTT tests: a unique topic prefix per test, server runtimes, a listening client.

Every test gets its own topic prefix and shared-subscription group, so parallel
or repeated runs against the one Mosquitto never see each other's messages.

Creates over MQTT need an API token in the MQTT 5 user property ``authorization``;
listeners publish with an administrator's token unless a test says otherwise.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import orjson
import pytest

from stadslab.core.auth import SYSTEM
from stadslab.core.config import Settings
from stadslab.sensorthings import service
from stadslab.sensorthings.mqtt.bus import BusMessage
from stadslab.sensorthings.mqtt.paho_bus import PahoBus
from stadslab.sensorthings.mqtt.runtime import MqttRuntime
from stadslab.sensorthings.urls import parse_path
from tests.governance.factories import make_token, make_user
from tests.sensorthings.helpers import datastream, location, thing

WAIT = 15.0  # upper bound for the broker round trips; tests never assert on durations


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class Listener:
    """A plain MQTT client as an STA subscriber would use it."""

    def __init__(self, url: str, token: str | None = None):
        self.token = token
        self.bus = PahoBus(url, client_id_prefix="test-listener")
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

    def publish(self, topic: str, payload: bytes | str | dict, qos: int = 1, token: str | None | bool = True,
                ) -> None:
        """``token``: True = this listener's token, None/False = none, a string = that token."""
        if isinstance(payload, dict):
            payload = orjson.dumps(payload)
        token = self.token if token is True else (token or None)
        self.bus.publish(topic, payload, qos, {"authorization": f"Bearer {token}"} if token else None)


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}/v1.1"


@pytest.fixture
def mqtt_settings(settings: Settings, mqtt_url: str, prefix: str) -> Settings:
    return settings.model_copy(update={
        "mqtt_url": mqtt_url, "mqtt_topic_prefix": prefix, "mqtt_shared_group": f"g{uuid.uuid4().hex[:8]}",
        "external_base_url": "http://testserver"})


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
def mqtt_token(db) -> str:
    """An administrator's API token, sent with every create the listeners publish."""
    with db.session() as s:
        return make_token(s, make_user(s, "admin"))


@pytest.fixture
def listener(mqtt_url, mqtt_token) -> Iterator[Callable[..., Listener]]:
    made: list[Listener] = []

    def make(*topics: str, token: str | None = mqtt_token) -> Listener:
        lst = Listener(mqtt_url, token).subscribe(*topics)
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
        from stadslab.sensorthings.models import Datastream
        return s.query(Datastream.id).filter(Datastream.thing_id == thing_id).scalar()


def observation_count(db, datastream_id: int | None = None) -> int:
    from sqlalchemy import func, select

    from stadslab.sensorthings.models import Observation
    with db.session() as s:
        stmt = select(func.count()).select_from(Observation)
        if datastream_id is not None:
            stmt = stmt.where(Observation.datastream_id == datastream_id)
        return s.scalar(stmt)


class PrivateBroker:
    """A Mosquitto of our own on a free loopback port, for tests that stop the broker or
    need ``log_dest topic`` (which the shared broker does not have)."""

    def __init__(self, workdir):
        import shutil
        import socket

        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                             "log_dest topic\nlog_type subscribe\nlog_type unsubscribe\n")
        self.proc = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        import socket
        import subprocess

        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0
        assert wait_until(listening), "private mosquitto did not start"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def private_broker(tmp_path, mqtt_url) -> Iterator[PrivateBroker]:
    import os
    import shutil

    if not (shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto")):
        from tests.conftest import require_service
        require_service("the mosquitto binary is needed to run a private broker")
    broker = PrivateBroker(tmp_path)
    broker.start()
    yield broker
    broker.stop()
