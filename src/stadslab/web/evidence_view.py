"""What the project and solution pages show from the evidence capability.

Evaluation results (effect with its interval and verdict per KPI) and the
replication graph of a solution are turned into plain view data here; the
templates draw them as tables, lists and server-side SVG. The SVG is an extra
picture of facts that are always on the page as text (a table or a list), so
nothing depends on seeing it. Geometry is computed here because the strict
Content-Security-Policy forbids style attributes, and SVG presentation
attributes are enough to draw with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

#: Width of the interval picture in a results table (SVG user units).
INTERVAL_WIDTH = 220
#: Colour of each adoption status in the replication graph (WCAG non-text contrast ≥ 3:1 on white).
EDGE_STYLE = {
    "adopted": {"stroke": "#1e6b35", "dash": None},
    "piloting": {"stroke": "#0b4f6c", "dash": "8 4"},
    "planned": {"stroke": "#5b6975", "dash": "2 4"},
    "abandoned": {"stroke": "#b3261e", "dash": "12 4 2 4"},
}


def _axis(low: float, high: float, estimate: float) -> tuple[float, float]:
    """A symmetric-enough range around zero and the interval, so 'no effect' is always visible."""
    lo = min(low, estimate, 0.0)
    hi = max(high, estimate, 0.0)
    pad = (hi - lo) * 0.1 or 1.0
    return lo - pad, hi + pad


def interval_picture(estimate: float, low: float, high: float) -> dict[str, float]:
    lo, hi = _axis(low, high, estimate)

    def x(v: float) -> float:
        return round(10 + (v - lo) / (hi - lo) * (INTERVAL_WIDTH - 20), 1)

    return {"zero": x(0.0), "low": x(low), "high": x(high), "estimate": x(estimate), "width": INTERVAL_WIDTH}


def evaluation_view(session: Session, project_id: int, lang: str, project=None) -> dict[str, Any] | None:
    """The latest stored evaluation of a project, or None when it was never evaluated.

    With ``project``, also the disagreements between the project's own results table (or its
    "scaled up" status) and the evaluation, so the page shows both with a flag.
    """
    try:
        from stadslab.evidence.consistency import project_flags
        from stadslab.evidence.service import latest_evaluation
    except ImportError:  # the evidence capability is optional
        return None
    ev = latest_evaluation(session, project_id)
    if ev is None:
        return None
    flags = project_flags(project, ev) if project is not None else []
    results = ev.results or {}
    kpis = []
    for k in results.get("kpis", []):
        name = k.get("name") or {}
        effect = k.get("effect") or None
        item = {"name": name.get(lang) or name.get("nl") or k.get("kpi") or "", "unit": k.get("unit", ""),
                "method": k.get("method"), "status": k.get("status"), "verdict": k.get("verdict"),
                "text": (k.get("verdict_text") or {}).get(lang),
                "messages": [m.get(lang) for m in k.get("messages", []) if isinstance(m, dict) and m.get(lang)],
                "project_kpi_id": k.get("project_kpi_id"),
                "effect": effect, "picture": None}
        if effect and effect.get("low") is not None and effect.get("high") is not None:
            item["picture"] = interval_picture(float(effect["estimate"]), float(effect["low"]), float(effect["high"]))
        kpis.append(item)
    return {"id": ev.id, "evaluated_at": ev.evaluated_at, "confidence": results.get("confidence_level"),
            "summary": results.get("summary") or {}, "kpis": kpis,
            "flags": [{"kind": f["kind"], "project_kpi_id": f.get("project_kpi_id"), "text": f["message"][lang]}
                      for f in flags],
            "flagged_kpis": {f["project_kpi_id"] for f in flags if f.get("project_kpi_id")}}


@dataclass
class GraphNode:
    label: str
    sub: str
    x: float
    y: float
    url: str | None = None


@dataclass
class GraphEdge:
    path: str
    stroke: str
    dash: str | None
    status: str


@dataclass
class ReplicationGraph:
    """Origin on the left, one row per adopting city on the right, one curve per adoption."""

    width: int
    height: int
    origin: GraphNode
    adopters: list[GraphNode] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    origin_project: dict[str, Any] | None = None


def replication_graph(session: Session, solution_id: int) -> ReplicationGraph | None:
    try:
        from stadslab.evidence import graph
    except ImportError:
        return None
    g = graph.solution_graph(session, solution_id)
    nodes = {n["id"]: n for n in g["nodes"]}
    edges = [e for e in g["edges"] if e["type"] == "adopted_by"]
    origin_code = g["solution"].get("origin_municipality")
    project = next((n for n in g["nodes"] if n["type"] == "project"
                    and n["id"] == f"project:{g['solution'].get('origin_project_id')}"), None)
    row_h, top = 64, 28
    height = max(1, len(edges)) * row_h + top * 2
    origin_y = height / 2
    if origin_code:
        origin = GraphNode(nodes[f"municipality:{origin_code}"]["label"], project["label"] if project else "",
                           150, origin_y, f"/steden/{origin_code}")
    else:
        origin = GraphNode(g["solution"]["name"], "", 150, origin_y)
    out = ReplicationGraph(width=760, height=int(height), origin=origin, figures=g["figures"],
                           origin_project={"id": project["id"].split(":")[1], "title": project["label"]}
                           if project else None)
    for i, e in enumerate(edges):
        target = nodes[e["target"]]
        y = top + row_h * i + row_h / 2
        adopter = GraphNode(target["label"], e.get("status") or "", 560, y, f"/steden/{target['code']}")
        out.adopters.append(adopter)
        style = EDGE_STYLE.get(e.get("status") or "", EDGE_STYLE["planned"])
        x0, x1 = origin.x + 120, adopter.x - 12
        mid = (x0 + x1) / 2
        out.edges.append(GraphEdge(f"M{x0:.0f},{origin_y:.0f} C{mid:.0f},{origin_y:.0f} {mid:.0f},{y:.0f} {x1:.0f},{y:.0f}",
                                   style["stroke"], style["dash"], e.get("status") or ""))
        project_node = nodes.get(f"project:{e['project_id']}") if e.get("project_id") else None
        out.rows.append({"city": target["label"], "code": target["code"], "status": e.get("status"),
                         "date": e.get("date"), "outcome": e.get("outcome"),
                         "project": {"id": e["project_id"], "title": project_node["label"]} if project_node else None,
                         "days_after_origin": e.get("days_after_origin")})
    return out


def scale_advice(session: Session, solution_id: int, lang: str, limit: int = 5) -> dict[str, Any] | None:
    """'Where to scale next' from the evidence advice, or None when the capability is missing."""
    try:
        from stadslab.evidence import advice
    except ImportError:
        return None
    result = advice.advise(session, solution_id, limit=limit, lang=lang)
    message = result.get("message")
    return {"recommendations": result.get("recommendations", []),
            "message": message.get(lang) if isinstance(message, dict) else message,
            "evidence": result.get("evidence", [])}
