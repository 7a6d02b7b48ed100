"""Spatial ``$filter`` over many Things: ``geo.intersects`` on Locations, served over HTTP.

Builds ``--things`` Things (default 100,000), each with one point Location spread
over the Netherlands, then asks a separate server process for

* ``Locations?$filter=geo.intersects(location, geography'POLYGON(..)')``
* ``Things?$filter=Locations/any(l: geo.intersects(l/location, geography'POLYGON(..)'))``

for random boxes of two sizes (about 0.1% and 1% of the points), first page
(``$top=100``). Baselines measured in the same run on the same data:

* ``raw indexed``: the bare SQL a hand-written query would use (PostGIS GiST on
  ``geom``; SQLite R*Tree + shapely), ``LIMIT 101``, straight through the driver;
* ``unindexed``: the filter as the compiler writes it without migration 0005's
  indexes (GeoJSON parsed per row), for the speed-up.

    .venv/bin/python -m benchmarks.sta_geo --things 100000 --rounds 20
"""

from __future__ import annotations

import argparse
import os
import random
import time

import httpx
from sqlalchemy import select, text

from benchmarks.common import fresh_database, machine, percentile
from benchmarks.sta_common import STA, bench_token, server
from stadslab.sensorthings.filter import index as filter_index
from stadslab.sensorthings.model.entities import ENTITY_TYPES
from stadslab.sensorthings.filter import compile_filter
from stadslab.sensorthings.filter.sta_resolver import StaFilterResolver
from stadslab.sensorthings.filter.sta import _sqlite_functions

LON, LAT = (3.3, 7.2), (50.7, 53.6)
SIZES = {"small": 0.06, "medium": 0.19}  # box side in degrees: ~0.1% / ~1% of the area


