"""The replication graph of a solution and the national multiplier overview.

An adoption is an edge from the city where the solution was born (the origin
project's municipality) to the adopting city. Cities "reached" are those that
adopted the solution or are piloting it; planned and abandoned adoptions are
shown but not counted as reach.
"""

from __future__ import annotations

import statistics
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.labs.models import ADOPTION_STATUSES, Solution
from stadslab.labs.service import get_solution

REACHED = ("adopted", "piloting")


def _origin_date(s: Solution) -> date | None:
    """When the solution became available: its origin project's start, or else the first adoption."""
    dates = [a.adopted_on for a in s.adoptions if a.adopted_on]
    if s.origin_project is not None and s.origin_project.start_date:
        dates.append(s.origin_project.start_date)
    return min(dates) if dates else None


def figures(s: Solution) -> dict[str, Any]:
    origin_city = s.origin_project.municipality if s.origin_project is not None else None
    by_status = {st: 0 for st in ADOPTION_STATUSES}
    for a in s.adoptions:
        by_status[a.status] = by_status.get(a.status, 0) + 1
    reached = {a.municipality_code: a.municipality for a in s.adoptions if a.status in REACHED}
    other = {c: m for c, m in reached.items() if origin_city is None or c != origin_city.code}
    covered = dict(other)
    if origin_city is not None:
        covered[origin_city.code] = origin_city
    start = _origin_date(s)
    delays = sorted((a.adopted_on - start).days for a in s.adoptions
                    if a.adopted_on and start and a.status in REACHED
                    and (origin_city is None or a.municipality_code != origin_city.code))
    n = len(other)
    return {
        "adoptions": len(s.adoptions), "adoptions_by_status": by_status,
        "cities_reached": n, "spread": "spreading" if n >= 2 else "replicated_once" if n == 1 else "single_city",
        "population_reached": sum(m.population for m in covered.values()),
        "origin_date": start.isoformat() if start else None,
        "time_to_adoption_days": {"median": statistics.median(delays) if delays else None,
                                  "min": delays[0] if delays else None, "max": delays[-1] if delays else None,
                                  "values": delays},
    }


def _city_node(m, role: str) -> dict[str, Any]:
    return {"id": f"municipality:{m.code}", "type": "municipality", "label": m.name, "code": m.code,
            "province": m.province, "population": m.population, "role": role}


def solution_graph(session: Session, solution_id: int) -> dict[str, Any]:
    s = get_solution(session, solution_id)
    nodes: dict[str, dict] = {f"solution:{s.id}": {"id": f"solution:{s.id}", "type": "solution", "label": s.name}}
    edges: list[dict] = []
    origin_node = f"solution:{s.id}"
    origin_city = None
    start = _origin_date(s)
    if s.origin_project is not None:
        p = s.origin_project
        origin_city = p.municipality
        nodes[f"project:{p.id}"] = {"id": f"project:{p.id}", "type": "project", "label": p.title,
                                    "status": p.status, "municipality_code": p.municipality_code}
        nodes[f"municipality:{origin_city.code}"] = _city_node(origin_city, "origin")
        edges.append({"source": f"solution:{s.id}", "target": f"project:{p.id}", "type": "originated_in"})
        edges.append({"source": f"project:{p.id}", "target": f"municipality:{origin_city.code}", "type": "located_in"})
        origin_node = f"municipality:{origin_city.code}"
    for a in s.adoptions:
        key = f"municipality:{a.municipality_code}"
        if key not in nodes:
            nodes[key] = _city_node(a.municipality, "adopter")
        if a.project is not None and f"project:{a.project.id}" not in nodes:
            nodes[f"project:{a.project.id}"] = {"id": f"project:{a.project.id}", "type": "project",
                                                "label": a.project.title, "status": a.project.status,
                                                "municipality_code": a.project.municipality_code}
        if origin_city is not None and a.municipality_code == origin_city.code:
            continue
        edges.append({"source": origin_node, "target": key, "type": "adopted_by", "adoption_id": a.id,
                      "date": a.adopted_on.isoformat() if a.adopted_on else None, "status": a.status,
                      "outcome": a.outcome, "project_id": a.project_id,
                      "days_after_origin": (a.adopted_on - start).days if a.adopted_on and start else None})
    return {"solution": {"id": s.id, "name": s.name, "maturity": s.maturity,
                         "origin_project_id": s.origin_project_id,
                         "origin_municipality": origin_city.code if origin_city else None},
            "nodes": list(nodes.values()), "edges": edges, "figures": figures(s)}


def multiplier(session: Session) -> dict[str, Any]:
    rows = []
    for s in session.scalars(select(Solution).order_by(Solution.name)):
        f = figures(s)
        origin = s.origin_project.municipality if s.origin_project is not None else None
        rows.append({"solution": {"id": s.id, "name": s.name, "maturity": s.maturity},
                     "origin_municipality": {"code": origin.code, "name": origin.name} if origin else None,
                     "multiplier": f["cities_reached"] + (1 if origin else 0), **f})
    rows.sort(key=lambda r: (-r["cities_reached"], -r["population_reached"], r["solution"]["name"]))
    totals = {k: sum(1 for r in rows if r["spread"] == k) for k in ("spreading", "replicated_once", "single_city")}
    delays = [d for r in rows for d in r["time_to_adoption_days"]["values"]]
    return {"solutions": len(rows), "by_spread": totals,
            "median_time_to_adoption_days": statistics.median(delays) if delays else None,
            "adoptions_reaching_cities": sum(r["cities_reached"] for r in rows), "value": rows}
