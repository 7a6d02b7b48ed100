"""``make bench``: the quick benchmark scripts one after another, with small sizes, printing their figures.

Each script runs as its own process (``python -m benchmarks.<name>``) from the repository root,
with arguments that keep the whole run within minutes on a laptop; the figures are the
scripts' own output, passed through. The sizes are far below those of benchmarks/RESULTS.md:
this run shows that every benchmark still works and roughly where it stands, not the numbers
to publish. The long runs (``sqlite_scale``, ``sta_soak``, ``soak.run_soak``) are left out; run
them by hand as their docstrings say. Not part of CI: timings depend on the machine.

Scripts that measure PostgreSQL too use ``STADSLAB_BENCH_POSTGRES_URL`` or
``STADSLAB_TEST_POSTGRES_URL`` (see each script); ``--sqlite-only`` leaves PostgreSQL out.

    .venv/bin/python benchmarks/run_all.py [--sqlite-only] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (script, arguments, arguments with --sqlite-only, or None when the script needs PostgreSQL).
QUICK: tuple[tuple[str, list[str], list[str] | None], ...] = (
    ("filter_parse", ["0.2"], ["0.2"]),
    ("log_masking", [], []),
    ("evidence_validation", ["--trials", "40", "--boot", "99"], ["--trials", "40", "--boot", "99"]),
    ("evidence_bench", ["--sites", "4", "--days", "28", "--repeat", "1"],
     ["--sites", "4", "--days", "28", "--repeat", "1", "--dialects", "sqlite"]),
    ("import_bench", ["2000"], None),
    ("search_bench", ["500", "--passes=1", "--no-write"], None),
    ("web_pages", ["5"], ["5"]),
    ("sta_ingest", ["--rows", "5000", "--batch", "500"], ["--rows", "5000", "--batch", "500", "--sqlite-only"]),
    ("sta_post", ["--seconds", "3", "--connections", "2", "--workers", "1", "--streams", "2"],
     ["--seconds", "3", "--connections", "2", "--workers", "1", "--streams", "2", "--dialect", "sqlite"]),
    ("sta_read", ["--rows", "20000", "--streams", "10", "--requests", "20"],
     ["--rows", "20000", "--streams", "10", "--requests", "20", "--dialect", "sqlite"]),
    ("sta_geo", ["--things", "2000", "--rounds", "3"], ["--things", "2000", "--rounds", "3", "--dialect", "sqlite"]),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-only", action="store_true", help="leave PostgreSQL out (and the scripts that need it)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run just these scripts")
    args = parser.parse_args()
    outcomes: list[tuple[str, str, float]] = []
    for name, full, sqlite_only in QUICK:
        if args.only and name not in args.only:
            continue
        argv = sqlite_only if args.sqlite_only else full
        if argv is None:
            outcomes.append((name, "skipped (needs PostgreSQL)", 0.0))
            continue
        print(f"\n## {name} {' '.join(argv)}", flush=True)
        start = time.monotonic()
        code = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *argv], cwd=ROOT).returncode
        outcomes.append((name, "ok" if code == 0 else f"FAILED (exit {code})", time.monotonic() - start))
    print("\n| script | outcome | wall time |\n|---|---|---|")
    for name, outcome, seconds in outcomes:
        print(f"| {name} | {outcome} | {seconds:.0f} s |")
    return 1 if any(o.startswith("FAILED") for _, o, _ in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
