"""The national view: per-city figures of the whole network, the solutions index, specialisations
and coalitions as one reads them.

Everything here is read-only and goes through the registry's models and the capabilities'
own rules (published evaluations, the multiplier figures of ``evidence.graph``). Two
functions are the points to extend:

* :func:`count_by_city` is the one place that counts what a city has, local and harvested
  (federated items count, marked with their node);
* :func:`city_row` turns one city's counts into the row the dashboard and its API show.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stadslab.core.errors import BadRequest, NotFound, field_error
from stadslab.evidence.graph import REACHED, figures
from stadslab.evidence.models import Evaluation
from stadslab.evidence.service import published
from stadslab.federation.models import FederatedItem, FederationPeer
from stadslab.governance.models import LoketRequest
from stadslab.infrastructure.service import figures_by_city
from stadslab.labs.models import Adoption, LivingLab, Project, Solution, lab_themes, project_themes, solution_themes
from stadslab.network.models import (
    CityNetworkMembership,
    CitySpecialisation,
    Coalition,
    Municipality,
    Organisation,
    Theme,
)

NETWORKS = ("G4", "G40", "other")
VERDICTS = ("improved", "no_detectable_effect", "worse")
#: Harvested item types that count in a city's figures, and the figure they add to.
FEDERATED_FIGURES = {"living_lab": "labs", "project": "projects", "adoption": "solutions_adopted"}


class UnknownFilterValue(BadRequest):
    """A filter value outside its allowed set: 400 naming the parameter, the values and what is allowed."""

    def __init__(self, param: str, values: list[str], allowed: list[str]):
        self.param, self.values, self.allowed = param, values, allowed
        msg = f"unknown {param} {', '.join(repr(v) for v in values)}; allowed: {', '.join(allowed)}"
        super().__init__(f"{param}: {msg}", errors=[{**field_error(["query", param], msg), "allowed": allowed}])


def _check(param: str, values: list[str], allowed: list[str]) -> list[str]:
    values = [v.strip() for v in values if v and v.strip()]  # an empty form field means "no filter"
    bad = [v for v in values if v not in allowed]
    if bad:
        raise UnknownFilterValue(param, bad, allowed)
    return list(dict.fromkeys(values))


# --- the dashboard --------------------------------------------------------------------------------


@dataclass
class OverviewFilters:
    province: list[str] = field(default_factory=list)
    theme: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)


def filter_options(session: Session) -> dict[str, list[str]]:
    return {"province": sorted(set(session.scalars(select(Municipality.province)))),
            "theme": list(session.scalars(select(Theme.code).order_by(Theme.position))),
            "network": list(NETWORKS)}


def overview_filters(session: Session, *, province: list[str] | None = None, theme: list[str] | None = None,
                     network: list[str] | None = None) -> OverviewFilters:
    """Checks the filter values against what exists; an unknown one is a 400 with the allowed values."""
    options = filter_options(session)
    return OverviewFilters(province=_check("province", province or [], options["province"]),
                           theme=_check("theme", theme or [], options["theme"]),
                           network=_check("network", network or [], options["network"]))


@dataclass
class CityCounts:
    labs: int = 0
    projects: int = 0
    #: adoptions that reached the city (adopted or piloting)
    solutions_adopted: int = 0
    #: projects with an evaluation, and the overall verdict of each one's latest evaluation
    evaluations: int = 0
    verdicts: Counter = field(default_factory=Counter)
    loket_requests: int = 0
    #: what harvested nodes add: node name -> figure -> count (already included in the figures above)
    by_node: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    @property
    def empty(self) -> bool:
        return not (self.labs or self.projects or self.solutions_adopted or self.loket_requests)


def overall_verdict(summary: dict[str, Any] | None) -> str | None:
    """One verdict for an evaluation from its KPI verdict counts (as the advice engine reads them)."""
    summary = summary or {}
    improved, worse = summary.get("improved", 0), summary.get("worse", 0)
    if worse > improved:
        return "worse"
    if improved > 0:
        return "improved"
    if summary.get("no_detectable_effect", 0) > 0:
        return "no_detectable_effect"
    others = [k for k, n in summary.items() if n and k not in VERDICTS and k != "not_evaluable"]
    return others[0] if others else None


def latest_verdicts(session: Session, project_ids: set[int] | None = None) -> dict[int, str | None]:
    """Project id -> overall verdict of its latest evaluation as the public may see it."""
    newest = (select(Evaluation.project_id, func.max(Evaluation.id).label("id"))
              .group_by(Evaluation.project_id))
    if project_ids is not None:
        if not project_ids:
            return {}
        newest = newest.where(Evaluation.project_id.in_(project_ids))
    ids = [row.id for row in session.execute(newest)]
    out = {}
    for ev in session.scalars(select(Evaluation).where(Evaluation.id.in_(ids))) if ids else ():
        out[ev.project_id] = overall_verdict(published(session, ev).results.get("summary"))
    return out


def count_by_city(session: Session, f: OverviewFilters) -> dict[str, CityCounts]:
    """Everything the dashboard counts, per municipality code, local and harvested, within the theme filter."""
    counts: dict[str, CityCounts] = defaultdict(CityCounts)
    themed_labs = select(lab_themes.c.living_lab_id).where(lab_themes.c.theme_code.in_(f.theme))
    themed_projects = select(project_themes.c.project_id).where(project_themes.c.theme_code.in_(f.theme))
    themed_solutions = select(solution_themes.c.solution_id).where(solution_themes.c.theme_code.in_(f.theme))

    stmt = select(LivingLab.municipality_code, func.count()).group_by(LivingLab.municipality_code)
    for code, n in session.execute(stmt.where(LivingLab.id.in_(themed_labs)) if f.theme else stmt):
        counts[code].labs += n
    stmt = select(Project.municipality_code, func.count()).group_by(Project.municipality_code)
    for code, n in session.execute(stmt.where(Project.id.in_(themed_projects)) if f.theme else stmt):
        counts[code].projects += n
    stmt = (select(Adoption.municipality_code, func.count()).where(Adoption.status.in_(REACHED))
            .group_by(Adoption.municipality_code))
    for code, n in session.execute(stmt.where(Adoption.solution_id.in_(themed_solutions)) if f.theme else stmt):
        counts[code].solutions_adopted += n

    stmt = select(Project.id, Project.municipality_code).where(Project.id.in_(select(Evaluation.project_id)))
    city_of = dict(session.execute(stmt.where(Project.id.in_(themed_projects)) if f.theme else stmt).all())
    for project_id, verdict in latest_verdicts(session, set(city_of)).items():
        counts[city_of[project_id]].evaluations += 1
        if verdict:
            counts[city_of[project_id]].verdicts[verdict] += 1

    # each request's city: its lab's, else its organisation's (outer joins: one row per request)
    city = func.coalesce(LivingLab.municipality_code, Organisation.municipality_code)
    stmt = (select(city, func.count()).select_from(LoketRequest)
            .outerjoin(LivingLab, LivingLab.id == LoketRequest.living_lab_id)
            .outerjoin(Organisation, Organisation.id == LoketRequest.organisation_id)
            .group_by(city))
    if f.theme:
        stmt = stmt.where(LoketRequest.living_lab_id.in_(themed_labs))
    for code, n in session.execute(stmt):
        if code:
            counts[code].loket_requests += n

    harvested = (select(FederatedItem.city_code, FederatedItem.item_type, FederatedItem.status,
                        FederatedItem.themes, FederationPeer.name)
                 .join(FederationPeer, FederationPeer.id == FederatedItem.peer_id)
                 .where(FederatedItem.item_type.in_(tuple(FEDERATED_FIGURES)), FederatedItem.city_code.is_not(None)))
    wanted = set(f.theme)
    for code, item_type, status, themes, node in session.execute(harvested):
        if item_type == "adoption" and status not in REACHED:
            continue
        if wanted and not wanted & set(themes or ()):
            continue
        figure = FEDERATED_FIGURES[item_type]
        setattr(counts[code], figure, getattr(counts[code], figure) + 1)
        counts[code].by_node[node][figure] += 1
    return counts


def city_row(m: Municipality, c: CityCounts, infrastructure: dict[str, Any] | None = None) -> dict[str, Any]:
    """One city's line on the dashboard (page, table and API alike); ``infrastructure`` is
    ``infrastructure.service.city_figures`` of the city (gateways, coverage share, investment)."""
    return {"infrastructure": infrastructure, "code": m.code, "name": m.name, "province": m.province, "networks": m.networks,
            "labs": c.labs, "projects": c.projects, "solutions_adopted": c.solutions_adopted,
            "evaluations": c.evaluations, "verdicts": {v: c.verdicts.get(v, 0) for v in VERDICTS},
            "loket_requests": c.loket_requests,
            "federated": {node: dict(figs) for node, figs in sorted(c.by_node.items())},
            "url": f"/steden/{m.code}"}


def _networks_of(m: Municipality) -> set[str]:
    return set(m.networks) or {"other"}


def overview(session: Session, f: OverviewFilters) -> dict[str, Any]:
    """Per city of the G4 and G40 (and every other city with content): the figures, and which have nothing."""
    counts = count_by_city(session, f)
    members = set(session.scalars(select(CityNetworkMembership.municipality_code)))
    cities = session.scalars(select(Municipality).where(Municipality.code.in_(members | set(counts)))
                             .order_by(Municipality.name))
    rows, empty = [], []
    for m in cities:
        if f.province and m.province not in f.province:
            continue
        if f.network and not _networks_of(m) & set(f.network):
            continue
        c = counts.get(m.code) or CityCounts()
        if c.empty and m.code not in members:
            continue
        (empty if c.empty else rows).append((m, c))
    joinable = _joinable_coalitions(session, f)
    infra = figures_by_city(session, [m.code for m, _c in rows])
    theme_order = list(session.scalars(select(Theme.code).order_by(Theme.position)))
    totals = Counter()
    for _m, c in rows:
        totals.update({"labs": c.labs, "projects": c.projects, "solutions_adopted": c.solutions_adopted,
                       "evaluations": c.evaluations, "loket_requests": c.loket_requests})
    return {
        "filters": {"province": f.province, "theme": f.theme, "network": f.network},
        "totals": {"cities_with_content": len(rows), "cities_without_content": len(empty), **totals},
        "cities": [city_row(m, c, infra.get(m.code)) for m, c in rows],
        "without_content": [_without_content(m, joinable, theme_order) for m, _c in empty],
        "coalitions_open": [{k: v for k, v in j.items() if k != "cities"} for j in joinable],
    }


def _without_content(m: Municipality, joinable: list[dict[str, Any]], theme_order: list[str]) -> dict[str, Any]:
    """A city with nothing registered, and the themes (with their coalitions) it could join."""
    could = [{k: v for k, v in j.items() if k != "cities"} for j in joinable if m.code not in j["cities"]]
    themes = {t for j in could for t in j["themes"]}
    return {"code": m.code, "name": m.name, "province": m.province, "networks": m.networks,
            "url": f"/steden/{m.code}", "themes_to_join": [t for t in theme_order if t in themes],
            "could_join": could}


def coalitions_to_join(session: Session, code: str) -> list[dict[str, Any]]:
    """Active coalitions the city is not in yet (a next step for a city page, above all an empty one)."""
    return [{k: v for k, v in j.items() if k != "cities"} for j in _joinable_coalitions(session, OverviewFilters())
            if code not in j["cities"]]


def _joinable_coalitions(session: Session, f: OverviewFilters) -> list[dict[str, Any]]:
    """Active coalitions (within the theme filter): what a city with nothing registered could join."""
    out = []
    for c in session.scalars(select(Coalition).where(Coalition.status == "active").order_by(Coalition.title)):
        themes = [t.code for t in c.themes]
        if f.theme and not set(themes) & set(f.theme):
            continue
        out.append({"id": c.id, "title": c.title, "themes": themes, "url": f"/coalities/{c.id}",
                    "cities": {m.code for m in c.cities}})
    return out


# --- the solutions index --------------------------------------------------------------------------

SOLUTION_SORTS = ("name", "maturity", "origin", "adopting_cities", "adoptions", "time_to_half_adoption",
                  "improved")
MATURITIES = ("pilot", "proven", "mature")


def _sort_key(field_name: str):
    def key(row):
        value = {"name": row["name"].lower(), "maturity": MATURITIES.index(row["maturity"])
                 if row["maturity"] in MATURITIES else -1,
                 "origin": (row["origin"] or {}).get("name", ""), "adopting_cities": row["adopting_cities"],
                 "adoptions": row["adoptions"], "time_to_half_adoption": row["time_to_half_adoption_days"],
                 "improved": row["evidence"]["improved"]}[field_name]
        return (value is None, value)  # no figure sorts last either way
    return key


def solutions_index(session: Session, *, sort: str | None = None, maturity: list[str] | None = None,
                    theme: list[str] | None = None, city: list[str] | None = None) -> dict[str, Any]:
    """Every solution with maturity, origin, adopting cities, multiplier figures and evidence, in one order."""
    sort = (sort or "").strip() or "-adopting_cities"
    _check("sort", [sort.lstrip("-")], list(SOLUTION_SORTS))
    maturity = _check("maturity", maturity or [], list(MATURITIES))
    theme = _check("theme", theme or [], list(session.scalars(select(Theme.code).order_by(Theme.position))))
    solutions = list(session.scalars(select(Solution).order_by(Solution.name)))
    origins = sorted({(s.origin_project.municipality_code, s.origin_project.municipality.name)
                      for s in solutions if s.origin_project is not None}, key=lambda o: o[1])
    city = _check("city", [c.strip().upper() for c in city or []], [code for code, _name in origins])
    involved = {p for s in solutions for p in [s.origin_project_id, *(a.project_id for a in s.adoptions)] if p}
    verdicts = latest_verdicts(session, involved)
    rows = []
    for s in solutions:
        if maturity and s.maturity not in maturity:
            continue
        if theme and not {t.code for t in s.themes} & set(theme):
            continue
        origin = s.origin_project.municipality if s.origin_project is not None else None
        if city and (origin is None or origin.code not in city):
            continue
        fig = figures(s)
        evidence = Counter({v: 0 for v in VERDICTS})
        for project_id in dict.fromkeys([s.origin_project_id, *(a.project_id for a in s.adoptions)]):
            verdict = verdicts.get(project_id) if project_id else None
            if verdict:
                evidence[verdict] += 1
        rows.append({"id": s.id, "name": s.name, "maturity": s.maturity, "themes": [t.code for t in s.themes],
                     "preconditions": list(s.preconditions or []),
                     "origin": {"code": origin.code, "name": origin.name} if origin else None,
                     "adopting_cities": fig["cities_reached"], "adoptions": fig["adoptions"],
                     "adoptions_by_status": fig["adoptions_by_status"],
                     "time_to_half_adoption_days": fig["time_to_adoption_days"]["median"],
                     "evidence": dict(evidence), "url": f"/oplossingen/{s.id}"})
    field_name = sort.lstrip("-")
    rows.sort(key=lambda r: r["name"].lower())
    key = _sort_key(field_name)
    if sort.startswith("-"):
        present = [r for r in rows if key(r)[0] is False]
        rows = sorted(present, key=key, reverse=True) + [r for r in rows if key(r)[0] is True]
    else:
        rows.sort(key=key)
    return {"sort": sort, "filters": {"maturity": maturity, "theme": theme, "city": city},
            "count": len(rows), "solutions": rows,
            "origins": [{"code": code, "name": name} for code, name in origins]}


# --- specialisations and coalitions ---------------------------------------------------------------


def specialisations(session: Session) -> list[dict[str, Any]]:
    """Per theme with a lead city: the lead cities and partners (the national Smart City strategy)."""
    by_theme: dict[str, dict[str, Any]] = {}
    names = dict(session.execute(select(Municipality.code, Municipality.name)).all())
    themes = {t.code: t for t in session.scalars(select(Theme))}
    for s in session.scalars(select(CitySpecialisation).order_by(CitySpecialisation.id)):
        entry = by_theme.setdefault(s.theme_code, {"theme": themes[s.theme_code], "leads": [], "partners": []})
        entry["leads"].append({"code": s.municipality_code, "name": names[s.municipality_code],
                               "label_nl": s.label_nl, "label_en": s.label_en})
        for p in s.partner_codes.split():
            if p not in {x["code"] for x in entry["partners"]}:
                entry["partners"].append({"code": p, "name": names[p]})
    ordered = sorted(by_theme.values(), key=lambda e: e["theme"].position)
    return ordered


def specialisation(session: Session, theme_code: str) -> dict[str, Any]:
    """One theme's lead and partner cities, with their labs, projects and solutions on that theme."""
    entry = next((e for e in specialisations(session) if e["theme"].code == theme_code), None)
    if entry is None:
        raise NotFound(f"No specialisation for theme {theme_code!r}")
    cities = []
    for role, group in (("lead", entry["leads"]), ("partner", entry["partners"])):
        for c in group:
            if any(x["code"] == c["code"] for x in cities):
                continue
            code = c["code"]
            # Plain rows (id, name, status): a page list needs no relationships loaded.
            labs = session.execute(select(LivingLab.id, LivingLab.name, LivingLab.status).where(
                LivingLab.municipality_code == code,
                LivingLab.id.in_(select(lab_themes.c.living_lab_id).where(lab_themes.c.theme_code == theme_code)))
                .order_by(LivingLab.name)).all()
            projects = session.execute(select(Project.id, Project.title, Project.status).where(
                Project.municipality_code == code,
                Project.id.in_(select(project_themes.c.project_id).where(project_themes.c.theme_code == theme_code)))
                .order_by(Project.title)).all()
            themed = select(solution_themes.c.solution_id).where(solution_themes.c.theme_code == theme_code)
            origin = select(Solution.id, Solution.name).join(Project, Project.id == Solution.origin_project_id).where(
                Project.municipality_code == code, Solution.id.in_(themed))
            adopted = select(Solution.id, Solution.name).join(Adoption, Adoption.solution_id == Solution.id).where(
                Adoption.municipality_code == code, Adoption.status.in_(REACHED), Solution.id.in_(themed))
            sols = {s.id: (s, "origin") for s in session.execute(origin)}
            for s in session.execute(adopted):
                sols.setdefault(s.id, (s, "adopted"))
            cities.append({**c, "role": role, "labs": labs, "projects": projects,
                           "solutions": sorted(sols.values(), key=lambda x: x[0].name)})
    return {"theme": entry["theme"], "leads": entry["leads"], "partners": entry["partners"], "cities": cities}


