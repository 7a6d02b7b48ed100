"""Ingest throughput of the SensorThings hub: CreateObservations over HTTP vs raw inserts of the same rows.

Starts the real application as a separate uvicorn process on a free loopback
port, posts Observations in DataArray batches (pre-encoded JSON, one client,
sequential requests) and compares with inserting the same rows straight into
``sta_observations`` in batches of the same size, one transaction each:

* ``core``: SQLAlchemy Core ``insert(table)`` executemany (typed parameters);
* ``driver``: the driver's fastest bulk path on pre-encoded tuples, i.e.
  ``sqlite3`` executemany on SQLite and psycopg ``COPY FROM STDIN`` on PostgreSQL.

The ratio is HTTP / driver (the floor no API can beat). Runs on SQLite and, when
``STADSLAB_TEST_POSTGRES_URL`` (or ``--pg``) is given, on PostgreSQL too.

    .venv/bin/python -m benchmarks.sta_ingest --rows 100000 --batch 1000 --batch 10000
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta

import httpx
import orjson
from sqlalchemy import insert, text

from benchmarks.common import fresh_database, machine
from benchmarks.sta_common import STA, T0, bench_token, make_datastreams, server
from stadslab.sensorthings.write.bulk import encode
from stadslab.sensorthings.model.tables import Observation

COLUMNS = ("datastream_id", "feature_of_interest_id", "phenomenon_time_start", "result", "result_number")


def rows_for(n: int, offset: int) -> list[list]:
    return [[(T0 + timedelta(seconds=offset + i)).strftime("%Y-%m-%dT%H:%M:%SZ"), 20.0 + (i % 100) / 10]
            for i in range(n)]


def bench_http(base: str, auth: dict, rows: int, batch: int) -> tuple[float, int]:
    with httpx.Client(base_url=base, timeout=300, headers=auth) as http:
        ds = make_datastreams(http)[0]
        bodies = [orjson.dumps([{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
                                 "dataArray": rows_for(min(batch, rows - i), i)}]) for i in range(0, rows, batch)]
        headers = {"content-type": "application/json"}
        start = time.perf_counter()
        for body in bodies:
            r = http.post(f"{STA}/CreateObservations", content=body, headers=headers)
            r.raise_for_status()
            if b'"error"' in r.content:
                raise RuntimeError("rows were rejected")
        return time.perf_counter() - start, ds


def raw_rows(ds: int, foi: int, rows: int, offset_days: int) -> list[tuple]:
    t = T0 + timedelta(days=offset_days)
    return [(ds, foi, t + timedelta(seconds=i), v, v) for i, (_, v) in enumerate(rows_for(rows, 0))]


def bench_core(db, rows: list[tuple], batch: int) -> float:
    table = Observation.__table__
    chunks = [[dict(zip(COLUMNS, r)) for r in rows[i:i + batch]] for i in range(0, len(rows), batch)]
    start = time.perf_counter()
    for chunk in chunks:
        with db.engine.begin() as conn:
            conn.execute(insert(table), chunk)
    return time.perf_counter() - start


def bench_driver(db, rows: list[tuple], batch: int) -> float:
    encoded = encode(rows, COLUMNS, db.dialect)
    chunks = [encoded[i:i + batch] for i in range(0, len(encoded), batch)]
    cols = ", ".join(COLUMNS)
    start = time.perf_counter()
    for chunk in chunks:
        with db.engine.begin() as conn:
            if db.dialect == "postgresql":
                with conn.connection.driver_connection.cursor() as cur:
                    with cur.copy(f"COPY sta_observations ({cols}) FROM STDIN") as copy:
                        for row in chunk:
                            copy.write_row(row)
            else:
                conn.exec_driver_sql(f"INSERT INTO sta_observations ({cols}) VALUES (?, ?, ?, ?, ?)", chunk)
    return time.perf_counter() - start


def run(dialect: str, rows: int, batches: list[int]) -> None:
    with fresh_database(dialect, "stadslab_bench_ingest") as db, server(db.url) as (base, _proc):
        auth = bench_token(db)
        for batch in batches:
            http_s, ds = bench_http(base, auth, rows, batch)
            with db.engine.connect() as conn:
                foi, stored = conn.execute(text(
                    "SELECT min(feature_of_interest_id), count(*) FROM sta_observations WHERE datastream_id = :d"),
                    {"d": ds}).one()
            assert stored == rows, f"expected {rows} stored rows, found {stored}"
            core_s = bench_core(db, raw_rows(ds, foi, rows, 1000), batch)
            driver_s = bench_driver(db, raw_rows(ds, foi, rows, 2000), batch)
            http_rate, core_rate, driver_rate = rows / http_s, rows / core_s, rows / driver_s
            driver_name = "COPY" if dialect == "postgresql" else "executemany"
            print(f"{dialect:10s} rows={rows} batch={batch:6d}  HTTP CreateObservations {http_rate:8.0f} obs/s | "
                  f"raw Core executemany {core_rate:8.0f} obs/s | raw driver {driver_name} {driver_rate:8.0f} obs/s | "
                  f"ratio HTTP/Core {http_rate / core_rate:.2f}, HTTP/driver {http_rate / driver_rate:.2f}",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, action="append", help="rows per request (repeatable)")
    parser.add_argument("--pg", default=os.environ.get("STADSLAB_TEST_POSTGRES_URL"),
                        help="PostgreSQL admin URL; a scratch database is created and dropped")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    rows = max(1, min(args.rows, 1_000_000))
    batches = [max(1, min(b, 50_000)) for b in (args.batch or [1_000, 10_000])]
    print(machine())
    run("sqlite", rows, batches)
    if args.pg and not args.sqlite_only:
        os.environ["STADSLAB_BENCH_POSTGRES_URL"] = args.pg
        import benchmarks.common as common
        common.PG_ADMIN = args.pg
        run("postgresql", rows, batches)
    else:
        print("postgresql skipped (set STADSLAB_TEST_POSTGRES_URL or --pg)")


if __name__ == "__main__":
    main()
