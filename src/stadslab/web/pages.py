"""The pages: home, search, accessibility statement, and the registry profiles."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.core.errors import StadslabError
from stadslab.network.models import Municipality, Theme

from . import queries
from .i18n import language_of, translations
from .rendering import render
from .vocabulary import N_, status_label, theme_name, type_label

router = APIRouter(include_in_schema=False)

SEARCH_PAGE_SIZE = 20
LOGGED_OUT = N_("You have been logged out.")
SEARCH_TYPES = ("project", "living_lab", "solution", "coalition", "lesson")
SEARCH_STATUSES = ("planned", "active", "closed", "idea", "pilot", "evaluated", "scaled", "stopped")


def _session(request: Request) -> Session:
    return request.app.state.db.session()


def _map_payload(national_map: queries.NationalMap, lang: str) -> str:
    """The map data as JSON for a non-executable ``<script type="application/json">`` block."""
    gettext = translations(lang).gettext
    text = json.dumps(national_map.geojson({
        "labs": gettext("Living labs"), "projects": gettext("Projects"), "lab": gettext("Living lab"),
        "city": gettext("City"), "open": gettext("Open profile"),
        "tiles_failed": gettext("Background map unavailable; showing outlines and points only."),
    }), separators=(",", ":"), ensure_ascii=False)
    # Markup characters are escaped so that data can never end or alter the script element.
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    lang = language_of(request)
    with _session(request) as session:
        figures = queries.key_figures(session)
        national_map = queries.national_map(session)
        by_status = queries.projects_by_status(session)
        demo = queries.has_demo_content(session)
    settings = request.app.state.settings
    statuses = [{"code": s, "label": status_label(s, lang), "count": by_status.get(s, 0)}
                for s in ("idea", "pilot", "evaluated", "scaled", "stopped")]
    return render(request, "home.html", {
        "figures": figures,
        "map": national_map,
        "map_json": _map_payload(national_map, lang),
        "tile_url": settings.map_tile_url or "",
        "tile_attribution": settings.map_tile_attribution,
        "statuses": statuses,
        "demo_notice": demo,
        "notice": translations(lang).gettext(LOGGED_OUT) if request.query_params.get("uitgelogd") else None,
    }, lang=lang)


def _facet_options(session: Session, facets: dict, chosen: dict[str, list[str]], lang: str) -> list[dict]:
    """Facet groups for the form: every value with a count, plus chosen values that have none."""
    theme_names = {t.code: theme_name(t, lang) for t in session.scalars(select(Theme))}
    wanted_cities = set((facets.get("city") or {}).keys()) | set(chosen["city"])
    city_names = dict(session.execute(select(Municipality.code, Municipality.name)
                                      .where(Municipality.code.in_(wanted_cities))).all()) if wanted_cities else {}
    describe = {
        "type": lambda v: type_label(v, lang),
        "theme": lambda v: theme_names.get(v, v),
        "city": lambda v: city_names.get(v, v),
        "status": lambda v: status_label(v, lang),
    }
    groups = []
    for key, legend in (("type", N_("Type")), ("theme", N_("Theme")), ("city", N_("City")),
                        ("status", N_("Status"))):
        counts = dict(facets.get(key) or {})
        for value in chosen[key]:
            counts.setdefault(value, 0)
        options = [{"value": v, "label": describe[key](v), "count": n, "checked": v in chosen[key]}
                   for v, n in counts.items()]
        options.sort(key=lambda o: (not o["checked"], -o["count"], o["label"].lower()))
        groups.append({"name": key, "legend": legend, "options": options})
    return groups


def _get(result, key, default=None):
    """Reads a search result field whether the service returns a mapping or an object."""
    if isinstance(result, dict):
        return result.get(key, default)
    return getattr(result, key, default)


@router.get("/zoeken", response_class=HTMLResponse)
def search_page(request: Request):
    lang = language_of(request)
    gettext = translations(lang).gettext
    params = request.query_params
    submitted = "q" in params
    q = (params.get("q") or "").strip()
    chosen = {"type": params.getlist("type"), "theme": params.getlist("theme"),
              "city": params.getlist("city"), "status": params.getlist("status")}
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    field_error = problem = note = None
    result_items: list = []
    harvested: list = []
    total = 0
    facets: dict = {}
    estimated = {"total": False, "facets": False}
    if submitted and not q:
        field_error = gettext("Enter one or more words to search for.")
    elif len(q) > 200:
        field_error = gettext("Use at most 200 characters.")
    with _session(request) as session:
        if q and not field_error:
            from stadslab.search.service import search

            try:
                result = search(session, q, types=chosen["type"] or None, themes=chosen["theme"] or None,
                                cities=chosen["city"] or None, statuses=chosen["status"] or None,
                                limit=SEARCH_PAGE_SIZE, offset=(page - 1) * SEARCH_PAGE_SIZE, lang=lang)
                total = _get(result, "total", 0)
                facets = _get(result, "facets", {}) or {}
                # Very large match sets are counted from a sample: shown with "≈".
                estimated = {"total": bool(_get(result, "total_is_estimate", False)),
                             "facets": bool(_get(result, "facets_estimated", False))}
                result_items = [_search_item(item, lang) for item in _get(result, "items", [])]
                if page == 1 and not any(chosen.values()):  # other nodes' items carry no facets
                    from stadslab.federation.service import harvested_search

                    harvested = harvested_search(session, q, settings=request.app.state.settings,
                                                 limit=SEARCH_PAGE_SIZE)[1]
                if _get(result, "note"):
                    note = gettext("Only very common words were entered; add a more specific word.")
            except StadslabError as exc:
                problem = exc.detail
        groups = _facet_options(session, facets, chosen, lang)
        demo = queries.has_demo_content(session)
    pages = (total + SEARCH_PAGE_SIZE - 1) // SEARCH_PAGE_SIZE
    return render(request, "search.html", {
        "q": params.get("q", ""), "submitted": submitted, "field_error": field_error, "problem": problem,
        "items": result_items, "total": total, "groups": groups, "page": page, "pages": pages,
        "page_links": _page_links(request, page, pages), "demo_notice": demo, "note": note,
        "estimated": estimated, "harvested": harvested, "harvested_id": "harvested-title",
    }, status_code=200, lang=lang)


#: Where a search hit lives in the web interface (the service returns API URLs).
WEB_URLS = {"project": "/projecten/{id}", "living_lab": "/labs/{id}", "solution": "/oplossingen/{id}",
            "coalition": "/coalities/{id}"}


def _web_url(item) -> str:
    kind, item_id = _get(item, "type", ""), _get(item, "id")
    if kind in WEB_URLS:
        return WEB_URLS[kind].format(id=item_id)
    if kind == "lesson" and _get(item, "project_id"):
        return f"/projecten/{_get(item, 'project_id')}#les-{item_id}"
    url = _get(item, "url") or ""
    # A person never lands on raw JSON: an API address is no place to send a reader.
    return url if url and not url.startswith(("/api/", "/sta/")) else "/zoeken"


def _search_item(item, lang: str) -> dict:
    kind = _get(item, "type", "")
    # The search service escapes the text and only adds <mark>: safe to insert as HTML.
    title_html = _get(item, "title_html")
    return {
        "type": kind, "type_label": type_label(kind, lang), "id": _get(item, "id"),
        "title": Markup(title_html) if title_html else _get(item, "title", ""),
        "snippet": Markup(_get(item, "snippet", "") or ""),
        "status": _get(item, "status"), "url": _web_url(item), "city_code": _get(item, "city_code"),
    }


def _page_links(request: Request, page: int, pages: int) -> dict:
    def link(n: int) -> str:
        return f"{request.url.path}?{request.url.include_query_params(page=n).query}"

    return {"previous": link(page - 1) if page > 1 else None, "next": link(page + 1) if page < pages else None}


@router.get("/toegankelijkheid", response_class=HTMLResponse)
def accessibility(request: Request):
    return render(request, "accessibility.html")
