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
from stadslab.labs.models import LivingLab

from . import evidence_view, queries, vocabulary
from .auth import page_principal
from .i18n import language_of, translations
from .pages import _map_payload, _session
from .rendering import render
from .vocabulary import INFRASTRUCTURE_LABELS, N_, label, theme_name

router = APIRouter(include_in_schema=False)

LIST_PAGE_SIZE = 50
SAVED = N_("Your changes have been saved.")
APPLIED = N_("Your application has been sent. Follow it in your inbox.")
SENT = N_("Sent to the owner for approval. Follow it in your inbox.")


def _notice(request: Request, lang: str) -> str | None:
    text = {"opgeslagen": SAVED, "ingediend": SENT}.get(request.query_params.get("melding", ""))
    return translations(lang).gettext(text) if text else None


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

    from .national import city_prospects

    lang = language_of(request)
    with _session(request) as session:
        city = network.get_municipality(session, code)  # an unknown code: the 404 page in the reader's language
        specialisations = network.specialisations_of(session, city.code)
        lab_list = _all(labs.list_living_labs, session, _filters(city=[city.code]))
        projects = _all(labs.list_projects, session, _filters(city=[city.code]))
        adoptions = _all(labs.list_adoptions, session, _filters(city=[city.code]))
        coalitions = _all(network.list_coalitions, session, _filters(city=[city.code]))
        prospects = city_prospects(session, city.code, lang)
        national_map = queries.national_map(session, [city.code])
        demo = queries.has_demo_content(session)
        harvested = _harvested(request, session, ("living_lab", "project"), city.code)
    return render(request, "city.html", {
        "city": city, "specialisations": specialisations, "labs": lab_list, "projects": projects,
        "adoptions": adoptions, "coalitions": coalitions, "prospects": prospects, "demo_notice": demo,
        "harvested": harvested, "harvested_id": "harvested-title",
        **_map_context(request, national_map, lang),
    }, lang=lang)


#: The lab directory's filters, in form order (the same names as on ``GET /api/v1/living-labs``).
LAB_FILTER_FIELDS = ("theme", "infrastructure", "city", "province", "open_to_external")
UNKNOWN_FILTER = N_("Unknown value %(value)s. Choose one of the options.")


#: At most this many harvested items of one type on a page (the merged API listing has them all).
HARVESTED_ON_A_PAGE = 100


def _harvested(request: Request, session, kinds: tuple[str, ...], city: str | None = None) -> list[dict]:
    """Items of other nodes (federation), marked with their node, for the same page."""
    from stadslab.federation import service as federation

    return [item for kind in kinds for item in federation.harvested_items(
        session, kind, city, settings=request.app.state.settings, limit=HARVESTED_ON_A_PAGE)]


