"""Real processes for the durability tests: ``stadslab serve --workers N``, a throwaway
PostgreSQL cluster, and a loader that streams Observations over HTTP and MQTT.

Every Observation carries a unique marker in ``parameters``; the loader records
which ones were acknowledged (HTTP 201, MQTT PUBACK), so the tests can check the
database afterwards: every acknowledged marker exactly once, none twice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import select

from stadslab.core.auth import SYSTEM
from stadslab.core.database import Database
from stadslab.core.migrate import upgrade
from stadslab.sensorthings.write import service
from stadslab.sensorthings.model.tables import Datastream, Observation
from stadslab.sensorthings.model.urls import parse_path
from tests.governance.factories import make_token, make_user
from tests.sensorthings.helpers import datastream, location, thing
from tests.support.processes import (Mosquitto, free_port, init_dynamic_security, server_env, stadslab_command, stop,
                                     wait_until)

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def prepare(url: str, broker: Broker) -> tuple[str, int]:
    """Migrates ``url`` and makes an administrator's token (with its broker account, as a running
    server would) and a Datastream: (token, datastream id)."""
    from stadslab.governance.service import token_listeners
    from stadslab.sensorthings.mqtt.broker_acl import DynsecControl
    from stadslab.sensorthings.mqtt.paho_bus import PahoBus

    upgrade(url)
    db = Database(url)
    bus = PahoBus(broker.url, client_id_prefix="durability-control", username=broker.admin,
                  password=broker.password)
    bus.start()
    control = DynsecControl(None, bus, prefix="v1.1", inbound_prefix="stadslab-in", server_username=broker.admin)
    token_listeners.append(control.token_event)
    try:
        with db.session() as s:
            token = make_token(s, make_user(s, "admin"))
        with db.session() as s:
            _, thing_id = service.create(s, parse_path("Things"),
                                         thing(Locations=[location()], Datastreams=[datastream()]),
                                         principal=SYSTEM)
            ds = s.scalar(select(Datastream.id).where(Datastream.thing_id == thing_id))
    finally:
        token_listeners.remove(control.token_event)
        bus.stop()
        db.dispose()
    return token, ds


def broker_login(url: str, token: str) -> str:
    from stadslab.core.credentials import hash_secret
    from stadslab.governance.models import ApiToken
    from stadslab.sensorthings.mqtt.broker_acl import broker_username

    db = Database(url)
    try:
        with db.session() as s:
            token_id = s.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_secret(token)))
    finally:
        db.dispose()
    return broker_username(token_id, hash_secret(token))


def stored_markers(url: str, datastream_id: int) -> dict[str, int]:
    """How often each marker is stored (a marker stored twice is a lost idempotency)."""
    db = Database(url)
    try:
        with db.session() as s:
            rows = s.scalars(select(Observation.parameters).where(Observation.datastream_id == datastream_id))
            seen: dict[str, int] = {}
            for params in rows:
                marker = (params or {}).get("marker")
                if marker:
                    seen[marker] = seen.get(marker, 0) + 1
            return seen
    finally:
        db.dispose()


class Server:
    """``stadslab serve --workers N`` in its own process group, on its own port and database."""

    def __init__(self, url: str, workdir: Path, broker: Broker, workers: int = 2):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.prefix = f"dur-{uuid.uuid4().hex[:10]}/v1.1"
        self.log_path = workdir / "server.log"
        env = server_env(url, mqtt_url=broker.url, mqtt_username=broker.admin, mqtt_password=broker.password,
                         mqtt_dynamic_security="true", mqtt_topic_prefix=self.prefix,
                         mqtt_shared_group=f"dur{uuid.uuid4().hex[:8]}", mqtt_slot_dir=workdir / "slots",
                         mqtt_session_expiry_seconds=300, write_rate_per_minute=0, log_level="INFO",
                         secret_key=uuid.uuid4().hex)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(stadslab_command(self.port, workers=workers), env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.workers = workers

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        try:
            children = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []
        pids = []
        for child in children:
            try:
                cmd = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if "spawn_main" in cmd and "resource_tracker" not in cmd:
                pids.append(child.pid)
        return sorted(pids)

    def wait_ready(self, timeout: float = 90.0) -> None:
        def ready() -> bool:
            assert self.proc.poll() is None, f"stadslab serve exited: {self.log()[-3000:]}"
            if len(self.worker_pids()) != self.workers or self.log().count("as stadslab-") < self.workers:
                return False  # every worker has started and connected to the broker
            try:
                return httpx.get(f"{self.base}/api/v1/health/live", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        assert wait_until(ready, timeout), f"server not ready: {self.log()[-3000:]}"

    def stop(self) -> None:
        stop(self.proc, group=True)


class Loader:
    """Streams Observations over HTTP (two threads) and MQTT QoS 1 (one thread) until stopped."""

    def __init__(self, base: str, mqtt_url: str, prefix: str, token: str, datastream_id: int, login: str, *,
                 mqtt_rate: float = 25.0, max_each: int = 500):
        self.base, self.token, self.ds = base, token, datastream_id
        #: per stream: bounds the backlog a loaded machine must work off afterwards
        self.max_each = max_each
        # creates go to the writer's own inbound namespace; it logs in with its token
        self.topic = f"stadslab-in/{login}/{prefix}/Datastreams({datastream_id})/Observations"
        self.mqtt_rate = mqtt_rate
        self.run_id = uuid.uuid4().hex[:6]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.http: list[tuple[str, str, float]] = []  # (marker, outcome, finished at): "201", "503", "error:..."
        self.http_503_ok = True  # every 503 was problem+json with Retry-After
        self.published: list[tuple[str, mqtt.MQTTMessageInfo]] = []
        self.puback: dict[int, int] = {}  # mid -> reason code
        host, port = mqtt_url.split("://", 1)[1].rsplit(":", 1)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"loader-{self.run_id}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(login, token)
        self.client.on_publish = self._on_publish
        self.client.max_inflight_messages_set(1000)
        self.client.connect(host, int(port))
        self.client.loop_start()
        self._threads = [threading.Thread(target=self._http_loop, args=(n,), daemon=True) for n in range(2)]
        self._threads.append(threading.Thread(target=self._mqtt_loop, daemon=True))

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            self.puback[mid] = reason_code.value

    def start(self) -> Loader:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)
        wait_until(lambda: all(info.is_published() for _, info in self.published), 15)
        self.client.disconnect()
        self.client.loop_stop()

    def _body(self, marker: str, i: int) -> dict:
        return {"phenomenonTime": f"2024-06-01T00:00:{i % 60:02d}.{i:06d}Z", "result": i,
                "parameters": {"marker": marker}}

    def _http_loop(self, n: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        url = f"{self.base}/sta/v1.1/Datastreams({self.ds})/Observations"
        with httpx.Client(timeout=30, headers=headers) as client:
            i = 0
            while not self._stop.is_set() and i < self.max_each:
                i += 1
                marker = f"h{n}-{self.run_id}-{i}"
                try:
                    r = client.post(url, json=self._body(marker, i))
                    outcome = str(r.status_code)
                    if r.status_code == 503 and not (r.headers.get("retry-after", "").isdigit() and
                                                     r.headers.get("content-type", "").startswith(
                                                         "application/problem+json")):
                        self.http_503_ok = False
                except httpx.TimeoutException:
                    outcome = "timeout"
                except httpx.HTTPError as exc:  # the worker died under the request: not acknowledged
                    outcome = f"error:{type(exc).__name__}"
                    time.sleep(0.05)
                with self._lock:
                    self.http.append((marker, outcome, time.monotonic()))
                time.sleep(0.05 if outcome == "503" else 0.02)

    def _mqtt_loop(self) -> None:
        i = 0
        while not self._stop.is_set() and i < self.max_each:
            i += 1
            marker = f"m-{self.run_id}-{i}"
            props = Properties(PacketTypes.PUBLISH)
            # half the publishers send an idempotency key, half rely on the content key
            props.UserProperty = [("idempotency-key", marker)] if i % 2 else []
            info = self.client.publish(self.topic, orjson.dumps(self._body(marker, i)), qos=1,
                                       properties=props if i % 2 else None)
            with self._lock:
                self.published.append((marker, info))
            time.sleep(1.0 / self.mqtt_rate)

    # ------------------------------------------------------------------ results
    def acknowledged(self) -> set[str]:
        with self._lock:
            http = {m for m, outcome, _ in self.http if outcome == "201"}
            mqtt_acked = {m for m, info in self.published
                          if info.is_published() and self.puback.get(info.mid, 0) < 0x80}
        return http | mqtt_acked

    def all_markers(self) -> set[str]:
        with self._lock:
            return {m for m, _, _ in self.http} | {m for m, _ in self.published}

    def http_outcomes(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for _, outcome, _ in self.http:
                out[outcome] = out.get(outcome, 0) + 1
            return out


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own (initdb in a temp dir, own port), so restarting it
    disturbs no other test. PostgreSQL refuses to run as root: it runs as ``postgres``."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="stadslab-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                           "--no-sync", "-E", "UTF8"])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.dir}'\nmax_connections = 100\n")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, argv: list[str]) -> None:
        cmd = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(cmd + argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def pg_ctl(self, *args: str) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "pg.log"),
                           "-w", "-t", "60", *args])

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def destroy(self) -> None:
        try:
            self.pg_ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


class Broker(Mosquitto):
    """A Mosquitto of our own, configured as docs/operations.md "Durability" recommends: the
    queue of an absent worker's session must not overflow while uvicorn restarts it (the
    default of 1000 messages is reached within seconds on a loaded machine). With the
    dynamic-security plugin, as deployed (docs/deployment.md "MQTT broker")."""

    admin = "stadslab"

    def __init__(self, workdir: Path):
        self.password = uuid.uuid4().hex
        # outside pytest's 0700 tmp dir: mosquitto runs as its own user and rewrites the file
        self.dynsec_dir = Path(tempfile.mkdtemp(prefix="stadslab-durability-dynsec-"))
        super().__init__(workdir, "max_queued_messages 1000000\nmax_inflight_messages 100\n"
                         + init_dynamic_security(self.dynsec_dir, self.admin, self.password))
        self.start()

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.dynsec_dir, ignore_errors=True)


def pg_tools_available() -> bool:
    return (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None


@contextmanager
def throwaway_postgres():
    pg = ThrowawayPostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()
