"""Turning the soak's raw figures into the printed report (and the dicts saved in results.json)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.soak import plan
from benchmarks.soak.measure import Sample, failures, read_locust_stats, sizes, slope


def _lat_table(stats: dict[str, dict]) -> None:
    print(f"  {'request':45s} {'count':>8} {'req/s':>7} {'err %':>6} {'p50':>7} {'p95':>7} {'p99':>7}  (ms)")
    for name, s in sorted(stats.items()):
        err = 100 * s["failures"] / s["count"] if s["count"] else 0.0
        print(f"  {name:45s} {s['count']:8d} {s['rps']:7.1f} {err:6.2f} {s['p50']:7.0f} {s['p95']:7.0f} "
              f"{s['p99']:7.0f}")


def report_baseline(b: dict) -> None:
    print(f"baseline: {b['requests']} CreateObservations bodies ({b['rows']:,} rows, 50..200 rows over many "
          f"Datastreams each), one client in sequence: HTTP {b['http_obs_s']:,.0f} obs/s vs COPY of the same rows "
          f"in the same batches {b['copy_obs_s']:,.0f} obs/s: ratio {b['http_obs_s'] / b['copy_obs_s']:.2f}",
          flush=True)


def _cpu_summary(samples: list[Sample]) -> dict:
    def mean(attr: str) -> float:
        values = [getattr(s, attr) for s in samples]
        return sum(values) / len(values) if values else 0.0
    return {k: round(mean(k), 1) for k in ("server_cpu", "pg_cpu", "locust_cpu", "broker_cpu", "system_cpu", "load1")}


def report_soak(prefix: Path, samples: list[Sample], rows: int, seconds: float, wal_bytes: int,
                notifications: int, rates: dict) -> dict:
    stats = read_locust_stats(str(prefix))
    agg = stats.pop("Aggregated", {"count": 0, "failures": 0, "rps": 0})
    obs_rate = rows / seconds
    print(f"\nsoak: {seconds:.0f} s at 1x: target {plan.OBS_RATE:,.0f} obs/s; stored {rows:,} Observations = "
          f"{obs_rate:,.0f} obs/s; {agg['rps']:.1f} requests/s; errors {agg['failures']} of {agg['count']} "
          f"({100 * agg['failures'] / max(agg['count'], 1):.3f} %)")
    _lat_table(stats)
    for line in failures(str(prefix))[:10]:
        print("  failure:", line)
    cpu = _cpu_summary(samples)
    print(f"  mean CPU (100 % = one core): server {cpu['server_cpu']} %, PostgreSQL backends {cpu['pg_cpu']} %, "
          f"locust {cpu['locust_cpu']} %, mosquitto {cpu['broker_cpu']} %, whole machine {cpu['system_cpu']} % "
          f"of 200 %; load average (1 min) mean {cpu['load1']}, max {max((s.load1 for s in samples), default=0):.2f}")
    cpu_s = {k: sum(getattr(x, k) for x in samples) / 100 * (samples[-1].t - samples[0].t) / max(len(samples) - 1, 1)
             for k in ("server_cpu", "pg_cpu")} if len(samples) > 1 else {"server_cpu": 0.0, "pg_cpu": 0.0}
    per_k = {k: 1000 * v / max(rows, 1) for k, v in cpu_s.items()}
    cpu["cpu_s_per_1000_obs"] = per_k
    # a dedicated node: both cores for the server and PostgreSQL, the same mix of reads per Observation
    cpu["projected_obs_s_on_2_cores"] = 2 * 1000 / max(sum(per_k.values()), 1e-9)
    print(f"  CPU time per 1,000 stored Observations (with the reads of the mix): server {per_k['server_cpu']:.2f} s, "
          f"PostgreSQL backends {per_k['pg_cpu']:.2f} s -> two dedicated cores would carry about "
          f"{cpu['projected_obs_s_on_2_cores']:,.0f} obs/s of this mix (CPU-bound estimate)")
    print(f"  WAL written: {wal_bytes / 2**20:,.0f} MiB = {wal_bytes / max(rows, 1):.0f} bytes/Observation; "
          f"MQTT notifications received on v1.1/Observations: {notifications:,} "
          f"({notifications / max(rows, 1):.3f} per stored Observation)")
    print(f"  {'t (s)':>6} {'RSS MiB':>8} {'workers MiB':>16} {'srv CPU%':>8} {'pg CPU%':>8} {'loc CPU%':>8} "
          f"{'sys CPU%':>8} {'load1':>6} {'obs/s':>7}")
    prev = None
    for s in samples:
        rate = (s.max_id - prev.max_id) / (s.t - prev.t) if prev else 0.0
        print(f"  {s.t:6.0f} {s.server_rss:8.1f} {str(s.worker_rss):>16} {s.server_cpu:8.0f} {s.pg_cpu:8.0f} "
              f"{s.locust_cpu:8.0f} {s.system_cpu:8.0f} {s.load1:6.2f} {rate:7.0f}")
        prev = s
    memory = {}
    if samples:
        rss = [s.server_rss for s in samples]
        mid = samples[len(samples) // 2]
        second = [(s.t / 60, s.server_rss) for s in samples[len(samples) // 2:]]
        memory = {"start": rss[0], "middle": mid.server_rss, "end": rss[-1], "max": max(rss),
                  "slope_second_half_mib_per_min": slope(second),
                  "slope_all_mib_per_min": slope([(s.t / 60, s.server_rss) for s in samples])}
        print(f"  server RSS (MiB, master + workers): start {memory['start']:.1f}, middle {memory['middle']:.1f}, "
              f"end {memory['end']:.1f}, max {memory['max']:.1f}; slope {memory['slope_all_mib_per_min']:+.2f} "
              f"MiB/min overall, {memory['slope_second_half_mib_per_min']:+.2f} MiB/min over the second half",
              flush=True)
    return {"stored_rows": rows, "obs_per_s": obs_rate, "requests_per_s": agg["rps"], "requests": agg["count"],
            "failures": agg["failures"], "latency_ms": stats, "cpu": cpu, "wal_bytes": wal_bytes,
            "notifications": notifications, "memory": memory, "rates": rates,
            "samples": [s.__dict__ for s in samples]}


def report_ramp_step(prefix: Path, m: float, rows: int, seconds: float, samples: list[Sample]) -> dict:
    stats = read_locust_stats(str(prefix))
    agg = stats.pop("Aggregated", {"count": 0, "failures": 0, "rps": 0})
    target = plan.OBS_RATE * m
    cpu = _cpu_summary(samples)
    step = {"multiplier": m, "target_obs_s": target, "obs_per_s": rows / seconds, "requests_per_s": agg["rps"],
            "error_rate": agg["failures"] / max(agg["count"], 1), "latency_ms": stats, "cpu": cpu,
            "rss_max": max((s.server_rss for s in samples), default=0.0), "failures": failures(str(prefix))[:5]}
    worst = max(stats.items(), key=lambda kv: kv[1]["p95"], default=("-", {"p95": 0}))
    if len(samples) > 1:
        span = samples[-1].t - samples[0].t
        used = sum(x.server_cpu + x.pg_cpu for x in samples) / 100 * span / max(len(samples) - 1, 1)
        step["cpu_s_per_1000_obs"] = 1000 * used / max(rows, 1)
    print(f"\nramp {m:g}x: target {target:,.0f} obs/s, stored {step['obs_per_s']:,.0f} obs/s, "
          f"{agg['rps']:.1f} req/s, errors {100 * step['error_rate']:.2f} %, worst p95 {worst[1]['p95']:.0f} ms "
          f"({worst[0]}); CPU server {cpu['server_cpu']} %, PostgreSQL {cpu['pg_cpu']} %, locust "
          f"{cpu['locust_cpu']} %, machine {cpu['system_cpu']} %, load {cpu['load1']}", flush=True)
    _lat_table(stats)
    for line in step["failures"]:
        print("  failure:", line)
    return step


def ramp_held(step: dict, p95_limit: float) -> bool:
    return (step["obs_per_s"] >= 0.95 * step["target_obs_s"] and step["error_rate"] < 0.01
            and all(s["p95"] <= p95_limit for s in step["latency_ms"].values()))


def report_sizes(conn) -> dict:
    sz = sizes(conn)
    per_year = sz["bytes_per_row"] * plan.OBS_RATE * 365 * 86400
    print(f"\nsta_observations: {sz['rows']:,} rows; total {sz['total'] / 2**20:,.0f} MiB (heap "
          f"{sz['heap'] / 2**20:,.0f} MiB, indexes {sz['indexes'] / 2**20:,.0f} MiB) = {sz['bytes_per_row']:.0f} "
          f"bytes/Observation incl. indexes; database {sz['database'] / 2**20:,.0f} MiB")
    for name, size in sz["index_sizes"].items():
        print(f"  index {name}: {size / 2**20:,.0f} MiB ({size / max(sz['rows'], 1):.0f} bytes/row)")
    print(f"  at {plan.OBS_RATE:,.0f} obs/s ({plan.OBS_RATE * 365 * 86400 / 1e9:.2f} billion a year): "
          f"{per_year / 1e12:.2f} TB a year; per billion Observations {sz['bytes_per_row'] * 1e9 / 1e12:.3f} TB",
          flush=True)
    return {**sz, "tb_per_year_at_national_rate": per_year / 1e12, "tb_per_billion": sz["bytes_per_row"] / 1e3}
