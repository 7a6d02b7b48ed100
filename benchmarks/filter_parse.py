"""$filter parse + compile throughput (no database round trip).

Measures, per filter of a representative set: parsing alone, parsing plus
compiling to a SQLAlchemy WHERE clause (SQLite and PostgreSQL dialects), and
the full path to SQL text. Baseline, measured in the same run: building the
same WHERE clause by hand with SQLAlchemy and rendering it (what a route with
hard-coded query parameters would do), so the ratio is the price of accepting
a user-written filter.
Run: .venv/bin/python benchmarks/filter_parse.py [seconds-per-measurement]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlalchemy import JSON, Column, DateTime, Float, Integer, MetaData, String, Table, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine  # noqa: E402
from stadslab.sensorthings.filter import (ResolvedValue, ValueKind, compile_filter,  # noqa: E402
                                          parse_filter)

meta = MetaData()
obs = Table("bench_observations", meta, Column("id", Integer, primary_key=True),
            Column("result", JSON), Column("result_number", Float), Column("parameters", JSON),
            Column("phenomenon_start", DateTime(timezone=True)),
            Column("phenomenon_end", DateTime(timezone=True)), Column("name", String))


class Resolver:
    def __init__(self, dialect: str):
        self.dialect = dialect

    def resolve_property(self, path):
        c = obs.c
        if path == ("result",):
            return ResolvedValue(c.result, ValueKind.JSON, number=c.result_number)
        if path[:1] == ("parameters",):
            return ResolvedValue(c.parameters, ValueKind.JSON, json_path=tuple(path[1:]))
        if path == ("phenomenonTime",):
            return ResolvedValue(c.phenomenon_start, ValueKind.INTERVAL, end=c.phenomenon_end)
        if path == ("name",):
            return ResolvedValue(c.name, ValueKind.STRING)
        if path == ("id",):
            return ResolvedValue(c.id, ValueKind.NUMBER)
        return None

    def resolve_any(self, path, variable, build):
        return None


FILTERS = [
    "result gt 5",
    "name eq 'Luchtmeter Dam'",
    "result ge 10 and result le 20 and phenomenonTime ge 2024-01-01T00:00:00Z",
    "startswith(name, 'Lucht') or contains(tolower(name), 'geluid')",
    "parameters/quality eq 'good' and parameters/n gt 3",
    "during(phenomenonTime, 2024-01-01T00:00:00Z/2024-02-01T00:00:00Z) and not (result eq null)",
    "year(phenomenonTime) eq 2024 and (result sub 5) mul 2 gt 10",
    "id in (1, 2, 3, 5, 8, 13, 21) and round(result) eq 7",
]


def hand_built():
    """The first four FILTERS written directly in SQLAlchemy: the baseline."""
    c = obs.c
    return [
        c.result_number > 5,
        c.name == "Luchtmeter Dam",
        and_(c.result_number >= 10, c.result_number <= 20, c.phenomenon_start >= "2024-01-01"),
        func.substr(c.name, 1, 5) == "Lucht",
    ]


def rate(fn, seconds: float) -> float:
    """Calls per second of fn() over about ``seconds``."""
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            fn()
        n += 20
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    print(f"$filter parse+compile benchmark on {machine()}")
    print(f"{len(FILTERS)} filters, {seconds:.1f} s per measurement\n")
    dialects = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}

    def parse_all():
        for f in FILTERS:
            parse_filter(f)

    results = {"parse": rate(parse_all, seconds) * len(FILTERS)}
    for name, dia in dialects.items():
        resolver = Resolver(name)

        def compile_all(resolver=resolver):
            for f in FILTERS:
                compile_filter(f, resolver)

        def to_sql_all(resolver=resolver, dia=dia):
            for f in FILTERS:
                str(select(obs.c.id).where(compile_filter(f, resolver)).compile(dialect=dia))

        results[f"parse+compile {name}"] = rate(compile_all, seconds) * len(FILTERS)
        results[f"parse+compile+SQL text {name}"] = rate(to_sql_all, seconds) * len(FILTERS)

        manual = hand_built()
        paired = FILTERS[:len(manual)]

        def ours_paired(resolver=resolver, dia=dia):
            for f in paired:
                str(select(obs.c.id).where(compile_filter(f, resolver)).compile(dialect=dia))

        def baseline(manual=manual, dia=dia):
            for w in manual:
                str(select(obs.c.id).where(w).compile(dialect=dia))

        results[f"simple 4: parse+compile+SQL text {name}"] = rate(ours_paired, seconds) * len(paired)
        results[f"simple 4: baseline hand-built+SQL text {name}"] = rate(baseline, seconds) * len(manual)

    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:>10,.0f} filters/s  {1e6 / value:>8.1f} us/filter")
    print()
    for name in dialects:
        ours = results[f"simple 4: parse+compile+SQL text {name}"]
        base = results[f"simple 4: baseline hand-built+SQL text {name}"]
        print(f"ratio {name}: a user-written filter to SQL text takes {base / ours:.2f}x the time "
              f"of the same WHERE built by hand (baseline, same 4 simple filters)")


if __name__ == "__main__":
    main()
