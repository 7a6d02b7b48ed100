"""Paging a large Observation table: ``Datastreams(id)/Observations?$top=100&$orderby=phenomenonTime desc``.

Builds ``--rows`` Observations (default 10,000,000) spread over ``--streams``
Datastreams (default 100), interleaved in insertion order as a live hub would
store them, with SQL-side generators (PostgreSQL ``generate_series`` with the
foreign-key triggers paused for the load, SQLite a recursive CTE). Then, against
a separate server process, times

* the newest page of a random Datastream (``$top=100&$orderby=phenomenonTime desc``);
* the same with ``$count=true`` in ``STADSLAB_STA_COUNT_MODE=estimate`` and ``exact``;
* ``Observations?$count=true&$top=1`` (the whole table) in both modes;

each as an anonymous caller (reads carry the visibility condition, and counts under it are
always exact) and as an administrator (no condition: estimates apply);

and, as the baseline, the bare SQL of the page (``ORDER BY .. DESC LIMIT 101``)
through the driver. Prints the query plan of the page query.

    .venv/bin/python -m benchmarks.sta_read --rows 10000000 --streams 100 --requests 200
"""

from __future__ import annotations

import argparse
import os
import random
import time

import httpx
from sqlalchemy import text

from benchmarks.common import fresh_database, machine, percentile
from benchmarks.sta_common import STA, bench_token, server
from stadslab.core.auth import SYSTEM
from stadslab.core.config import Settings
from stadslab.sensorthings.api.dispatch import handle
from stadslab.sensorthings.read.serialize import Links

T0_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z
CHUNK = 1_000_000
#: estimate mode: planner estimates are answered from this many rows on (the default is 100,000,
#: exactly the size of one Datastream here, so its counts would be exact)
ESTIMATE_FROM = "10000"


def make_streams(db, streams: int) -> tuple[list[int], int]:
    body = {"name": "bench", "description": "read benchmark", "Locations": [{
        "name": "l", "description": "d", "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [5.1, 52.1]}}],
        "Datastreams": [{"name": f"ds{i}", "description": "d", "unitOfMeasurement": {"name": "C"},
                         "observationType": "OM_Measurement",
                         "Sensor": {"name": "s", "description": "d", "encodingType": "text/plain", "metadata": "m"},
                         "ObservedProperty": {"name": "t", "definition": "d", "description": "d"}}
                        for i in range(streams)]}
    import orjson
    with db.session() as s:
        handle(s, Settings(database_url=db.url), Links("http://bench/sta/v1.1"), "POST", "Things", [],
               orjson.dumps(body), principal=SYSTEM)
        ds = list(s.scalars(text("SELECT id FROM sta_datastreams ORDER BY id")))
        foi = handle(s, Settings(database_url=db.url), Links("http://bench/sta/v1.1"), "POST",
                     "FeaturesOfInterest", [], orjson.dumps({
                         "name": "f", "description": "d", "encodingType": "application/geo+json",
                         "feature": {"type": "Point", "coordinates": [5.1, 52.1]}}), principal=SYSTEM).body["@iot.id"]
    return ds, foi


def load(db, rows: int, ds: list[int], foi: int) -> None:
    """Observation n (0-based) goes to Datastream ds[n % k] at T0 + (n // k) minutes."""
    k, first = len(ds), ds[0]
    assert ds == list(range(first, first + k))
    for lo in range(0, rows, CHUNK):
        hi = min(rows, lo + CHUNK)
        start = time.perf_counter()
        with db.engine.begin() as conn:
            if db.dialect == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))  # FK checks paused for the load
                conn.execute(text(
                    "INSERT INTO sta_observations (datastream_id, feature_of_interest_id, phenomenon_time_start, "
                    "result, result_number) SELECT :first + g % :k, :foi, "
                    "to_timestamp(:t0 + (g / :k) * 60), to_json(((g % 1000) / 10.0)::float8), (g % 1000) / 10.0 "
                    "FROM generate_series(:lo, :hi - 1) g"),
                    {"first": first, "k": k, "foi": foi, "t0": T0_EPOCH, "lo": lo, "hi": hi})
            else:
                conn.execute(text(
                    "WITH RECURSIVE g(n) AS (SELECT :lo UNION ALL SELECT n + 1 FROM g WHERE n < :hi - 1) "
                    "INSERT INTO sta_observations (datastream_id, feature_of_interest_id, phenomenon_time_start, "
                    "result, result_number) SELECT :first + n % :k, :foi, "
                    "strftime('%Y-%m-%d %H:%M:%S', :t0 + (n / :k) * 60, 'unixepoch') || '.000000', "
                    "(n % 1000) / 10.0, (n % 1000) / 10.0 FROM g"),
                    {"first": first, "k": k, "foi": foi, "t0": T0_EPOCH, "lo": lo, "hi": hi})
        print(f"  loaded {hi:>10,} rows ({(hi - lo) / (time.perf_counter() - start):,.0f} rows/s)", flush=True)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE sta_observations" if db.dialect == "postgresql" else "ANALYZE"))


