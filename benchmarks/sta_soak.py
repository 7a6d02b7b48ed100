"""Sustained ingest against a real server process: is the server's memory flat?

Posts DataArray batches (``--batch`` rows) to ``CreateObservations`` without pause
for ``--minutes`` (default 10), with one single-Observation POST and one page
read (``$top=100``, newest first) after every batch, and samples the server's
resident set size (``/proc/<pid>/status`` VmRSS, worker processes included)
every ``--interval`` seconds. Prints the series, then the drift: the last
sample against the first sample after the warm-up (the baseline measured in
this run), in MiB and percent, and the slope over the second half.

    .venv/bin/python -m benchmarks.sta_soak --minutes 10 --dialect sqlite
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta

import httpx
import orjson

from benchmarks.common import fresh_database, machine
from benchmarks.sta_common import STA, T0, bench_token, children, make_datastreams, rss_kib, server


def server_rss_mib(pid: int) -> float:
    return (rss_kib(pid) + sum(rss_kib(c) for c in children(pid))) / 1024


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y)."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (y - my) for t, y in points) / den if den else 0.0


def run(dialect: str, minutes: float, interval: float, batch: int, warmup: float) -> None:
    with fresh_database(dialect, "stadslab_bench_soak") as db, server(db.url) as (base, proc):
        with httpx.Client(base_url=base, timeout=120, headers=bench_token(db)) as http:
            ds = make_datastreams(http)[0]
            headers = {"content-type": "application/json"}
            start = time.monotonic()
            end = start + minutes * 60
            next_sample = start
            samples: list[tuple[float, float, int]] = []
            sent = 0
            print(f"{dialect}: server pid {proc.pid}; sampling RSS every {interval:.0f} s for {minutes:g} min")
            print(f"  {'t (s)':>7} {'RSS MiB':>9} {'observations':>13} {'obs/s':>8}")
            while True:
                now = time.monotonic()
                if now >= next_sample:
                    rss = server_rss_mib(proc.pid)
                    elapsed = now - start
                    samples.append((elapsed, rss, sent))
                    rate = sent / elapsed if elapsed > 0 else 0.0
                    print(f"  {elapsed:7.0f} {rss:9.1f} {sent:13,} {rate:8.0f}", flush=True)
                    next_sample += interval
                if now >= end:
                    break
                rows = [[(T0 + timedelta(seconds=sent + i)).strftime("%Y-%m-%dT%H:%M:%SZ"), (i % 500) / 10]
                        for i in range(batch)]
                body = orjson.dumps([{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
                                      "dataArray": rows}])
                http.post(f"{STA}/CreateObservations", content=body, headers=headers).raise_for_status()
                http.post(f"{STA}/Datastreams({ds})/Observations", content=b'{"result": 1.5}',
                          headers=headers).raise_for_status()
                http.get(f"{STA}/Datastreams({ds})/Observations",
                         params={"$top": 100, "$orderby": "phenomenonTime desc"}).raise_for_status()
                sent += batch + 1
        after = [s for s in samples if s[0] >= warmup * 60] or samples
        base_t, base_rss, _ = after[0]
        last_t, last_rss, total = samples[-1]
        half = [(t / 60, r) for t, r, _ in after if t >= (base_t + last_t) / 2]
        print(f"  {dialect}: {total:,} observations in {last_t:.0f} s ({total / last_t:,.0f} obs/s); "
              f"RSS after warm-up ({base_t:.0f} s) {base_rss:.1f} MiB, at the end {last_rss:.1f} MiB: "
              f"drift {last_rss - base_rss:+.1f} MiB ({(last_rss / base_rss - 1) * 100:+.1f}%), "
              f"slope over the second half {slope(half):+.2f} MiB/min, peak {max(r for _, r, _ in samples):.1f} MiB",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--warmup", type=float, default=1, help="minutes before the baseline sample")
    parser.add_argument("--pg", default=os.environ.get("STADSLAB_TEST_POSTGRES_URL"))
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="sqlite")
    args = parser.parse_args()
    minutes = max(0.2, min(args.minutes, 120))
    interval = max(1.0, min(args.interval, 60))
    batch = max(1, min(args.batch, 10_000))
    warmup = max(0.0, min(args.warmup, minutes / 2))
    print(machine())
    if args.dialect in ("sqlite", "both"):
        run("sqlite", minutes, interval, batch, warmup)
    if args.dialect in ("postgresql", "both"):
        if not args.pg:
            print("postgresql skipped (set STADSLAB_TEST_POSTGRES_URL or --pg)")
            return
        import benchmarks.common as common
        common.PG_ADMIN = args.pg
        run("postgresql", minutes, interval, batch, warmup)


if __name__ == "__main__":
    main()
