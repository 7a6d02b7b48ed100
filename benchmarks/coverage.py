"""LoRaWAN coverage: incremental refresh per 10,000 new receptions against a from-scratch recompute.

A fresh database (migrated, reference data seeded) gets N gateway receptions (default 1,000,000)
from 300 gateways over three months, spread over the Randstad at H3 resolution 8 (Core bulk
inserts, as ``lorawan.receptions.record`` would have written them one uplink at a time). Then,
in the same run:

* ``recompute_all``: every cell and month from all receptions (the from-scratch baseline);
* ``refresh`` after each of ``--rounds`` (``--spread-rounds``) batches of 10,000 new receptions, in two shapes:
  *clustered* (a day of traffic: 40 devices moving along short routes, so a few hundred cells
  are touched) and *spread* (10,000 receptions at random places: the worst case, nearly
  every cell touched);
* ``recompute_all`` again at the end, on the grown table.

Prints the times and writes them to benchmarks/RESULTS.md under "## Coverage" (``--no-write``
to skip). On a busy machine run a smaller N (the first argument) and say so.

Run: .venv/bin/python benchmarks/coverage.py [N] [--rounds=3] [--spread-rounds=1] [--dialect=sqlite|postgresql]
[--no-write]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import fresh_database, machine  # noqa: E402
from stadslab.infrastructure import coverage  # noqa: E402
from stadslab.infrastructure.models import CoverageCell  # noqa: E402
from stadslab.sensorthings.lorawan.models import (LorawanGateway, LorawanIntegration, LorawanReceived,  # noqa: E402
                                                  LorawanReception)
from stadslab.sensorthings.lorawan.receptions import cell_of  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BATCH = 10_000
#: The Randstad: Amsterdam, Utrecht, Rotterdam, The Hague
BOX = (51.85, 4.20, 52.45, 5.20)
START = datetime(2024, 3, 1, tzinfo=timezone.utc)


class Loader:
    def __init__(self, db, rng: random.Random):
        self.db, self.rng = db, rng
        with db.session() as s:
            integration = LorawanIntegration(name="bench", kind="tts", secret_hash="x", active=True)
            s.add(integration)
            s.flush()
            self.integration = integration.id
            self.gateways = []
            for i in range(300):
                g = LorawanGateway(key=f"id:gw-{i}", gateway_id=f"gw-{i}", eui=None, latitude=None, longitude=None,
                                   first_seen=START, last_seen=START, uplinks_heard=0, messages_heard=0, rejected=0)
                s.add(g)
                s.flush()
                self.gateways.append(g.id)
            s.commit()
        self.seq = 0

    def _points_spread(self, n: int):
        r = self.rng
        for _ in range(n):
            yield r.uniform(BOX[0], BOX[2]), r.uniform(BOX[1], BOX[3]), START + timedelta(seconds=r.uniform(0, 90 * 86400))

    def _points_clustered(self, n: int):
        """40 devices, each along a route of ~2 km, on one day."""
        r = self.rng
        day = START + timedelta(days=r.randrange(0, 90))
        per = n // 40
        for _ in range(40):
            lat, lon = r.uniform(BOX[0], BOX[2]), r.uniform(BOX[1], BOX[3])
            dlat, dlon = r.uniform(-0.02, 0.02), r.uniform(-0.03, 0.03)
            for k in range(per):
                f = k / per
                yield lat + dlat * f, lon + dlon * f, day + timedelta(seconds=k * 2)

    def add(self, n: int, shape: str = "spread") -> None:
        points = self._points_spread(n) if shape == "spread" else self._points_clustered(n)
        r = self.rng
        with self.db.session() as s:
            rows_rx, rows_rc = [], []
            for lat, lon, when in points:
                self.seq += 1
                if self.seq % 3 == 1:  # ~3 gateways hear each uplink
                    rows_rc.append({"integration_id": self.integration, "message_id": f"m{self.seq}",
                                    "device_id": None, "received_at": when, "observations": 0})
                rows_rx.append({"gateway": r.choice(self.gateways), "time": when, "rssi": float(r.randint(-125, -40)),
                                "snr": round(r.uniform(-15, 12), 1), "spreading_factor": r.choice((7, 9, 12)),
                                "device_latitude": lat, "device_longitude": lon, "cell": cell_of(lat, lon),
                                "msg": f"m{self.seq - (self.seq - 1) % 3}"})
                if len(rows_rx) >= 20_000:
                    self._flush(s, rows_rc, rows_rx)
                    rows_rc, rows_rx = [], []
            self._flush(s, rows_rc, rows_rx)
            s.commit()

    def _flush(self, s, rows_rc, rows_rx) -> None:
        if not rows_rx:
            return
        if rows_rc:
            s.execute(insert(LorawanReceived), rows_rc)
        ids = dict(s.execute(select(LorawanReceived.message_id, LorawanReceived.id).where(
            LorawanReceived.integration_id == self.integration,
            LorawanReceived.message_id.in_({r["msg"] for r in rows_rx}))).all())
        s.execute(insert(LorawanReception), [
            {"received_id": ids[r["msg"]], "gateway_ref": r["gateway"], "time": r["time"], "rssi": r["rssi"],
             "snr": r["snr"], "spreading_factor": r["spreading_factor"], "device_latitude": r["device_latitude"],
             "device_longitude": r["device_longitude"], "cell": r["cell"]} for r in rows_rx])


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def run(dialect: str, n: int, rounds: int, spread_rounds: int) -> dict:
    rng = random.Random(17)
    with fresh_database(dialect, "stadslab_bench_coverage") as db:
        loader = Loader(db, rng)
        t_load, _ = timed(loader.add, n)
        if dialect == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE lorawan_receptions")
        with db.session() as s:
            t_full, full = timed(coverage.recompute_all, s)
            cells = s.scalar(select(func.count()).select_from(CoverageCell).where(CoverageCell.period == "all"))
        out = {"n": n, "load_s": t_load, "full_s": t_full, "full": full, "cells": cells, "rounds": {}}
        for shape, count in (("clustered", rounds), ("spread", spread_rounds)):
            times, touched = [], []
            for _ in range(count):
                loader.add(BATCH, shape)
                with db.session() as s:
                    t, done = timed(coverage.refresh, s)
                times.append(t)
                touched.append(done["cells"])
            out["rounds"][shape] = (times, touched)
        with db.session() as s:
            out["full_end_s"], _ = timed(coverage.recompute_all, s)
            out["nothing_new_s"], _ = timed(coverage.refresh, s)
        return out


def report(dialect: str, r: dict) -> list[str]:
    lines = [f"### {dialect}, {r['n']:,} receptions, {r['cells']:,} cells (resolution 8)",
             "",
             f"- load (bulk insert): {r['load_s']:.1f} s",
             f"- from-scratch recompute: {r['full_s']:.2f} s ({r['full']['cells']:,} cell-period rows)",
             f"- from-scratch recompute at the end ({r['n'] + BATCH * sum(len(t) for t, _ in r['rounds'].values()):,} "
             f"receptions): {r['full_end_s']:.2f} s"]
    for shape, (times, touched) in r["rounds"].items():
        med = statistics.median(times)
        lines.append(f"- incremental refresh per 10,000 new receptions, {shape}: median {med:.3f} s "
                     f"(runs {', '.join(f'{t:.3f}' for t in times)}; cell-period rows rewritten "
                     f"{', '.join(map(str, touched))}); {r['full_s'] / med:.0f}× faster than from scratch")
    lines.append(f"- refresh with nothing new (what a reader pays): {r['nothing_new_s'] * 1000:.1f} ms")
    return lines


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    opts = dict(a[2:].split("=", 1) if "=" in a else (a[2:], "1") for a in sys.argv[1:] if a.startswith("--"))
    n = int(args[0]) if args else 1_000_000
    rounds = int(opts.get("rounds", 3))
    spread_rounds = int(opts.get("spread-rounds", 1))
    dialects = [opts["dialect"]] if "dialect" in opts else ["sqlite"]
    lines = ["## Coverage", "", f"`benchmarks/coverage.py {' '.join(sys.argv[1:])}` on {machine()}.", ""]
    for dialect in dialects:
        r = run(dialect, n, rounds, spread_rounds)
        lines += report(dialect, r) + [""]
    text = "\n".join(lines)
    print(text)
    if "no-write" not in opts:
        old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
        start = old.find("## Coverage")
        if start >= 0:
            end = old.find("\n## ", start + 1)
            old = old[:start] + (old[end + 1:] if end >= 0 else "")
        RESULTS.write_text(old.rstrip() + "\n\n" + text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