PAGE_SQL = ("SELECT * FROM sta_observations WHERE datastream_id = :d "
            "ORDER BY phenomenon_time_start DESC, id DESC LIMIT 101")


def plan(db, d: int) -> str:
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            rows = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + PAGE_SQL), {"d": d})
        else:
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + PAGE_SQL), {"d": d})
        return "\n".join("    " + " | ".join(str(c) for c in r) for r in rows)


def time_raw(db, streams: list[int], n: int) -> list[float]:
    rnd = random.Random(7)
    out = []
    with db.engine.connect() as conn:
        for _ in range(n):
            d = rnd.choice(streams)
            start = time.perf_counter()
            conn.execute(text(PAGE_SQL), {"d": d}).all()
            out.append(time.perf_counter() - start)
    return out


def time_http(base: str, paths: list[tuple[str, dict]], headers: dict | None = None) -> tuple[list[float], dict]:
    out = []
    last = {}
    with httpx.Client(base_url=base, timeout=300, headers=headers or {}) as http:
        http.get(f"{STA}/{paths[0][0]}", params=paths[0][1])  # warm
        for path, params in paths:
            start = time.perf_counter()
            r = http.get(f"{STA}/{path}", params=params)
            out.append(time.perf_counter() - start)
            r.raise_for_status()
            last = r.json()
    return out, last


def ms(values: list[float]) -> str:
    return f"p50 {percentile(values, 50) * 1000:8.1f} ms  p95 {percentile(values, 95) * 1000:8.1f} ms"


def run(dialect: str, rows: int, streams: int, requests: int) -> None:
    with fresh_database(dialect, "stadslab_bench_read") as db:
        ds, foi = make_streams(db, streams)
        start = time.perf_counter()
        load(db, rows, ds, foi)
        print(f"{dialect}: {rows:,} Observations over {streams} Datastreams built in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        print("  plan of the page query:\n" + plan(db, ds[len(ds) // 2]), flush=True)
        raw = time_raw(db, ds, requests)
        rnd = random.Random(11)
        page = {"$top": "100", "$orderby": "phenomenonTime desc"}
        pages = [(f"Datastreams({rnd.choice(ds)})/Observations", page) for _ in range(requests)]
        counted = [(p, {**page, "$count": "true"}) for p, _ in pages[: max(10, requests // 4)]]
        whole = [("Observations", {"$count": "true", "$top": "1"})] * max(5, requests // 20)
        admin = bench_token(db)
        callers = (("anonymous", None), ("admin", admin))
        for mode in ("estimate", "exact"):
            with server(db.url, STADSLAB_STA_COUNT_MODE=mode, STADSLAB_STA_COUNT_ESTIMATE_THRESHOLD=ESTIMATE_FROM) as (
                    base, _proc):
                if mode == "estimate":
                    for who, headers in callers:
                        times, body = time_http(base, pages, headers)
                        assert len(body["value"]) == 100 and "@iot.nextLink" in body
                        print(f"  page of 100, newest first, {who:9s} HTTP {ms(times)}   raw SQL {ms(raw)}   "
                              f"ratio p95 HTTP/raw {percentile(times, 95) / percentile(raw, 95):.1f}", flush=True)
                for who, headers in callers:
                    times, body = time_http(base, counted, headers)
                    print(f"  page + $count ({mode:8s}), {who:9s} HTTP {ms(times)}   "
                          f"@iot.count {body['@iot.count']:,}", flush=True)
                    times, body = time_http(base, whole, headers)
                    print(f"  Observations $count ({mode:8s}), {who:9s} HTTP {ms(times)}   "
                          f"@iot.count {body['@iot.count']:,}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pg", default=os.environ.get("STADSLAB_TEST_POSTGRES_URL"))
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    rows = max(1_000, min(args.rows, 50_000_000))
    streams = max(1, min(args.streams, 1_000))
    requests = max(20, min(args.requests, 5_000))
    print(machine())
    if args.dialect in ("sqlite", "both"):
        run("sqlite", rows, streams, requests)
    if args.dialect in ("postgresql", "both"):
        if not args.pg:
            print("postgresql skipped (set STADSLAB_TEST_POSTGRES_URL or --pg)")
            return
        import benchmarks.common as common
        common.PG_ADMIN = args.pg
        run("postgresql", rows, streams, requests)


if __name__ == "__main__":
    main()
