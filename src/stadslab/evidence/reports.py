"""HTML evidence reports per project and per solution (Jinja2, inline SVG, print CSS).

Reports read stored evaluations only; they never run the engine, so a report
shows exactly what was evaluated and when.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone
from importlib import resources

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from stadslab.labs.service import get_project, get_solution

from . import advice, charts, comparison, consistency, graph
from .evaluation import fmt
from .models import ExperimentDesign
from .service import code_version, evaluations, latest_evaluation

_env = Environment(loader=PackageLoader("stadslab.evidence", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)

#: The report stylesheet is inlined (a report is one self-contained, printable file) and
#: allowed by its hash in the report's own Content-Security-Policy, never by 'unsafe-inline'.
CSS = (resources.files("stadslab.evidence") / "templates" / "report.css").read_text(encoding="utf-8")
HEADERS = {"Content-Security-Policy": (
    f"default-src 'none'; style-src 'sha256-{base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()}'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")}

VERDICTS = {"nl": {"improved": "verbeterd", "no_detectable_effect": "geen aantoonbaar effect", "worse": "verslechterd",
                   "inconclusive": "onbeslist", None: "—"},
            "en": {"improved": "improved", "no_detectable_effect": "no detectable effect", "worse": "worse",
                   "inconclusive": "inconclusive", None: "—"}}
METHODS = {"nl": {"difference_in_differences": "verschil-in-verschillen met controlelocaties",
                  "before_after": "voor-na-vergelijking (geen controlelocaties)"},
           "en": {"difference_in_differences": "difference in differences against control sites",
                  "before_after": "before/after comparison (no control sites)"}}
#: Registry statuses in the report's language (codes stay English in the data and the API).
STATUSES = {
    "nl": {"idea": "idee", "pilot": "pilot", "evaluated": "geëvalueerd", "scaled": "opgeschaald", "stopped": "gestopt",
           "planned": "gepland", "piloting": "in pilot", "adopted": "geadopteerd", "abandoned": "gestopt",
           "active": "actief", "closed": "gesloten", "proven": "bewezen", "mature": "volwassen"},
    "en": {"idea": "idea", "pilot": "pilot", "evaluated": "evaluated", "scaled": "scaled up", "stopped": "stopped",
           "planned": "planned", "piloting": "piloting", "adopted": "adopted", "abandoned": "abandoned",
           "active": "active", "closed": "closed", "proven": "proven", "mature": "mature"},
}
GROUPS = {"nl": {"intervention": "Interventielocaties", "control": "Controlelocaties"},
          "en": {"intervention": "Intervention sites", "control": "Control sites"}}


def _helpers(lang: str) -> dict:
    def t(nl: str, en: str) -> str:
        return nl if lang == "nl" else en

    def num(v, signed: bool = False) -> str:
        return "—" if v is None else fmt(float(v), lang, signed)

    def pct(v) -> str:
        return "—" if v is None else f"{v * 100:.0f}%"

    return {"t": t, "num": num, "pct": pct, "lang": lang, "int": lambda v: f"{int(v):,}".replace(",", "." if lang == "nl" else ","),
            "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "code_version": code_version(),
            "css": CSS, "verdicts": VERDICTS[lang], "methods": METHODS[lang], "groups": GROUPS[lang],
            "status": lambda code: STATUSES[lang].get(code or "", code or "—")}


def _kpi_chart(k: dict, idx: int, lang: str) -> str:
    s = k.get("series") or {}
    groups = [g for g in ("intervention", "control") if g in s]
    if not groups or not s.get("buckets"):
        return ""
    names = GROUPS[lang]
    title = (f"{k['name'][lang]} per dag" if lang == "nl" else f"{k['name'][lang]} per day")
    start = s.get("intervention_start")
    desc = (f"Daggemiddelden van {', '.join(names[g].lower() for g in groups)} van {s['buckets'][0]} tot "
            f"{s['buckets'][-1]}; de interventie begint op {start}. De cijfers staan in de tabel ernaast."
            if lang == "nl" else
            f"Daily means of the {', '.join(names[g].lower() for g in groups)} from {s['buckets'][0]} to "
            f"{s['buckets'][-1]}; the intervention starts on {start}. The figures are in the table alongside.")
    return charts.time_series(f"ts{idx}", s["buckets"], {g: s[g] for g in groups}, start, k["unit"], title, desc,
                              names, lang)


def project_report(session: Session, project_id: int, lang: str = "nl") -> str:
    project = get_project(session, project_id)
    row = session.get(ExperimentDesign, project_id)
    ev = latest_evaluation(session, project_id)
    kpis = []
    if ev is not None:
        for i, k in enumerate(ev.results.get("kpis", [])):
            kpis.append({**k, "chart": _kpi_chart(k, i, lang)})
    h = _helpers(lang)
    title = (f"Bewijs: {project.title}" if lang == "nl" else f"Evidence: {project.title}")
    return _env.get_template("project_report.html").render(
        title=title, project=project, design=row.design if row else None, evaluation=ev, kpis=kpis,
        flags=consistency.project_flags(project, ev),
        history=evaluations(session, project_id)["history"], **h)


def solution_report(session: Session, solution_id: int, lang: str = "nl") -> str:
    s = get_solution(session, solution_id)
    cmp = comparison.compare(session, solution_id)
    for i, k in enumerate(cmp["kpis"]):
        rows = [{"label": c["municipality"]["name"], "estimate": c["estimate"], "low": c["low"], "high": c["high"],
                 "verdict": c["verdict"]} for c in k["cities"]]
        title = (f"Effect op {k['name'][lang]} per stad" if lang == "nl" else f"Effect on {k['name'][lang]} per city")
        desc = ("Per stad het geschatte effect (punt) met betrouwbaarheidsinterval (lijn); de verticale lijn is nul. "
                "De cijfers staan in de tabel ernaast." if lang == "nl" else
                "Per city the estimated effect (dot) with its confidence interval (line); the vertical line is zero. "
                "The figures are in the table alongside.")
        k["chart"] = charts.effects(f"fx{i}", rows, k["unit"], title, desc, lang)
    g = graph.solution_graph(session, solution_id)
    adv = advice.advise(session, solution_id, limit=5, lang=lang)
    h = _helpers(lang)
    title = (f"Bewijs en verspreiding: {s.name}" if lang == "nl" else f"Evidence and replication: {s.name}")
    return _env.get_template("solution_report.html").render(
        title=title, solution=s, comparison=cmp, graph=g, nodes={n["id"]: n for n in g["nodes"]}, advice=adv, **h)
