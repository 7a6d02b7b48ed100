"""One truth about effects: where a project's own claims and its sensor evaluation disagree.

A project reports its KPIs itself (baseline, target, measured) and may call itself "scaled
up"; an evaluation measures the effect with an interval. Both are shown, never one silently
instead of the other; where they disagree, in direction or in significance, this module says
so in both languages. The project page, the evidence report and the API read the same flags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.labs.models import Project

from .evaluation import fmt, msg
from .models import Evaluation

if TYPE_CHECKING:
    from .service import PublishedEvaluation

#: What a verdict says about the direction of the change, as a self-report would say it.
_MEASURED = {"improved": "improved", "worse": "worse", "no_detectable_effect": "no_change", "inconclusive": None}
_CLAIM_WORDS = {"improved": ("verbeterd", "improved"), "worse": ("verslechterd", "worse"),
                "no_change": ("onveranderd", "unchanged")}
_VERDICT_WORDS = {"improved": ("verbeterd", "improved"), "worse": ("verslechterd", "worse"),
                  "no_detectable_effect": ("geen aantoonbaar effect", "no detectable effect"),
                  "inconclusive": ("onbeslist", "inconclusive")}


def self_reported_claim(baseline: float | None, measured: float | None, direction: str) -> str | None:
    """improved / worse / no_change from a KPI row of the project's own table (None without numbers)."""
    if baseline is None or measured is None:
        return None
    if measured == baseline:
        return "no_change"
    up = measured > baseline
    return "improved" if up == (direction == "higher") else "worse"


def _plain(x: float, lang: str) -> str:
    """A self-reported number as the project wrote it (34, 33.5), in the reader's decimal sign."""
    text = f"{x:g}"
    return text.replace(".", ",") if lang == "nl" else text


def _kpi_flag(kpi, result: dict[str, Any]) -> dict[str, Any] | None:
    claim = self_reported_claim(kpi.baseline, kpi.measured, kpi.direction)
    verdict = result.get("verdict")
    if claim is None or verdict is None or result.get("status") != "ok":
        return None
    measured = _MEASURED.get(verdict)
    if measured == claim:
        return None
    effect = result.get("effect") or {}
    name = result.get("name") or {}
    texts = {}
    for i, lang in enumerate(("nl", "en")):
        own = (f"{_plain(kpi.baseline, lang)} → {_plain(kpi.measured, lang)} {kpi.unit}"
               f" ({_CLAIM_WORDS[claim][i]})")
        ev = (f"{_VERDICT_WORDS[verdict][i]}, {fmt(effect.get('estimate', 0.0), lang, True)} {result.get('unit', '')}"
              + (f" ({fmt(effect['low'], lang, True)} … {fmt(effect['high'], lang, True)})"
                 if effect.get("low") is not None else ""))
        kname = name.get(lang) or name.get("nl") or kpi.name
        texts[lang] = (f"Tegenstrijdig: de eigen resultatentabel van het project meldt voor {kname} {own}, maar de "
                       f"evaluatie met sensordata zegt: {ev}." if lang == "nl" else
                       f"Contradiction: the project's own results table reports {own} for {kname}, but the "
                       f"evaluation with sensor data says: {ev}.")
    return {"kind": "kpi_disagrees", "project_kpi_id": kpi.id, "kpi": kpi.name,
            "self_reported": {"baseline": kpi.baseline, "measured": kpi.measured, "unit": kpi.unit,
                              "direction": kpi.direction, "claim": claim},
            "evaluation": {"verdict": verdict, "estimate": effect.get("estimate"), "low": effect.get("low"),
                           "high": effect.get("high"), "unit": result.get("unit")},
            "message": msg(texts["nl"], texts["en"])}


def project_flags(project: Project, ev: PublishedEvaluation | None) -> list[dict[str, Any]]:
    """Every disagreement between what ``project`` says of itself and its latest evaluation."""
    if ev is None:
        return []
    kpis = {k.id: k for k in project.kpis}
    results = [r for r in ev.results.get("kpis", []) if r.get("status") == "ok"]
    flags = [f for r in results if r.get("project_kpi_id") in kpis
             for f in [_kpi_flag(kpis[r["project_kpi_id"]], r)] if f]
    if project.status == "scaled" and results and not any(r.get("verdict") == "improved" for r in results):
        verdicts = sorted({r["verdict"] for r in results})
        nl = ", ".join(_VERDICT_WORDS[v][0] for v in verdicts)
        en = ", ".join(_VERDICT_WORDS[v][1] for v in verdicts)
        flags.append({"kind": "scaled_without_effect", "evaluation": {"verdicts": verdicts},
                      "message": msg(f"Opgeschaald zonder aangetoond effect: het project staat op 'opgeschaald', maar "
                                     f"de evaluatie met sensordata toont geen verbetering ({nl}).",
                                     f"Scaled up without a shown effect: the project is marked 'scaled up', but the "
                                     f"evaluation with sensor data shows no improvement ({en}).")})
    return flags


def consistency(session: Session, project: Project, ev: PublishedEvaluation | None = None) -> dict[str, Any]:
    """{consistent, flags} for one project (the latest public evaluation unless ``ev`` is given)."""
    from .service import latest_evaluation

    ev = ev if ev is not None else latest_evaluation(session, project.id)
    flags = project_flags(project, ev)
    return {"evaluation_id": ev.id if ev else None, "consistent": not flags, "flags": flags}


def flagged_projects(session: Session) -> list[dict[str, Any]]:
    """Every evaluated project whose claims and evaluation disagree, newest evaluation per project."""
    ids = sorted(set(session.scalars(select(Evaluation.project_id))))
    out = []
    for project in session.scalars(select(Project).where(Project.id.in_(ids)).order_by(Project.id)):
        c = consistency(session, project)
        if c["flags"]:
            out.append({"project": {"id": project.id, "title": project.title, "status": project.status,
                                    "municipality": project.municipality_code}, **c})
    return out
