"""Several nodes, one system (issue #19): two ``stadslab serve`` nodes behind nginx, one PostgreSQL
primary with a hot standby for anonymous reads, one Mosquitto.

While a loader streams Observations through nginx (HTTP) and through the broker (MQTT QoS 1,
shared subscription of both nodes' workers) and a reader keeps reading anonymously:

1. the node that leads the periodic work is SIGKILLed (its whole process group, no shutdown):
   the other node takes the lead; the killed node is started again and resumes its
   persistent MQTT sessions;
2. the standby is stopped.

Afterwards every acknowledged Observation is stored exactly once, no notification was published
twice (not once per node or worker), every read was answered, and reads were served by the
standby while it ran. A final burst, with everything settled, is notified exactly once.
No assertion is on time; waits have upper bounds against hanging only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, require_service
from tests.ops.conftest import fresh_postgres_database
from tests.ops.test_nginx import NGINX, _block
from tests.support.processes import (dynamic_security_available, free_port, kill_group, postgres_standby,
                                     server_env, stadslab_command, stop, wait_for_http, wait_until)

from .durability import Broker, Loader, broker_login, prepare, stored_markers

DRAIN_TIMEOUT = 150
LEADS = "sensorthings-maintenance: this process now leads"


class Node:
    """One ``stadslab serve --workers 2`` node: its own process group, port, MQTT client ids and slot files."""

    def __init__(self, name: str, url: str, workdir: Path, port: int, shared: dict[str, str]):
        self.name, self.url, self.port = name, url, port
        self.log_path = workdir / f"{name}.log"
        self.env = server_env(url, **shared, mqtt_client_id_base=name, mqtt_slot_dir=workdir / f"{name}-slots")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(stadslab_command(self.port, workers=2), env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_http(f"http://127.0.0.1:{self.port}/api/v1/health/live", self.proc, timeout=120,
                      describe=lambda: self.log()[-3000:])
        # both workers connected to the broker (and subscribed) before the node counts as up
        assert wait_until(lambda: self.log().count(f"as stadslab-{self.name}-") >= 2 * self.starts(), 120), \
            self.log()[-3000:]

    def starts(self) -> int:
        return self.log().count("Stadslab ") or 1

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Notifications:
    """A subscriber of the Datastream's Observations topic: how often each marker was announced."""

    def __init__(self, broker: Broker, topic: str):
        self.seen: dict[str, int] = {}
        self._lock = threading.Lock()
        host, port = broker.url.split("://", 1)[1].rsplit(":", 1)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watcher-{uuid.uuid4().hex[:6]}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(broker.admin, broker.password)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(30)

    def _on_message(self, client, userdata, msg) -> None:
        marker = ((orjson.loads(msg.payload).get("parameters") or {}).get("marker"))
        if marker:
            with self._lock:
                self.seen[marker] = self.seen.get(marker, 0) + 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.seen)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Reader:
    """Anonymous reads through nginx, one after another, until stopped: every answer's status."""

    def __init__(self, base: str, datastream_id: int):
        self.urls = [f"{base}/sta/v1.1/Datastreams({datastream_id})/Observations?$top=5&$orderby=id desc",
                     f"{base}/sta/v1.1/Things?$top=5"]
        self.codes: list[int | str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                try:
                    code: int | str = client.get(self.urls[i % 2]).status_code
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                self.codes.append(code)
                i += 1
                time.sleep(0.05)

    def start(self) -> Reader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def _nginx(tmp_path: Path, ports: list[int]) -> tuple[subprocess.Popen, int]:
    http_port = free_port()
    upstream = _block("nginx-upstream").replace("127.0.0.1:8001", f"127.0.0.1:{ports[0]}") \
                                       .replace("127.0.0.1:8002", f"127.0.0.1:{ports[1]}")
    proxy = tmp_path / "stadslab-proxy.conf"
    proxy.write_text(_block("nginx-proxy"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
{'user root;' if os.geteuid() == 0 else ''}
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fcgi; uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;
    {upstream}
    server {{ listen 127.0.0.1:{http_port}; include {proxy}; }}
}}
""")
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, http_port


def _standby_transactions(standby, name: str) -> int:
    engine = create_engine(standby.url(name).replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                         "WHERE datname = current_database()")).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def broker(tmp_path):
    if not dynamic_security_available():
        require_service("mosquitto, mosquitto_ctrl and the dynamic-security plugin are needed")
    b = Broker(tmp_path)
    yield b
    b.stop()


def test_two_nodes_a_killed_node_and_a_stopped_standby_lose_and_double_nothing(tmp_path, broker):
    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set (nodes share one PostgreSQL)")
    if not Path(NGINX).exists():
        require_service("Debian nginx not installed (apt-get install nginx-light)")
    with fresh_postgres_database() as url:
        token, ds = prepare(url, broker)
        name = make_url(url).database
        with postgres_standby() as standby:
            prefix = f"scale-{uuid.uuid4().hex[:8]}/v1.1"
            shared = dict(mqtt_url=broker.url, mqtt_username=broker.admin, mqtt_password=broker.password,
                          mqtt_dynamic_security="true", mqtt_topic_prefix=prefix,
                          mqtt_shared_group=f"scale{uuid.uuid4().hex[:6]}", mqtt_session_expiry_seconds=300,
                          write_rate_per_minute=0, log_level="INFO", secret_key="one-key-for-every-node",
                          database_read_urls=standby.url(name), database_read_check_seconds=0.5,
                          leader_poll_seconds=1)
            ports = [free_port(), free_port()]
            nodes = [Node("node-a", url, tmp_path, ports[0], shared), Node("node-b", url, tmp_path, ports[1], shared)]
            nginx = None
            watcher = reader = loader = None
            try:
                for node in nodes:
                    node.start()
                nginx, http_port = _nginx(tmp_path, ports)
                base = f"http://127.0.0.1:{http_port}"
                wait_for_http(f"{base}/api/v1/health/live", nginx)
                watcher = Notifications(broker, f"{prefix}/Datastreams({ds})/Observations")
                login = broker_login(url, token)
                standby_before = _standby_transactions(standby, name)
                reader = Reader(base, ds).start()
                loader = Loader(base, broker.url, prefix, token, ds, login, mqtt_rate=20, max_each=400).start()

                time.sleep(3)
                # the node that leads the periodic work dies: no shutdown, its sessions stay with the broker
                assert wait_until(lambda: any(LEADS in n.log() for n in nodes), 60)
                victim, survivor = (nodes[0], nodes[1]) if LEADS in nodes[0].log() else (nodes[1], nodes[0])
                kill_group(victim.proc)
                # the periodic work moves to the survivor (PostgreSQL ended the dead leader's session)
                assert wait_until(lambda: LEADS in survivor.log(), 60), survivor.log()[-2000:]
                time.sleep(2)
                victim.start()  # and comes back: it resumes its sessions and takes its share again
                time.sleep(2)
                served_by_standby = _standby_transactions(standby, name) - standby_before
                standby.stop("fast")  # reads go back to the primary
                time.sleep(3)
                loader.stop()
                reader.stop()

                # every acknowledged Observation stored exactly once
                acked = loader.acknowledged()
                assert acked, "the loader got nothing acknowledged"
                stored = wait_until(lambda: (s := stored_markers(url, ds)) and acked <= s.keys() and s,
                                    DRAIN_TIMEOUT, interval=0.5) or stored_markers(url, ds)
                missing = sorted(acked - stored.keys())
                assert not missing, f"{len(missing)} acknowledged write(s) lost, e.g. {missing[:5]}"
                twice = {m: n for m, n in stored.items() if n != 1}
                assert not twice, f"stored more than once: {dict(list(twice.items())[:5])}"
                assert stored.keys() <= loader.all_markers()
                outcomes = loader.http_outcomes()
                # only requests in flight at the killed node go unanswered (nginx: 502, not acknowledged)
                odd = {o: n for o, n in outcomes.items() if o not in ("201", "503")}
                assert set(odd) <= {"502"} and sum(odd.values()) <= 10, outcomes

                # no notification twice: one node, one worker announces each commit
                notified = watcher.counts()
                assert notified, "no notification arrived"
                assert not {m: n for m, n in notified.items() if n != 1}
                assert notified.keys() <= stored.keys()

                # reads: all answered, some by the standby while it ran
                assert reader.codes and set(reader.codes) == {200}, \
                    {c: reader.codes.count(c) for c in set(reader.codes)}
                assert served_by_standby > 0

                # everything settled: a final burst is stored once and announced once
                final = Loader(base, broker.url, prefix, token, ds, login, mqtt_rate=20, max_each=20).start()
                assert wait_until(lambda: len(final.all_markers()) >= 60, 120)
                final.stop()
                burst = final.acknowledged()
                assert len(burst) == 60
                assert wait_until(lambda: burst <= watcher.counts().keys(), 60), "final burst not announced"
                stored = stored_markers(url, ds)
                assert all(stored[m] == 1 for m in burst)
                assert all(n == 1 for n in watcher.counts().values())

                leads = [n.log().count(LEADS) for n in nodes]
                print(f"\nhttp={outcomes} mqtt published={len(loader.published)} acknowledged={len(acked)} "
                      f"notified={len(notified)} reads={len(reader.codes)} standby xacts={served_by_standby} "
                      f"leader takeovers={leads}")
            finally:
                for part in (loader, reader, watcher):
                    if part is not None:
                        try:
                            part.stop()
                        except Exception:  # noqa: BLE001 - clean-up
                            pass
                if nginx is not None:
                    stop(nginx)
                for node in nodes:
                    if node.proc is not None:
                        stop(node.proc, group=True)
            shutil.rmtree(tmp_path / "proxy", ignore_errors=True)