@router.get("/labs", response_class=HTMLResponse)
def lab_list(request: Request):
    """The lab directory: filters in the URL (a GET form, no JavaScript), unknown values said, never ignored."""
    from sqlalchemy import select

    from stadslab.core.errors import BadRequest
    from stadslab.labs import service as labs
    from stadslab.labs.models import INFRASTRUCTURE
    from stadslab.network.models import Municipality, Theme

    lang = language_of(request)
    gettext = translations(lang).gettext
    params = request.query_params
    raw = {name: [v for v in params.getlist(name) if v.strip()] for name in LAB_FILTER_FIELDS}
    open_raw = (params.get("open_to_external") or "").strip()
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    errors: dict[str, str] = {}
    rows, total = [], 0
    with _session(request) as session:
        try:
            checked = labs.check_lab_filters(session, theme=raw["theme"], infrastructure=raw["infrastructure"],
                                             city=raw["city"], province=raw["province"],
                                             open_to_external=open_raw or None)
        except BadRequest as exc:
            for err in exc.errors or []:
                name = err["loc"][-1]
                value = err["msg"].split(";")[0].removeprefix("unknown value ")
                errors.setdefault(name, gettext(UNKNOWN_FILTER) % {"value": value})
            checked = None
        if checked is not None:
            filters = RegistryFilters(city=checked["city"], theme=checked["theme"], status=[], q=None,
                                      modified_since=None)
            rows, total = labs.list_living_labs(
                session, filters, ListParams(limit=LIST_PAGE_SIZE, offset=(page - 1) * LIST_PAGE_SIZE, sort=None),
                checked["infrastructure"], checked["open_to_external"], checked["province"])
        themes = [(t.code, theme_name(t, lang)) for t in session.scalars(select(Theme).order_by(Theme.code))]
        cities = list(session.execute(select(Municipality.code, Municipality.name).where(
            Municipality.code.in_(select(LivingLab.municipality_code))).order_by(Municipality.name)).all())
        provinces = sorted(set(session.scalars(select(Municipality.province).distinct())))
        demo = queries.has_demo_content(session)
        harvested = _harvested(request, session, ("living_lab",)) if page == 1 and not errors else []
    infra = [(code, label(INFRASTRUCTURE_LABELS, code, lang)) for code in INFRASTRUCTURE]
    pages = max(1, (total + LIST_PAGE_SIZE - 1) // LIST_PAGE_SIZE)

    def link(n: int) -> str:
        return f"/labs?{request.url.include_query_params(page=n).query}"

    return render(request, "labs.html", {
        "labs": rows, "total": total, "page": page, "pages": pages, "demo_notice": demo,
        "harvested": harvested, "harvested_id": "harvested-title",
        "previous": link(page - 1) if page > 1 else None, "next": link(page + 1) if page < pages else None,
        "errors": errors, "chosen": {**raw, "open_to_external": open_raw}, "filtered": any(raw.values()) or open_raw,
        "options": {"theme": themes, "infrastructure": infra, "city": [(c, n) for c, n in cities],
                    "province": [(p, p) for p in provinces]},
    }, status_code=400 if errors else 200, lang=lang)


@router.get("/labs/{lab_id}", response_class=HTMLResponse)
def lab_profile(request: Request, lab_id: str):
    from stadslab.labs import service as labs

    lang = language_of(request)
    with _session(request) as session:
        lab = labs.get_living_lab(session, _id(lab_id))
        projects = _all(labs.list_projects, session, _filters(), living_lab_id=lab.id)
        exemptions = _exemptions(session, lab.id)
        expiring = _expiring(request, session, lab)
        national_map = queries.national_map(session, [lab.municipality_code])
        national_map.labs = [m for m in national_map.labs if m.id == lab.id]
        can_edit = may_write(page_principal(request), lab.owner_organisation_id, "registry:write")
        from stadslab.infrastructure.service import lab_facilities
        facilities = lab_facilities(session, lab)  # assets serving the lab replace its free codes
    notices = {"opgeslagen": SAVED, "aangevraagd": APPLIED}
    notice = notices.get(request.query_params.get("melding", ""))
    return render(request, "lab.html", {"lab": lab, "projects": projects, "exemptions": exemptions,
                                         "expiring": expiring, "facilities": facilities,
                                         "demo_notice": lab.is_demo, "can_edit": can_edit,
                                         "notice": translations(lang).gettext(notice) if notice else None,
                                         **_map_context(request, national_map, lang)}, lang=lang)


def _exemptions(session, lab_id: int) -> list[dict]:
    """Room to experiment granted for this lab through the loket (public)."""
    from stadslab.governance import loket

    rows, _total = loket.exemptions(session, ListParams(limit=100, offset=0, sort=None), living_lab_id=lab_id,
                                    state="current")
    return [{"title": e.request.title, "regulation": e.request.regulation, "decided_at": e.request.decided_at,
             "organisation": e.organisation, "note": e.request.decision_note, "valid_from": e.request.valid_from,
             "valid_until": e.request.valid_until} for e in rows]


def _expiring(request: Request, session, lab) -> list[dict]:
    """For the lab's editors: its exemptions that end within 60 days (loket.expiring)."""
    from stadslab.governance import loket

    if not may_write(page_principal(request), lab.owner_organisation_id, "registry:write"):
        return []
    return [{"id": e.request.id, "title": e.request.title, "valid_until": e.request.valid_until}
            for e in loket.expiring(session, living_lab_ids=[lab.id])]


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
        notice = _notice(request, lang)
        may_contribute = may_write(page_principal(request), page_principal(request).organisation_id,
                                   "registry:write")
        pending = _pending_labs(session, page_principal(request), project.id)
        dutch_only = (vocabulary.falls_back(project, ("title", "summary"), lang)
                      or any(vocabulary.falls_back(x, ("text",), lang) for x in project.lessons)
                      or any(vocabulary.falls_back(k, ("name",), lang) for k in project.kpis))
        return render(request, "project.html", {"project": project, "solutions": solutions, "pending_labs": pending,
                                                 "may_contribute": may_contribute,
                                                 "evaluation": evaluation, "can_edit": can_edit, "notice": notice,
                                                 "dutch_only": dutch_only, "demo_notice": project.is_demo}, lang=lang)


def _pending_labs(session, principal, project_id: int) -> list:
    """Labs this project waits to be linked to: shown to the two parties only (and administrators)."""
    from sqlalchemy import select

    from stadslab.labs import moderation
    from stadslab.labs.models import ModeratedContribution

    if principal.is_anonymous:
        return []
    rows = session.scalars(select(ModeratedContribution).where(
        ModeratedContribution.project_id == project_id, ModeratedContribution.kind == "project_to_lab",
        ModeratedContribution.status == "pending"))
    return [c.living_lab for c in rows if moderation.is_party(principal, c) and c.living_lab is not None]


@router.get("/oplossingen/{solution_id}", response_class=HTMLResponse)
def solution_profile(request: Request, solution_id: str):
    from stadslab.labs import service as labs

    lang = language_of(request)
    with _session(request) as session:
        solution = labs.get_solution(session, _id(solution_id))
        graph = evidence_view.replication_graph(session, solution.id)
        advice = evidence_view.scale_advice(session, solution.id, lang)
        principal = page_principal(request)
        rights = {"edit": may_write(principal, solution.owner_organisation_id, "registry:write"),
                  "adopt": may_write(principal, principal.organisation_id, "registry:write"),
                  "adoptions": {a.id for a in solution.adoptions
                                if may_write(principal, a.owner_organisation_id, "registry:write")}}
        notice = _notice(request, lang)
        return render(request, "solution.html", {"solution": solution, "adoptions": list(solution.adoptions),
                                                  "rights": rights, "notice": notice,
                                                  "graph": graph, "advice": advice,
                                                  "dutch_only": vocabulary.falls_back(solution, ("name", "description"),
                                                                                      lang),
                                                  "demo_notice": solution.is_demo}, lang=lang)
