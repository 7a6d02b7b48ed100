"""Transferability advice: where is a solution most likely to work next?

Every city gets a context profile: population and density (log scale), province,
city network (G4, G40, neither), the themes of its projects and the
infrastructure in its living labs. A candidate city scores high when it resembles
cities where the solution worked and low when it resembles cities where it
failed: failures are evidence too. Outcomes come from the registry (adopted,
piloting, abandoned, a stopped origin project) and, where a project was
evaluated with sensor data, from its latest verdicts, which weigh more.

The score is a ranking aid with an explanation, not a prediction: it says which
earlier experiences a city's situation is closest to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.labs.models import LivingLab, Project, Solution, project_themes
from stadslab.network.models import Municipality, Theme
from stadslab.network.service import get_municipality, missing_preconditions
from stadslab.labs.service import get_solution

from .service import latest_evaluation

WEIGHTS = {"population": 0.25, "density": 0.2, "province": 0.1, "network": 0.1, "themes": 0.2, "infrastructure": 0.15}
#: How much resemblance to a failure subtracts, relative to resemblance to a success.
FAILURE_PENALTY = 0.7


@dataclass
class Profile:
    code: str
    name: str
    province: str
    population: int
    density: float | None
    network: str
    themes: set[str] = field(default_factory=set)
    infrastructure: set[str] = field(default_factory=set)


def profiles(session: Session) -> dict[str, Profile]:
    out = {}
    for m in session.scalars(select(Municipality)):
        nets = m.networks
        out[m.code] = Profile(m.code, m.name, m.province, m.population, m.density,
                              "G4" if "G4" in nets else "G40" if "G40" in nets else "none")
    for code, theme in session.execute(select(Project.municipality_code, project_themes.c.theme_code)
                                       .join(project_themes, project_themes.c.project_id == Project.id)):
        out[code].themes.add(theme)
    for code, infra in session.execute(select(LivingLab.municipality_code, LivingLab.infrastructure)):
        out[code].infrastructure.update(infra or [])
    return out


def _log_sim(a: float | None, b: float | None, scale: float) -> float:
    if not a or not b:
        return 0.0
    return math.exp(-abs(math.log10(a) - math.log10(b)) / scale)


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def similarity(a: Profile, b: Profile) -> tuple[float, dict[str, float]]:
    parts = {"population": _log_sim(a.population, b.population, 0.5),
             "density": _log_sim(a.density, b.density, 0.4),
             "province": 1.0 if a.province == b.province else 0.0,
             "network": 1.0 if a.network == b.network else 0.0,
             "themes": _jaccard(a.themes, b.themes),
             "infrastructure": _jaccard(a.infrastructure, b.infrastructure)}
    return sum(WEIGHTS[k] * v for k, v in parts.items()), parts


@dataclass
class Experience:
    code: str
    worked: bool
    weight: float
    source: str


#: What a latest evaluation says about whether the solution worked in that city. Only an
#: improvement counts as "worked"; no detectable effect and worse count as not worked. An
#: inconclusive evaluation (its own assumption checks failed) says neither, and also takes away
#: the weight of a self-reported result: the measurements do not back it.
EVALUATION_SOURCES = {"improved": ("evaluation_improved", True), "worse": ("evaluation_worse", False),
                      "no_detectable_effect": ("evaluation_no_effect", False),
                      "inconclusive": ("evaluation_inconclusive", None)}


def evaluation_outcome(session: Session, project_id: int | None) -> tuple[str, bool | None] | None:
    """(source, worked) from the project's latest public evaluation, or None without one.

    ``worked`` is True (an indicator improved and none got worse), False (worse, or no
    detectable effect on any indicator) or None (inconclusive: the evaluation cannot tell).
    An evaluation whose indicators all lack data is no evaluation at all here.
    """
    ev = latest_evaluation(session, project_id) if project_id else None
    if ev is None:
        return None
    summary = ev.results.get("summary", {})
    improved, worse = summary.get("improved", 0), summary.get("worse", 0)
    if worse > improved:
        return EVALUATION_SOURCES["worse"]
    if improved:
        return EVALUATION_SOURCES["improved"]
    if summary.get("no_detectable_effect", 0):
        return EVALUATION_SOURCES["no_detectable_effect"]
    if summary.get("inconclusive", 0):
        return EVALUATION_SOURCES["inconclusive"]
    return None


def experiences(session: Session, s: Solution) -> list[Experience]:
    """Where the solution worked or did not, with how strongly the registry says so.

    A city counts as "worked" only on evidence: its latest evaluation improved, or, when no
    evaluation stands against it, an adoption whose result says so (status adopted) or an origin
    project that reports itself evaluated or scaled up. Piloting and planned adoptions are not
    results yet; an inconclusive evaluation leaves the city out.
    """
    out: dict[str, Experience] = {}

    def from_evaluation(project_id: int | None) -> Experience | None | bool:
        found = evaluation_outcome(session, project_id)
        if found is None:
            return None
        source, worked = found
        if worked is None:
            return False  # evaluated, but it cannot tell: no experience either way
        return Experience("", worked, 1.5, source)

    if s.origin_project is not None:
        p = s.origin_project
        exp = from_evaluation(p.id)
        if exp is None and p.status in ("evaluated", "scaled"):
            exp = Experience("", True, 1.0, f"origin_{p.status}")
        elif exp is None and p.status == "stopped":
            exp = Experience("", False, 1.0, "origin_stopped")
        if exp is not None and exp is not False:
            exp.code = p.municipality_code
            out[exp.code] = exp
    for a in s.adoptions:
        exp = from_evaluation(a.project_id)
        if exp is None:
            exp = {"adopted": Experience("", True, 1.0, "adopted"),
                   "abandoned": Experience("", False, 1.0, "abandoned")}.get(a.status)
        if exp is False:
            out.pop(a.municipality_code, None)
        elif exp is not None:
            exp.code = a.municipality_code
            out[exp.code] = exp
    return list(out.values())


def _theme_names(session: Session, lang: str) -> dict[str, str]:
    return {t.code: (t.name_nl if lang == "nl" else t.name_en) for t in session.scalars(select(Theme))}


#: Living-lab infrastructure codes in words (nl, en).
INFRASTRUCTURE = {
    "4g": ("4G", "4G"), "5g": ("5G", "5G"), "digital-twin": ("digitale tweeling", "digital twin"),
    "edge-computing": ("edge computing", "edge computing"),
    "ev-charging": ("laadpunten voor elektrische auto's", "EV charging"), "fibre": ("glasvezel", "fibre"),
    "lorawan": ("LoRaWAN", "LoRaWAN"), "nb-iot": ("NB-IoT", "NB-IoT"),
    "open-data-platform": ("opendataplatform", "open data platform"),
    "sensor-network": ("sensornetwerk", "sensor network"), "smart-lighting": ("slimme verlichting", "smart lighting"),
    "wifi": ("wifi", "Wi-Fi"),
}


def _reasons(c: Profile, o: Profile, parts: dict[str, float], themes: dict[str, str], lang: str) -> list[str]:
    nl = lang == "nl"
    out = []
    if parts["population"] > 0.6:
        out.append((f"vergelijkbaar inwonertal ({c.population:,} tegen {o.population:,})" if nl else
                    f"similar population ({c.population:,} vs {o.population:,})").replace(",", "." if nl else ","))
    if parts["density"] > 0.6 and c.density and o.density:
        out.append(f"vergelijkbare dichtheid ({c.density:.0f} tegen {o.density:.0f} inw./km²)" if nl else
                   f"similar density ({c.density:.0f} vs {o.density:.0f} inhabitants/km²)")
    if parts["province"]:
        out.append(f"zelfde provincie ({c.province})" if nl else f"same province ({c.province})")
    if parts["network"] and c.network != "none":
        out.append(f"beide {c.network}-stad" if nl else f"both {c.network} cities")
    shared = sorted(c.themes & o.themes)
    if shared:
        names = ", ".join(themes.get(t, t) for t in shared[:4])
        out.append(f"gedeelde thema's: {names}" if nl else f"shared themes: {names}")
    infra = sorted(c.infrastructure & o.infrastructure)
    if infra:
        names = ", ".join(INFRASTRUCTURE.get(i, (i, i))[0 if nl else 1] for i in infra[:4])
        out.append(f"gedeelde infrastructuur: {names}" if nl else f"shared infrastructure: {names}")
    return out


def _score(c: Profile, exps: list[Experience], profs: dict[str, Profile]) -> dict[str, Any]:
    best_ok = best_bad = None
    for e in exps:
        sim, parts = similarity(c, profs[e.code])
        cand = (sim * e.weight, sim, parts, e)
        if e.worked and (best_ok is None or cand[0] > best_ok[0]):
            best_ok = cand
        if not e.worked and (best_bad is None or cand[0] > best_bad[0]):
            best_bad = cand
    score = (best_ok[1] if best_ok else 0.0) - FAILURE_PENALTY * (best_bad[1] if best_bad else 0.0)
    return {"score": score, "success": best_ok, "failure": best_bad}


def _explain(c: Profile, sc: dict, profs: dict[str, Profile], themes: dict[str, str], lang: str) -> str:
    nl = lang == "nl"
    bits = []
    if sc["success"]:
        _, sim, parts, e = sc["success"]
        o = profs[e.code]
        why = _reasons(c, o, parts, themes, lang)
        bits.append((f"Lijkt op {o.name}, waar de oplossing werkte ({source_text(e.source, lang)})" if nl else
                     f"Resembles {o.name}, where the solution worked ({source_text(e.source, lang)})") +
                    (": " + "; ".join(why) if why else "") + ".")
    if sc["failure"]:
        _, sim, parts, e = sc["failure"]
        o = profs[e.code]
        if sim >= 0.5:
            why = _reasons(c, o, parts, themes, lang)
            bits.append((f"Let op: lijkt ook op {o.name}, waar het niet werkte ({source_text(e.source, lang)})" if nl else
                         f"Caution: also resembles {o.name}, where it did not work ({source_text(e.source, lang)})") +
                        (": " + "; ".join(why) if why else "") + ".")
        else:
            bits.append(f"Weinig overeenkomst met {o.name}, waar het niet werkte ({source_text(e.source, lang)})." if nl
                        else f"Little in common with {o.name}, where it did not work ({source_text(e.source, lang)}).")
    return " ".join(bits)


SOURCES = {
    "evaluation_improved": ("evaluatie: verbeterd", "evaluation: improved"),
    "evaluation_worse": ("evaluatie: verslechterd", "evaluation: worse"),
    "evaluation_no_effect": ("evaluatie: geen aantoonbaar effect", "evaluation: no detectable effect"),
    "evaluation_inconclusive": ("evaluatie: onbeslist", "evaluation: inconclusive"),
    "origin_evaluated": ("project van oorsprong geëvalueerd, volgens het project zelf",
                         "origin project evaluated, as the project reports"),
    "origin_scaled": ("project van oorsprong opgeschaald", "origin project scaled up"),
    "origin_stopped": ("project van oorsprong gestopt", "origin project stopped"),
    "adopted": ("geadopteerd, volgens de stad zelf; geen evaluatie", "adopted, as the city reports; not evaluated"),
    "abandoned": ("gestopt", "abandoned"),
}


def source_text(source: str, lang: str) -> str:
    nl, en = SOURCES.get(source, (source, source))
    return nl if lang == "nl" else en


def _exp_out(e: Experience, profs: dict[str, Profile]) -> dict[str, Any]:
    return {"municipality": {"code": e.code, "name": profs[e.code].name}, "worked": e.worked, "weight": e.weight,
            "source": e.source}


def _match(entry, profs: dict[str, Profile]) -> dict[str, Any] | None:
    if entry is None:
        return None
    _, sim, parts, e = entry
    return {"municipality": {"code": e.code, "name": profs[e.code].name}, "similarity": round(sim, 3),
            "components": {k: round(v, 3) for k, v in parts.items()}, "source": e.source}


def advise(session: Session, solution_id: int, *, limit: int = 10, lang: str = "nl") -> dict[str, Any]:
    s = get_solution(session, solution_id)
    profs = profiles(session)
    exps = experiences(session, s)
    themes = _theme_names(session, lang)
    out = {"solution": {"id": s.id, "name": s.name}, "evidence": [_exp_out(e, profs) for e in exps],
           "method": {"weights": WEIGHTS, "failure_penalty": FAILURE_PENALTY}, "recommendations": []}
    if not any(e.worked for e in exps):
        out["message"] = ({"nl": "Er is nog geen stad waar deze oplossing aantoonbaar werkte; daarom geen advies.",
                           "en": "There is no city yet where this solution worked, so there is no advice."})
        return out
    involved = {a.municipality_code for a in s.adoptions}
    if s.origin_project is not None:
        involved.add(s.origin_project.municipality_code)
    ranked = []
    cities = {m.code: m for m in session.scalars(select(Municipality))}
    unsuited = {code for code, m in cities.items() if missing_preconditions(s.preconditions, m)}
    if unsuited:
        out["preconditions"] = list(s.preconditions)
        out["excluded_for_preconditions"] = len(unsuited - involved)
    for code, c in profs.items():
        if code in involved or code in unsuited:
            continue
        sc = _score(c, exps, profs)
        ranked.append((sc["score"], code, sc))
    ranked.sort(key=lambda x: (-x[0], x[1]))
    for rank, (score, code, sc) in enumerate(ranked[:limit], start=1):
        c = profs[code]
        out["recommendations"].append({
            "rank": rank, "municipality": {"code": code, "name": c.name, "province": c.province,
                                           "population": c.population, "network": c.network},
            "score": round(score, 4), "most_similar_success": _match(sc["success"], profs),
            "most_similar_failure": _match(sc["failure"], profs),
            "explanation": _explain(c, sc, profs, themes, lang)})
    return out


def opportunities(session: Session, code: str, *, limit: int = 10, lang: str = "nl") -> dict[str, Any]:
    """Proven solutions (worked somewhere) this city has not adopted, best fit first."""
    city = get_municipality(session, code)
    profs = profiles(session)
    themes = _theme_names(session, lang)
    c = profs[city.code]
    items = []
    not_plausible = []
    for s in session.scalars(select(Solution).order_by(Solution.name)):
        involved = {a.municipality_code for a in s.adoptions}
        if s.origin_project is not None:
            involved.add(s.origin_project.municipality_code)
        if city.code in involved:
            continue
        missing = missing_preconditions(s.preconditions, city)
        if missing:  # e.g. shore power for inland ships where there is no inland port
            not_plausible.append({"solution": {"id": s.id, "name": s.name}, "missing": missing})
            continue
        exps = experiences(session, s)
        worked = [e for e in exps if e.worked]
        if not worked:
            continue
        sc = _score(c, exps, profs)
        items.append({"solution": {"id": s.id, "name": s.name, "maturity": s.maturity,
                                   "themes": [t.code for t in s.themes]},
                      "score": round(sc["score"], 4), "worked_in": len(worked),
                      "failed_in": len(exps) - len(worked),
                      "most_similar_success": _match(sc["success"], profs),
                      "most_similar_failure": _match(sc["failure"], profs),
                      "explanation": _explain(c, sc, profs, themes, lang)})
    items.sort(key=lambda x: (-x["score"], x["solution"]["name"]))
    return {"municipality": {"code": city.code, "name": city.name, "facts": list(city.facts or [])},
            "count": len(items), "opportunities": items[:limit], "not_plausible": not_plausible}