def coalition_view(session: Session, coalition_id: int, *, project_limit: int = 50) -> dict[str, Any]:
    """A coalition as a page shows it: members, themes, the members' projects on its themes, contact."""
    c = session.get(Coalition, coalition_id)
    if c is None:
        raise NotFound(f"No coalition with id {coalition_id}")
    codes = [m.code for m in c.cities]
    themes = [t.code for t in c.themes]
    projects = session.execute(select(Project.id, Project.title, Project.status, Municipality.name.label("city"))
                               .join(Municipality, Municipality.code == Project.municipality_code).where(
        Project.municipality_code.in_(codes),
        Project.id.in_(select(project_themes.c.project_id).where(project_themes.c.theme_code.in_(themes))))
        .order_by(Project.title).limit(project_limit)).all() if codes and themes else []
    contact = session.get(Organisation, c.owner_organisation_id) if c.owner_organisation_id else None
    if contact is None:
        contact = session.scalar(select(Organisation).where(
            Organisation.kind == "municipality", Organisation.municipality_code == c.lead_municipality_code)
            .order_by(Organisation.id).limit(1))
    lead = session.get(Municipality, c.lead_municipality_code)
    return {"coalition": c, "lead": lead, "cities": sorted(c.cities, key=lambda m: m.name),
            "organisations": sorted(c.organisations, key=lambda o: o.name), "themes": list(c.themes),
            "projects": projects, "contact": contact}