def load_things(db, n: int) -> None:
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("SELECT setseed(0.42)"))
            conn.execute(text(
                "INSERT INTO sta_things (id, name, description, processes_personal_data, access_class) "
                "SELECT g, 'thing ' || g, 'benchmark', false, 'open' FROM generate_series(1, :n) g"), {"n": n})
            conn.execute(text(
                "INSERT INTO sta_locations (id, name, description, encoding_type, location) "
                "SELECT g, 'loc ' || g, 'benchmark', 'application/geo+json', json_build_object('type', 'Point', "
                "'coordinates', json_build_array(round((:x0 + random() * :dx)::numeric, 6), "
                "round((:y0 + random() * :dy)::numeric, 6))) FROM generate_series(1, :n) g"),
                {"n": n, "x0": LON[0], "dx": LON[1] - LON[0], "y0": LAT[0], "dy": LAT[1] - LAT[0]})
            conn.execute(text("INSERT INTO sta_thing_locations SELECT g, g FROM generate_series(1, :n) g"), {"n": n})
            for table in ("sta_things", "sta_locations"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"), {"n": n})
        else:
            rnd = random.Random(42)
            conn.exec_driver_sql(
                "INSERT INTO sta_things (id, name, description, processes_personal_data, access_class) "
                "VALUES (?, ?, 'benchmark', 0, 'open')", [(i, f"thing {i}") for i in range(1, n + 1)])
            conn.exec_driver_sql(
                "INSERT INTO sta_locations (id, name, description, encoding_type, location) "
                "VALUES (?, ?, 'benchmark', 'application/geo+json', ?)",
                [(i, f"loc {i}", '{"type": "Point", "coordinates": [%.6f, %.6f]}'
                  % (rnd.uniform(*LON), rnd.uniform(*LAT))) for i in range(1, n + 1)])
            conn.exec_driver_sql("INSERT INTO sta_thing_locations VALUES (?, ?)", [(i, i) for i in range(1, n + 1)])
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def boxes(size: str, count: int, seed: int) -> list[tuple[float, float, float, float]]:
    rnd = random.Random(seed)
    side = SIZES[size]
    out = []
    for _ in range(count):
        x, y = rnd.uniform(LON[0], LON[1] - side), rnd.uniform(LAT[0], LAT[1] - side)
        out.append((x, y, x + side, y + side))
    return out


def wkt(box) -> str:
    x0, y0, x1, y1 = box
    return f"POLYGON(({x0:.5f} {y0:.5f}, {x1:.5f} {y0:.5f}, {x1:.5f} {y1:.5f}, {x0:.5f} {y1:.5f}, {x0:.5f} {y0:.5f}))"


def filter_for(entity: str, box) -> str:
    if entity == "Locations":
        return f"geo.intersects(location, geography'{wkt(box)}')"
    return f"Locations/any(l: geo.intersects(l/location, geography'{wkt(box)}'))"


def time_http(base: str, auth: dict, entity: str, bxs) -> tuple[list[float], list[int]]:
    times, hits = [], []
    with httpx.Client(base_url=base, timeout=120, headers=auth) as http:
        http.get(f"{STA}/{entity}", params={"$filter": filter_for(entity, bxs[0]), "$top": 100})  # warm
        for box in bxs:
            start = time.perf_counter()
            r = http.get(f"{STA}/{entity}", params={"$filter": filter_for(entity, box), "$top": 100,
                                                    "$select": "id,name"})
            times.append(time.perf_counter() - start)
            r.raise_for_status()
            hits.append(len(r.json()["value"]))
    return times, hits


def raw_sql(db, box) -> tuple[str, dict]:
    if db.dialect == "postgresql":
        return ("SELECT l.id, l.name FROM sta_locations l WHERE ST_Intersects(l.geom, "
                "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)) ORDER BY l.id LIMIT 101",
                dict(zip(("x0", "y0", "x1", "y1"), box)))
    return ("SELECT l.id, l.name FROM sta_locations l WHERE l.id IN (SELECT id FROM sta_locations_rtree "
            "WHERE min_x <= :x1 AND max_x >= :x0 AND min_y <= :y1 AND max_y >= :y0) "
            "AND stadslab_st_intersects(l.location, :w) = 1 ORDER BY l.id LIMIT 101",
            {**dict(zip(("x0", "y0", "x1", "y1"), box)), "w": wkt(box)})


def time_raw(db, bxs) -> list[float]:
    times = []
    with db.session() as s:
        if db.dialect == "sqlite":
            _sqlite_functions(s)
        for box in bxs:
            sql, params = raw_sql(db, box)
            start = time.perf_counter()
            s.execute(text(sql), params).all()
            times.append(time.perf_counter() - start)
    return times


def time_unindexed(db, bxs) -> list[float]:
    """The compiled filter without the spatial-index rewrite (what the hub did before 0005)."""
    et = ENTITY_TYPES["Location"]
    times = []
    with db.session() as s:
        if db.dialect == "sqlite":
            _sqlite_functions(s)
        for box in bxs:
            where = compile_filter(filter_for("Locations", box), StaFilterResolver(et, et.table, db.dialect))
            start = time.perf_counter()
            s.execute(select(et.table.c.id, et.table.c.name).where(where).order_by(et.table.c.id).limit(101)).all()
            times.append(time.perf_counter() - start)
    return times


def ms(values: list[float]) -> str:
    return f"p50 {percentile(values, 50) * 1000:7.1f} ms  p95 {percentile(values, 95) * 1000:7.1f} ms"


def run(dialect: str, things: int, rounds: int) -> None:
    with fresh_database(dialect, "stadslab_bench_geo") as db:
        start = time.perf_counter()
        load_things(db, things)
        with db.session() as s:
            filter_index.forget_capabilities(db.engine)
            indexed = sorted(filter_index.indexed_tables(s))
        print(f"{dialect}: {things} Things with point Locations loaded in {time.perf_counter() - start:.1f} s; "
              f"spatial index on {indexed or 'nothing'}", flush=True)
        auth = bench_token(db)  # an administrator sees every Thing (no visibility conditions)
        with server(db.url) as (base, _proc):
            for size in SIZES:
                bxs = boxes(size, rounds, seed=len(size))
                raw = time_raw(db, bxs)
                for entity in ("Locations", "Things"):
                    times, hits = time_http(base, auth, entity, bxs)
                    print(f"  {size:6s} box  {entity:9s} HTTP {ms(times)}   raw indexed SQL {ms(raw)}   "
                          f"ratio p95 HTTP/raw {percentile(times, 95) / percentile(raw, 95):5.1f}   "
                          f"hits/page {min(hits)}-{max(hits)}", flush=True)
                slow = time_unindexed(db, bxs[: max(3, rounds // 5)])
                print(f"  {size:6s} box  unindexed compiled filter (before 0005) {ms(slow)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--things", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pg", default=os.environ.get("STADSLAB_TEST_POSTGRES_URL"))
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    things = max(100, min(args.things, 1_000_000))
    rounds = max(3, min(args.rounds, 200))
    print(machine())
    if args.dialect in ("sqlite", "both"):
        run("sqlite", things, rounds)
    if args.dialect in ("postgresql", "both"):
        if not args.pg:
            print("postgresql skipped (set STADSLAB_TEST_POSTGRES_URL or --pg)")
            return
        import benchmarks.common as common
        common.PG_ADMIN = args.pg
        run("postgresql", things, rounds)


if __name__ == "__main__":
    main()
