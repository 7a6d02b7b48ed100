"""Ingest throughput of the SensorThings hub: CreateObservations over HTTP vs a raw executemany.

Starts the real application under uvicorn on a free loopback port, posts
Observations in DataArray batches through HTTP, and compares with inserting
the same rows straight into ``sta_observations`` with one executemany per
batch (the floor any API can reach). Runs on SQLite and, when
``STADSLAB_TEST_POSTGRES_URL`` (or ``--pg``) is given, on PostgreSQL.

    .venv/bin/python benchmarks/sta_ingest.py --rows 20000 --batch 1000

Prints observations per second and the HTTP/raw ratio; bounded in rows and time.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import uvicorn
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.core.database import Database, normalise_url
from stadslab.core.migrate import upgrade
from stadslab.sensorthings.models import Observation

STA = "/sta/v1.1"
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str):
        self.db = Database(url)
        app = create_app(Settings(database_url=url, max_body_bytes=50_000_000), db=self.db)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.db.dispose()


def make_datastream(http: httpx.Client) -> int:
    body = {"name": "bench", "description": "benchmark", "Locations": [{
        "name": "l", "description": "d", "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [4.9, 52.37]}}],
        "Datastreams": [{"name": "ds", "description": "d", "unitOfMeasurement": {"name": "C"},
                         "observationType": "OM_Measurement",
                         "Sensor": {"name": "s", "description": "d", "encodingType": "text/plain", "metadata": "m"},
                         "ObservedProperty": {"name": "t", "definition": "d", "description": "d"}}]}
    r = http.post(f"{STA}/Things", json=body)
    r.raise_for_status()
    thing = r.json()["@iot.id"]
    return http.get(f"{STA}/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]


def rows_for(n: int, offset: int) -> list[list]:
    return [[(T0 + timedelta(seconds=offset + i)).strftime("%Y-%m-%dT%H:%M:%SZ"), 20.0 + (i % 100) / 10]
            for i in range(n)]


def bench_http(base: str, rows: int, batch: int) -> tuple[float, int]:
    with httpx.Client(base_url=base, timeout=120) as http:
        ds = make_datastream(http)
        payloads = [[{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
                      "dataArray": rows_for(min(batch, rows - i), i)}] for i in range(0, rows, batch)]
        start = time.perf_counter()
        for p in payloads:
            r = http.post(f"{STA}/CreateObservations", json=p)
            r.raise_for_status()
            if "error" in r.json():
                raise RuntimeError("rows were rejected")
        return time.perf_counter() - start, ds


def bench_raw(url: str, ds: int, foi: int, rows: int, batch: int) -> float:
    engine = create_engine(normalise_url(url))
    table = Observation.__table__
    chunks = []
    for i in range(0, rows, batch):
        chunks.append([{"datastream_id": ds, "multi_datastream_id": None, "feature_of_interest_id": foi,
                        "phenomenon_time_start": T0 + timedelta(days=1, seconds=i + j), "phenomenon_time_end": None,
                        "result_time": None, "result": v, "result_number": v, "result_string": None,
                        "result_quality": None, "valid_time_start": None, "valid_time_end": None,
                        "parameters": None}
                       for j, (_, v) in enumerate(rows_for(min(batch, rows - i), i))])
    start = time.perf_counter()
    for chunk in chunks:
        with engine.begin() as conn:
            conn.execute(insert(table), chunk)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def run(dialect: str, url: str, rows: int, batch: int) -> None:
    upgrade(url)
    with Server(url) as base:
        http_s, ds = bench_http(base, rows, batch)
    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        foi = conn.execute(text("SELECT feature_of_interest_id FROM sta_observations LIMIT 1")).scalar()
        stored = conn.execute(text("SELECT count(*) FROM sta_observations WHERE datastream_id = :d"),
                              {"d": ds}).scalar()
    engine.dispose()
    assert stored == rows, f"expected {rows} stored rows, found {stored}"
    raw_s = bench_raw(url, ds, foi, rows, batch)
    http_rate, raw_rate = rows / http_s, rows / raw_s
    print(f"{dialect:10s} rows={rows} batch={batch}  HTTP CreateObservations: {http_rate:10.0f} obs/s   "
          f"raw executemany: {raw_rate:10.0f} obs/s   ratio HTTP/raw: {http_rate / raw_rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--pg", default=os.environ.get("STADSLAB_TEST_POSTGRES_URL"),
                        help="PostgreSQL admin URL; a scratch database is created and dropped")
    args = parser.parse_args()
    rows = max(1, min(args.rows, 1_000_000))
    batch = max(1, min(args.batch, 10_000))
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{tmp}/bench.db", rows, batch)
    if args.pg:
        admin = normalise_url(args.pg)
        name = f"stadslab_bench_{uuid.uuid4().hex[:8]}"
        eng = create_engine(admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run("postgresql", make_url(admin).set(database=name).render_as_string(hide_password=False), rows, batch)
        finally:
            with eng.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            eng.dispose()
    else:
        print("postgresql skipped (set STADSLAB_TEST_POSTGRES_URL or --pg)")


if __name__ == "__main__":
    main()
