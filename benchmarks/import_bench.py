"""`stadslab import` of 100,000 projects on SQLite and PostgreSQL.

Baseline, measured in the same run: a raw executemany of the same project rows
(no validation, no themes/KPIs/lessons, no search index). The ratio shows what
validation, the related rows and indexing cost on top of the bare insert.
Run: .venv/bin/python benchmarks/import_bench.py [N]
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import fresh_database, machine  # noqa: E402
from stadslab.labs.models import Project  # noqa: E402
from stadslab.labs.transfer import import_file  # noqa: E402
from stadslab.network.models import Municipality  # noqa: E402

WORDS_NL = ("fiets fietsers fietsenstalling luchtkwaliteit hittestress warmtenet laadpaal sensoren wijk bewoners "
            "verkeer parkeren afval energie groen water veiligheid privacy data slimme lantaarnpaal haven "
            "logistiek deelauto zonnepanelen participatie gezondheid geluid").split()
WORDS_EN = ("cycling cyclists bike air quality heat stress district heating charging sensors neighbourhood "
            "residents traffic parking waste energy green water safety privacy data smart streetlight port "
            "logistics car sharing solar participation health noise").split()
THEMES = ["mobility", "energy-transition", "healthy-urban-living", "safety-cyber-security",
          "privacy-digital-rights", "resilience-climate-adaptation", "logistics-ports",
          "circular-economy-cleantech", "digital-infrastructure", "governance-participation", "data-ai"]
STATUSES = ["idea", "pilot", "evaluated", "scaled", "stopped"]


def generate(path: Path, n: int, cities: list[str], seed: int = 7) -> None:
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            words = WORDS_NL if rnd.random() < 0.7 else WORDS_EN
            title = " ".join(rnd.choice(words) for _ in range(4)).capitalize() + f" {i}"
            summary = " ".join(rnd.choice(words) for _ in range(30)) + "."
            rec = {"type": "project", "title": title, "summary": summary, "city": rnd.choice(cities),
                   "themes": rnd.sample(THEMES, rnd.randint(1, 3)), "status": rnd.choice(STATUSES),
                   "start_date": f"20{rnd.randint(18, 25)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
                   "budget_eur": rnd.randint(10, 5000) * 1000,
                   "kpis": [{"name": "Effect", "unit": "%", "direction": "higher", "baseline": 10, "target": 20}],
                   "lessons": [" ".join(rnd.choice(words) for _ in range(12))]}
            fh.write(json.dumps(rec) + "\n")


def bench(dialect: str, path: Path, n: int) -> dict:
    with fresh_database(dialect, f"stadslab_bench_import_{os.getpid()}") as db:
        with db.session() as s:
            t0 = time.perf_counter()
            report = import_file(s, path)
            t_import = time.perf_counter() - t0
            assert report.counts["project"] == n
            rows = [json.loads(line) for line in open(path, encoding="utf-8")]
            raw = [{"title": r["title"], "summary": r["summary"], "municipality_code": r["city"],
                    "status": r["status"], "budget_eur": r["budget_eur"], "funding_sources": [], "links": [],
                    "is_demo": False} for r in rows]
            t0 = time.perf_counter()
            s.execute(insert(Project), raw)
            s.commit()
            t_raw = time.perf_counter() - t0
    return {"dialect": dialect, "import_s": t_import, "raw_s": t_raw, "ratio": t_import / t_raw}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with fresh_database("sqlite", "cities") as db, db.session() as s:
        cities = list(s.scalars(select(Municipality.code)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "projects.jsonl"
        generate(path, n, cities)
        print(f"# import of {n} projects — {machine()}")
        for dialect in ("sqlite", "postgresql"):
            r = bench(dialect, path, n)
            print(f"{dialect:10s} import {r['import_s']:.1f} s ({n / r['import_s']:.0f} projects/s); "
                  f"raw executemany of the bare rows {r['raw_s']:.1f} s; ratio {r['ratio']:.1f}x")


if __name__ == "__main__":
    main()
