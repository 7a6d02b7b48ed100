"""Validation study of the evaluation engine: interval coverage and false positives on synthetic data.

Hourly series (daily and weekly cycles, shared weather as day-level AR(1), site
noise as hour-level AR(1), day-level site drift as AR(1)) are simulated with a
planted effect, reduced to daily means per site and run through the engine's
statistics layer (``stadslab.evidence.engine``), exactly as an evaluation does
after its SQL aggregation. For each scenario it reports the share of 95 %
intervals covering the planted effect, the share rejecting zero (power, or
false positives when the effect is zero), the mean interval width and block length.

    .venv/bin/python benchmarks/evidence_validation.py [--trials 1000] [--check-fixed-b]

The fast seeded version of this study is tests/evidence/test_engine_validation.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stadslab.evidence.engine import FIXED_B, fixed_b_critical  # noqa: E402
from stadslab.evidence.simulate import Scenario, coverage_study  # noqa: E402

SCENARIOS = [
    ("12+12 weeks, effect −3, DiD", Scenario(effect=-3.0), True),
    ("12+12 weeks, no effect, DiD", Scenario(effect=0.0), True),
    ("12+12 weeks, no effect, before/after", Scenario(effect=0.0), False),
    ("6+6 weeks, no effect, DiD", Scenario(effect=0.0, days_pre=42, days_post=42), True),
    ("6+6 weeks, no effect, before/after", Scenario(effect=0.0, days_pre=42, days_post=42), False),
    ("26+26 weeks, effect −1, DiD", Scenario(effect=-1.0, days_pre=182, days_post=182), True),
    ("strong persistence (φ=0.8 weather and drift), no effect, DiD",
     Scenario(effect=0.0, weather_phi=0.8, site_day_phi=0.8), True),
    ("very strong drift (φ=0.9), no effect, DiD", Scenario(effect=0.0, site_day_phi=0.9, site_day_sigma=2.0), True),
    ("periods not whole weeks (60+60 days), effect −3, DiD", Scenario(effect=-3.0, days_pre=60, days_post=60), True),
]


def check_fixed_b(reps: int = 20000, n: int = 400) -> None:
    """Simulate the fixed-b limit (Bartlett kernel on iid data) and compare with the cubic used."""
    rng = np.random.default_rng(0)
    e = rng.normal(size=(reps, n))
    m = e.mean(axis=1)
    u = e - m[:, None]
    print("| block fraction | confidence | simulated | cubic |")
    print("|---|---|---|---|")
    for b in (0.1, 0.2, 0.3):
        big_m = int(b * n)
        lrv = (u * u).mean(axis=1)
        for k in range(1, big_m):
            lrv += 2 * (1 - k / big_m) * (u[:, :-k] * u[:, k:]).sum(axis=1) / n
        t = np.abs(np.sqrt(n) * m / np.sqrt(lrv))
        for conf in sorted(FIXED_B):
            print(f"| {b} | {conf} | {np.quantile(t, conf):.3f} | {fixed_b_critical(conf, b):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--boot", type=int, default=999)
    ap.add_argument("--check-fixed-b", action="store_true")
    args = ap.parse_args()
    if args.check_fixed_b:
        check_fixed_b()
        return
    print(f"{args.trials} trials per scenario, {args.boot} bootstrap replicates, 95 % intervals")
    print("| scenario | coverage | rejects zero | mean width | mean block (days) |")
    print("|---|---|---|---|---|")
    for i, (name, sc, ctrl) in enumerate(SCENARIOS):
        t = time.perf_counter()
        r = coverage_study(args.trials, sc, seed=1000 + i, n_boot=args.boot, use_control=ctrl)
        print(f"| {name} | {r['coverage']:.3f} | {r['rejects_zero']:.3f} | {r['mean_width']:.2f} | "
              f"{r['mean_block']:.1f} |", flush=True)
        print(f"  ({time.perf_counter() - t:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
