"""Helpers for the SensorThings benchmarks: a real server process, scratch databases, seed data.

The server runs as its own process (``uvicorn stadslab.app:create_app --factory``)
so that the load generator never shares an interpreter (and its GIL) with it.
Everything binds to 127.0.0.1 and every loop in the scripts is bounded.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import httpx

from tests.support.processes import free_port, running, uvicorn_command

STA = "/sta/v1.1"
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[1]


def server_env(url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "STADSLAB_DATABASE_URL": url,
        "STADSLAB_MAX_BODY_BYTES": "50000000",
        "STADSLAB_WRITE_RATE_PER_MINUTE": "0",  # the benchmark client is one address
        "STADSLAB_SECRET_KEY": secrets.token_hex(16),
        "STADSLAB_LOG_LEVEL": "WARNING",
    })
    env.pop("STADSLAB_MQTT_URL", None)
    env.update(extra)
    return env


@contextmanager
def server(url: str, *, workers: int = 1, **extra: str):
    """A uvicorn process serving the app on a free loopback port; yields (base URL, Popen)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log, \
            running(uvicorn_command(port, workers=workers, access_log=False), server_env(url, **extra),
                    f"{base}{STA}", output=log, ready=lambda r: r.status_code == 200, cwd=ROOT,
                    describe=lambda: _tail(log)) as proc:
        yield base, proc


def _tail(log) -> str:
    log.seek(0)
    return log.read()[-2000:].decode(errors="replace")


def bench_token(db) -> dict[str, str]:
    """Headers with a fresh administrator's API token (writes need ``sta:write``): benchmark clients
    authenticate like real ones, so the token check is part of every measured request."""
    from stadslab.core.auth import ROLE_SCOPES, SYSTEM
    from stadslab.governance import service

    with db.session() as s:
        user = service.create_user(s, SYSTEM, email=f"bench-{secrets.token_hex(4)}@example.org",
                                   display_name="Benchmark", role="admin")
        _, secret = service.create_token(s, SYSTEM, name="benchmark", scopes=sorted(ROLE_SCOPES["admin"]),
                                         user_id=user.id, expires_in_days=1)
        s.commit()
    return {"Authorization": f"Bearer {secret}"}


def thing_body(name: str = "bench", lon: float = 4.9, lat: float = 52.37, datastreams: int = 1) -> dict:
    return {"name": name, "description": "benchmark", "Locations": [{
        "name": "l", "description": "d", "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [lon, lat]}}],
        "Datastreams": [{"name": f"ds{i}", "description": "d", "unitOfMeasurement": {"name": "C"},
                         "observationType": "OM_Measurement",
                         "Sensor": {"name": "s", "description": "d", "encodingType": "text/plain",
                                    "metadata": "m"},
                         "ObservedProperty": {"name": "t", "definition": "d", "description": "d"}}
                        for i in range(datastreams)]}


def make_datastreams(http: httpx.Client, n: int = 1) -> list[int]:
    """One Thing with a Location and ``n`` Datastreams; returns the Datastream ids."""
    r = http.post(f"{STA}/Things", json=thing_body(datastreams=n))
    r.raise_for_status()
    thing = r.json()["@iot.id"]
    ds = http.get(f"{STA}/Things({thing})/Datastreams", params={"$top": n}).json()["value"]
    return sorted(d["@iot.id"] for d in ds)


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]
