"""Loads the demo content (labs/demo/demo.json) through the same services the API uses.

Demo rows are marked ``is_demo`` so the interface can label them and an operator
can remove them. Loading twice is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.network import service as network_service
from stadslab.network.models import Municipality
from stadslab.network.schemas import CoalitionIn, OrganisationIn

from . import service
from .models import Project
from .schemas import AdoptionIn, LivingLabIn, ProjectIn, SolutionIn


def demo_data() -> dict:
    return json.loads((resources.files("stadslab.labs") / "demo" / "demo.json").read_text(encoding="utf-8"))


def demo_loaded(session: Session) -> bool:
    return session.scalar(select(Project.id).where(Project.is_demo.is_(True)).limit(1)) is not None


def load_demo(session: Session, progress: Callable[[], None] | None = None) -> dict[str, int]:
    if demo_loaded(session):
        return {}
    data = demo_data()
    code = {m.name: m.code for m in session.scalars(select(Municipality))}
    tick = progress or (lambda: None)
    orgs, labs, projects, solutions = {}, {}, {}, {}
    for o in data["organisations"]:
        rec = {k: v for k, v in o.items() if k != "city"}
        rec["city"] = code[o["city"]] if o.get("city") else None
        orgs[o["name"]] = network_service.create_organisation(session, OrganisationIn(**rec), is_demo=True).id
        tick()
    for lab in data["living_labs"]:
        rec = {**lab, "city": code[lab["city"]]}
        labs[lab["name"]] = service.create_living_lab(session, LivingLabIn(**rec), is_demo=True).id
        tick()
    for p in data["projects"]:
        rec = {k: v for k, v in p.items() if k not in ("key", "living_lab", "partners")}
        rec["city"] = code[p["city"]]
        rec["living_lab_id"] = labs[p["living_lab"]] if p.get("living_lab") else None
        rec["partners"] = [{"organisation_id": orgs[x["organisation"]], "role": x.get("role", "partner")}
                           for x in p.get("partners", [])]
        projects[p["key"]] = service.create_project(session, ProjectIn(**rec), is_demo=True).id
        tick()
    for s in data["solutions"]:
        rec = {k: v for k, v in s.items() if k not in ("origin_project", "provider")}
        rec["origin_project_id"] = projects.get(s.get("origin_project"))
        rec["provider_organisation_id"] = orgs.get(s.get("provider"))
        solutions[s["name"]] = service.create_solution(session, SolutionIn(**rec), is_demo=True).id
        tick()
    for a in data["adoptions"]:
        rec = {k: v for k, v in a.items() if k not in ("solution", "city", "project")}
        service.create_adoption(session, AdoptionIn(solution_id=solutions[a["solution"]], city=code[a["city"]],
                                                    project_id=projects.get(a.get("project")), **rec),
                                is_demo=True)
        tick()
    for c in data["coalitions"]:
        rec = {**c, "lead_city": code[c["lead_city"]], "cities": [code[x] for x in c["cities"]],
               "organisations": [orgs[x] for x in c.get("organisations", [])]}
        network_service.create_coalition(session, CoalitionIn(**rec), is_demo=True)
        tick()
    return {"organisations": len(orgs), "living_labs": len(labs), "projects": len(projects),
            "solutions": len(solutions), "adoptions": len(data["adoptions"]),
            "coalitions": len(data["coalitions"])}


def demo_size() -> int:
    d = demo_data()
    return sum(len(d[k]) for k in ("organisations", "living_labs", "projects", "solutions", "adoptions",
                                   "coalitions"))


def own_demo_content(session: Session) -> int:
    """Give demo labs, projects, solutions and coalitions without an owner one, so each editor can edit
    their own organisation's items: the municipality of the item's city (a coalition: of its lead
    city); a solution: its provider, else the owner of the project it came from. Idempotent."""
    from stadslab.network.models import Coalition, Organisation

    from .models import LivingLab, Solution

    city_org = dict(session.execute(select(Organisation.municipality_code, Organisation.id).where(
        Organisation.kind == "municipality", Organisation.municipality_code.is_not(None))).all())
    changed = 0
    for model, code_of in ((LivingLab, lambda x: x.municipality_code), (Project, lambda x: x.municipality_code),
                           (Coalition, lambda x: x.lead_municipality_code)):
        for item in session.scalars(select(model).where(model.is_demo.is_(True),
                                                        model.owner_organisation_id.is_(None))):
            owner = city_org.get(code_of(item))
            if owner is not None:
                item.owner_organisation_id, changed = owner, changed + 1
    session.flush()
    for s in session.scalars(select(Solution).where(Solution.is_demo.is_(True),
                                                    Solution.owner_organisation_id.is_(None))):
        owner = s.provider_organisation_id or (s.origin_project.owner_organisation_id if s.origin_project else None)
        if owner is not None:
            s.owner_organisation_id, changed = owner, changed + 1
    session.commit()
    return changed
