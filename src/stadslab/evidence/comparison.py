"""Cross-city comparison: the effects a solution had in each city that evaluated it, side by side.

For the origin project and every adoption with a project, the project's latest
evaluation is read; KPIs are matched by library code (else by name and unit),
so NO2 in Rotterdam sits next to NO2 in Utrecht. Relative effects (% of the
intervention sites' baseline) make cities of different size comparable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from stadslab.labs.service import get_solution

from .service import latest_evaluation


def _participants(s) -> list[dict[str, Any]]:
    out = []
    if s.origin_project is not None:
        out.append({"role": "origin", "project": s.origin_project, "municipality": s.origin_project.municipality,
                    "adoption_status": None, "adopted_on": None})
    seen = {s.origin_project_id}
    for a in s.adoptions:
        if a.project is None or a.project_id in seen:
            continue
        seen.add(a.project_id)
        out.append({"role": "adoption", "project": a.project, "municipality": a.municipality,
                    "adoption_status": a.status, "adopted_on": a.adopted_on})
    return out


def compare(session: Session, solution_id: int) -> dict[str, Any]:
    s = get_solution(session, solution_id)
    groups: dict[tuple, dict] = {}
    missing = []
    for part in _participants(s):
        p, m = part["project"], part["municipality"]
        base = {"municipality": {"code": m.code, "name": m.name}, "project": {"id": p.id, "title": p.title},
                "role": part["role"], "adoption_status": part["adoption_status"],
                "adopted_on": part["adopted_on"].isoformat() if part["adopted_on"] else None}
        ev = latest_evaluation(session, p.id)
        if ev is None:
            missing.append({**base, "reason": {"nl": "Nog niet geëvalueerd met sensordata.",
                                               "en": "Not evaluated with sensor data yet."}})
            continue
        for r in ev.results.get("kpis", []):
            key = ("kpi", r["kpi"]) if r.get("kpi") else ("name", r["name"]["en"].lower(), r["unit"])
            g = groups.setdefault(key, {"kpi": r.get("kpi"), "name": r["name"], "unit": r["unit"],
                                        "direction": r["direction"], "cities": []})
            eff = r.get("effect") or {}
            g["cities"].append({**base, "evaluation_id": ev.id, "evaluated_at": ev.evaluated_at.isoformat(),
                                "status": r["status"], "method": r["method"], "verdict": r.get("verdict"),
                                "estimate": eff.get("estimate"), "low": eff.get("low"), "high": eff.get("high"),
                                "confidence": eff.get("confidence"), "relative_pct": eff.get("relative_pct"),
                                "unit": r["unit"], "messages": r.get("messages", [])})
    kpis = sorted(groups.values(), key=lambda g: (-len(g["cities"]), g["name"]["en"]))
    for g in kpis:
        g["cities"].sort(key=lambda c: (c["role"] != "origin", c["municipality"]["name"]))
        ok = [c for c in g["cities"] if c["status"] == "ok"]
        g["summary"] = {v: sum(1 for c in ok if c["verdict"] == v)
                        for v in ("improved", "no_detectable_effect", "worse", "inconclusive")}
        g["comparable_cities"] = len(ok)
    return {"solution": {"id": s.id, "name": s.name}, "kpis": kpis, "without_evaluation": missing}
