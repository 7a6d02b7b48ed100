"""Profile pages of the registry: cities, living labs, projects, solutions.

Each page reads through the registry services (``stadslab.labs.service``,
``stadslab.network.service``) so that what a person sees is what the API says.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from stadslab.core.auth import may_write
from stadslab.core.errors import NotFound
from stadslab.core.listing import ListParams, RegistryFilters

from . import evidence_view, queries, vocabulary
from .auth import page_principal
from .i18n import language_of, translations
from .pages import _map_payload, _session
from .rendering import render
from .vocabulary import N_

router = APIRouter(include_in_schema=False)

LIST_PAGE_SIZE = 50
SAVED = N_("Your changes have been saved.")


def _filters(city: list[str] | None = None, status: list[str] | None = None) -> RegistryFilters:
    return RegistryFilters(city=city or [], theme=[], status=status or [], q=None, modified_since=None)


def _all(lister, session, filters: RegistryFilters, **kwargs) -> list:
    rows, _total = lister(session, filters, ListParams(limit=500, offset=0, sort=None), **kwargs)
    return rows


def _id(raw: str) -> int:
    """Path ids are parsed here so that /labs/abc is a friendly 404, not a validation error."""
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(f"No item with id {raw!r}")
    return int(raw)


def _map_context(request: Request, national_map: queries.NationalMap, lang: str) -> dict:
    settings = request.app.state.settings
    return {"map": national_map, "map_json": _map_payload(national_map, lang),
            "tile_url": settings.map_tile_url or "", "tile_attribution": settings.map_tile_attribution}


@router.get("/steden/{code}", response_class=HTMLResponse)
def city_profile(request: Request, code: str):
    from stadslab.labs import service as labs
    from stadslab.network import service as network

    lang = language_of(request)
    with _session(request) as session:
        city = network.get_municipality(session, code)
        specialisations = network.specialisations_of(session, city.code)
        lab_list = _all(labs.list_living_labs, session, _filters(city=[city.code]))
        projects = _all(labs.list_projects, session, _filters(city=[city.code]))
        adoptions = _all(labs.list_adoptions, session, _filters(city=[city.code]))
        national_map = queries.national_map(session, [city.code])
        demo = queries.has_demo_content(session)
    return render(request, "city.html", {
        "city": city, "specialisations": specialisations, "labs": lab_list, "projects": projects,
        "adoptions": adoptions, "demo_notice": demo, **_map_context(request, national_map, lang),
    }, lang=lang)


@router.get("/labs", response_class=HTMLResponse)
def lab_list(request: Request):
    from stadslab.labs import service as labs

    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    with _session(request) as session:
        rows, total = labs.list_living_labs(session, _filters(),
                                            ListParams(limit=LIST_PAGE_SIZE, offset=(page - 1) * LIST_PAGE_SIZE,
                                                       sort=None))
        demo = queries.has_demo_content(session)
    pages = max(1, (total + LIST_PAGE_SIZE - 1) // LIST_PAGE_SIZE)
    return render(request, "labs.html", {
        "labs": rows, "total": total, "page": page, "pages": pages, "demo_notice": demo,
        "previous": f"/labs?page={page - 1}" if page > 1 else None,
        "next": f"/labs?page={page + 1}" if page < pages else None,
    })


@router.get("/labs/{lab_id}", response_class=HTMLResponse)
def lab_profile(request: Request, lab_id: str):
    from stadslab.labs import service as labs

    lang = language_of(request)
    with _session(request) as session:
        lab = labs.get_living_lab(session, _id(lab_id))
        projects = _all(labs.list_projects, session, _filters(), living_lab_id=lab.id)
        exemptions = _exemptions(session, lab.id)
        national_map = queries.national_map(session, [lab.municipality_code])
        national_map.labs = [m for m in national_map.labs if m.id == lab.id]
    return render(request, "lab.html", {"lab": lab, "projects": projects, "exemptions": exemptions,
                                         "demo_notice": lab.is_demo,
                                         **_map_context(request, national_map, lang)}, lang=lang)


def _exemptions(session, lab_id: int) -> list[dict]:
    """Room to experiment granted for this lab through the loket (public)."""
    from stadslab.governance import loket

    rows, _total = loket.exemptions(session, ListParams(limit=100, offset=0, sort=None), living_lab_id=lab_id)
    return [{"title": r.title, "regulation": r.regulation, "decided_at": r.decided_at, "organisation": org,
             "note": r.decision_note} for r, org, _lab in rows]


@router.get("/projecten/{project_id}", response_class=HTMLResponse)
def project_profile(request: Request, project_id: str):
    from stadslab.labs import service as labs
    from stadslab.labs.models import Solution
    from sqlalchemy import select

    lang = language_of(request)
    with _session(request) as session:
        project = labs.get_project(session, _id(project_id))
        solutions = list(session.scalars(select(Solution).where(Solution.origin_project_id == project.id)
                                         .order_by(Solution.name)))
        evaluation = evidence_view.evaluation_view(session, project.id, lang, project)
        can_edit = may_write(page_principal(request), project.owner_organisation_id, "registry:write")
        notice = (translations(lang).gettext(SAVED) if request.query_params.get("melding") == "opgeslagen"
                  else None)
        dutch_only = (vocabulary.falls_back(project, ("title", "summary"), lang)
                      or any(vocabulary.falls_back(x, ("text",), lang) for x in project.lessons)
                      or any(vocabulary.falls_back(k, ("name",), lang) for k in project.kpis))
        return render(request, "project.html", {"project": project, "solutions": solutions,
                                                 "evaluation": evaluation, "can_edit": can_edit, "notice": notice,
                                                 "dutch_only": dutch_only, "demo_notice": project.is_demo}, lang=lang)


@router.get("/oplossingen/{solution_id}", response_class=HTMLResponse)
def solution_profile(request: Request, solution_id: str):
    from stadslab.labs import service as labs

    lang = language_of(request)
    with _session(request) as session:
        solution = labs.get_solution(session, _id(solution_id))
        graph = evidence_view.replication_graph(session, solution.id)
        advice = evidence_view.scale_advice(session, solution.id, lang)
        return render(request, "solution.html", {"solution": solution, "adoptions": list(solution.adoptions),
                                                  "graph": graph, "advice": advice,
                                                  "dutch_only": vocabulary.falls_back(solution, ("name", "description"),
                                                                                      lang),
                                                  "demo_notice": solution.is_demo}, lang=lang)
