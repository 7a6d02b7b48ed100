"""Evaluation speed: a project with 50 sites × 1 year of 10-minute data (~2.6 million observations).

Loads the observations in bulk (SQLite executemany on the raw connection,
PostgreSQL COPY), saves an experiment design (25 intervention and 25 control
Datastreams, half a year baseline, half a year intervention, daily buckets),
then times

* ``evaluate``: the whole service call (resolve the design, one aggregation query,
  statistics with the block bootstrap, store the evaluation), and
* ``bare SQL``: the same bucketed means (same bucket expression: the UTC date
  prefix on SQLite, ``date_trunc`` on PostgreSQL) written by hand as one statement,

and prints the ratio. Target: evaluate < 5 s. Runs on SQLite and PostgreSQL
(``STADSLAB_BENCH_POSTGRES_URL``, default postgresql://postgres@127.0.0.1/test).

    .venv/bin/python benchmarks/evidence_bench.py [--sites 50 --days 365 --step 10 --repeat 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import fresh_database, machine  # noqa: E402
from stadslab.evidence import sensors, service  # noqa: E402
from stadslab.evidence.schemas import DesignIn  # noqa: E402
from stadslab.labs.schemas import ProjectIn  # noqa: E402
from stadslab.labs.service import create_project  # noqa: E402

T0 = datetime(2023, 1, 2, tzinfo=timezone.utc)
UNIT = {"name": "microgram per cubic meter", "symbol": "µg/m³", "definition": ""}


def make_series(rng: np.random.Generator, n: int, step_min: int, effect: float) -> np.ndarray:
    t = np.arange(n) * step_min / 60.0
    daily = 1 + 0.4 * np.sin((t % 24 - 7) / 24 * 2 * np.pi)
    noise = rng.normal(0, 3, n)
    x = 30 * daily + noise
    x[n // 2:] += effect
    return np.round(np.clip(x, 0, None), 2)


def load(db, sites: int, days: int, step_min: int) -> tuple[int, list[int], list[int], int]:
    n = days * 24 * 60 // step_min
    rng = np.random.default_rng(7)
    stamps = (np.datetime64(T0.replace(tzinfo=None), "us") + np.arange(n) * np.timedelta64(step_min, "m"))
    stamp_text = np.char.replace(np.datetime_as_string(stamps, unit="us"), "T", " ")
    with db.session() as s:
        pid = create_project(s, ProjectIn(title=f"Benchmark {uuid.uuid4().hex[:6]}", city="GM0363")).id
        op = sensors.observed_property(s, "NO2", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/8")
        streams = []
        for i in range(sites):
            _, foi, ids = sensors.sensor_site(s, f"site {i}", 4.9 + i / 1000, 52.37, [(op, UNIT, f"NO2 {i}")])
            streams.append((ids[op], foi))
        s.commit()
    total = 0
    started = time.perf_counter()
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for i, (ds, foi) in enumerate(streams):
            values = make_series(rng, n, step_min, -2.0 if i < sites // 2 else 0.0)
            if db.dialect == "sqlite":
                cur.executemany("INSERT INTO sta_observations (datastream_id, feature_of_interest_id, "
                                "phenomenon_time_start, result, result_number) VALUES (?, ?, ?, ?, ?)",
                                ((ds, foi, ts, repr(v), v) for ts, v in zip(stamp_text.tolist(), values.tolist())))
            else:
                buf = io.StringIO()
                for ts, v in zip(stamp_text.tolist(), values.tolist()):
                    buf.write(f"{ds}\t{foi}\t{ts}+00\t{v!r}\t{v!r}\n")
                buf.seek(0)
                with cur.copy("COPY sta_observations (datastream_id, feature_of_interest_id, phenomenon_time_start, "
                              "result, result_number) FROM STDIN") as copy:
                    copy.write(buf.getvalue())
            total += n
        raw.commit()
    finally:
        raw.close()
    with db.session() as s:
        for ds, _ in streams:
            sensors.refresh_summary(s, ds)
        s.commit()
        s.execute(text("ANALYZE"))
        s.commit()
    print(f"  loaded {total:,} observations in {time.perf_counter() - started:.1f} s")
    ids = [ds for ds, _ in streams]
    return pid, ids[: sites // 2], ids[sites // 2:], total


def bare_sql(db, ids: list[int], start: datetime, end: datetime) -> int:
    if db.dialect == "sqlite":
        sql = (f"SELECT datastream_id, substr(phenomenon_time_start, 1, 10) AS d, avg(result_number) "
               f"FROM sta_observations WHERE datastream_id IN ({','.join(map(str, ids))}) "
               f"AND phenomenon_time_start >= :a AND phenomenon_time_start < :b GROUP BY datastream_id, d")
        a, b = start.strftime("%Y-%m-%d %H:%M:%S.%f"), end.strftime("%Y-%m-%d %H:%M:%S.%f")
    else:
        sql = (f"SELECT datastream_id, date_trunc('day', phenomenon_time_start AT TIME ZONE 'UTC') AS d, "
               f"avg(result_number) FROM sta_observations WHERE datastream_id IN ({','.join(map(str, ids))}) "
               f"AND phenomenon_time_start >= :a AND phenomenon_time_start < :b GROUP BY datastream_id, d")
        a, b = start, end
    with db.engine.connect() as conn:
        return len(conn.execute(text(sql), {"a": a, "b": b}).all())


def run(dialect: str, sites: int, days: int, step: int, repeat: int, resolution: str) -> dict:
    with fresh_database(dialect, f"stadslab_evidence_bench_{uuid.uuid4().hex[:6]}") as db:
        pid, treated, control, total = load(db, sites, days, step)
        half = days // 2
        design = DesignIn(intervention_sites=[{"datastream_ids": treated}], control_sites=[{"datastream_ids": control}],
                          baseline={"start": T0.date().isoformat(),
                                    "end": (T0 + timedelta(days=half - 1)).date().isoformat()},
                          intervention={"start": (T0 + timedelta(days=half)).date().isoformat(),
                                        "end": (T0 + timedelta(days=days - 1)).date().isoformat()},
                          kpis=[{"kpi": "no2_concentration"}], resolution=resolution)
        with db.session() as s:
            service.put_design(s, pid, design)
        evals, bares = [], []
        result = None
        for _ in range(repeat):
            t = time.perf_counter()
            buckets = bare_sql(db, treated + control, T0, T0 + timedelta(days=days))
            bares.append(time.perf_counter() - t)
            with db.session() as s:
                t = time.perf_counter()
                ev = service.run_evaluation(s, pid)
                evals.append(time.perf_counter() - t)
                result = ev.results["kpis"][0]
        e, b = statistics.median(evals), statistics.median(bares)
        eff = result["effect"]
        print(f"  {dialect} ({resolution}): evaluate median {e:.2f} s, bare SQL median {b:.2f} s, ratio {e / b:.2f} "
              f"({buckets:,} day buckets; effect {eff['estimate']:+.2f} [{eff['low']:+.2f}, {eff['high']:+.2f}], "
              f"planted -2.00; verdict {result['verdict']})")
        return {"dialect": dialect, "resolution": resolution, "observations": total, "evaluate_s": e, "bare_sql_s": b,
                "ratio": e / b}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, default=50)
    ap.add_argument("--days", type=int, default=364)
    ap.add_argument("--step", type=int, default=10, help="minutes between observations")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dialects", default="sqlite,postgresql")
    ap.add_argument("--resolution", default="day", choices=["day", "hour"])
    args = ap.parse_args()
    print(f"Evidence benchmark: {args.sites} sites × {args.days} days × every {args.step} min; {machine()}")
    rows = [run(d, args.sites, args.days, args.step, args.repeat, args.resolution) for d in args.dialects.split(",")]
    print("| dialect | resolution | observations | evaluate (s) | bare SQL (s) | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dialect']} | {r['resolution']} | {r['observations']:,} | {r['evaluate_s']:.2f} | "
              f"{r['bare_sql_s']:.2f} | {r['ratio']:.2f} |")


if __name__ == "__main__":
    main()
