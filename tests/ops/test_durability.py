"""An acknowledged write is committed (issue #8): real server processes, a real broker and database.

* Workers of ``stadslab serve --workers 2`` are SIGKILLed while a loader streams
  Observations over HTTP and MQTT QoS 1. Afterwards every acknowledged one (HTTP
  201, MQTT PUBACK from the broker) is stored exactly once, and no Observation is
  stored twice: unacknowledged MQTT messages are redelivered from the killed
  worker's persistent session, and the ingest receipts absorb the redeliveries.
* The PostgreSQL server is restarted mid-stream (a throwaway cluster of the test's
  own): clients get 503 + Retry-After problems while it is away, never a 500 or a
  hang, the same workers serve 201s again afterwards, and no acknowledged write is lost.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.conftest import PG_URL, require_service
from tests.ops.conftest import fresh_postgres_database

from tests.support.processes import dynamic_security_available, wait_until

from .durability import (Broker, Loader, Server, broker_login, pg_tools_available, prepare, stored_markers,
                         throwaway_postgres)

KILLS = 3
#: Guards against hanging only: on a loaded machine the ingest may need a while to catch up.
DRAIN_TIMEOUT = 150


@pytest.fixture
def broker(tmp_path):
    """A Mosquitto of the test's own (its queue limit raised, see ``Broker``)."""
    if not dynamic_security_available():
        require_service("mosquitto, mosquitto_ctrl and the dynamic-security plugin are needed")
    b = Broker(tmp_path)
    yield b
    b.stop()


def _check_exactly_once(loader: Loader, url: str, datastream_id: int) -> dict[str, int]:
    acked = loader.acknowledged()
    assert acked, "the loader got nothing acknowledged"
    # The ingest catches up with what the broker still holds for the (restarted) workers.
    stored = wait_until(lambda: (s := stored_markers(url, datastream_id)) and acked <= s.keys() and s, DRAIN_TIMEOUT,
                      interval=0.5) or stored_markers(url, datastream_id)
    missing = sorted(acked - stored.keys())
    assert not missing, f"{len(missing)} acknowledged write(s) lost, e.g. {missing[:5]}"
    twice = {m: n for m, n in stored.items() if n != 1}
    assert not twice, f"stored more than once: {dict(list(twice.items())[:5])}"
    assert stored.keys() <= loader.all_markers(), "the database holds markers nobody sent"
    return stored


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'durable.db'}"
        return
    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set")
    with fresh_postgres_database() as url:
        yield url


def test_acknowledged_writes_survive_killed_workers(database_url, tmp_path, broker):
    mqtt_url = broker.url
    token, ds = prepare(database_url, broker)
    server = Server(database_url, tmp_path, broker, workers=2)
    try:
        server.wait_ready()
        loader = Loader(server.base, mqtt_url, server.prefix, token, ds,
                        broker_login(database_url, token)).start()
        killed: list[int] = []
        try:
            for _ in range(KILLS):
                time.sleep(1.5)
                before = server.worker_pids()
                victim = before[len(killed) % len(before)]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
                # uvicorn's supervisor starts a replacement; it resumes the victim's MQTT session
                assert wait_until(lambda: len(p := server.worker_pids()) == 2 and victim not in p, 90), \
                    "no replacement worker"
            time.sleep(1.5)
        finally:
            loader.stop()
        stored = _check_exactly_once(loader, database_url, ds)
        outcomes = loader.http_outcomes()
        assert outcomes.get("201", 0) > 0 and len(loader.published) > 0
        # a killed worker's requests fail (connection errors, timeouts): unacknowledged, never a 500
        assert not any(o.isdigit() and o not in ("201", "503") for o in outcomes), outcomes
        assert not set(killed) & set(server.worker_pids())
        log = server.log()
        # (on a loaded machine uvicorn's own health check may kill a replacement before it connects)
        assert "(session resumed)" in log, "replacement workers did not resume their sessions"
        mqtt_stored = sum(1 for m in stored if m.startswith("m-"))
        print(f"\nkills={len(killed)} http={outcomes} mqtt published={len(loader.published)} "
              f"stored={mqtt_stored} acknowledged={len(loader.acknowledged())} total stored={len(stored)}")
    finally:
        server.stop()


def test_postgres_restart_gives_503_then_recovers_without_losing_writes(tmp_path, broker):
    mqtt_url = broker.url
    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set (the restart test needs PostgreSQL)")
    if not pg_tools_available():
        require_service("initdb/pg_ctl of PostgreSQL 15 and runuser are needed for a throwaway cluster")
    with throwaway_postgres() as pg:
        token, ds = prepare(pg.url, broker)
        server = Server(pg.url, tmp_path, broker, workers=2)
        try:
            server.wait_ready()
            workers = server.worker_pids()
            loader = Loader(server.base, mqtt_url, server.prefix, token, ds,
                            broker_login(pg.url, token)).start()
            try:
                time.sleep(2.0)
                pg.stop()
                time.sleep(2.5)  # clients keep writing while the database is away
                pg.start()
                back = time.monotonic()
                assert wait_until(lambda: any(o == "201" and t > back for _, o, t in list(loader.http)), 30), \
                    f"no write succeeded after the restart: {loader.http_outcomes()}"
                time.sleep(1.0)
            finally:
                loader.stop()
            outcomes = loader.http_outcomes()
            assert set(outcomes) <= {"201", "503"}, f"500s, hangs or dropped connections: {outcomes}"
            assert outcomes.get("503", 0) > 0, f"the outage was never reported: {outcomes}"
            assert loader.http_503_ok, "a 503 lacked Retry-After or was not application/problem+json"
            assert server.worker_pids() == workers, "workers were restarted instead of reconnecting"
            _check_exactly_once(loader, pg.url, ds)
            print(f"\nhttp={outcomes} mqtt published={len(loader.published)}")
        finally:
            server.stop()
