"""The national view in pages: ``/netwerk`` (dashboard), ``/oplossingen`` (solutions index),
``/coalities/{id}``, ``/specialisaties`` and ``/specialisaties/{theme}``, and the admins'
``/beheer/federatie``. The city page's opportunities and funding are built here too
(:func:`city_prospects`) and shown by ``profiles.city_profile``.

Filters and sort order travel in the URL (plain GET forms, no JavaScript needed); an unknown
value is a 400 page in the reader's language listing what is allowed, as the API says in
problem+json. Everything is read through ``stadslab.national.service`` and the capabilities'
services, so a page and its API agree.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from stadslab.national import service as national
from stadslab.network.models import Theme

from . import queries
from .auth import require_admin
from .i18n import language_of, translations
from .pages import _session
from .profiles import _id, _map_context
from .rendering import render
from .vocabulary import N_, VERDICTS, label, status_label

router = APIRouter(include_in_schema=False)

FACT_LABELS = {"seaport": N_("a seaport"), "inland_port": N_("an inland port"), "coast": N_("a coast"),
               "metro": N_("a metro")}
NETWORK_LABELS = {"G4": N_("G4"), "G40": N_("G40"), "other": N_("Other municipalities")}
FILTER_LABELS = {"province": N_("Province"), "theme": N_("Theme"), "network": N_("City network"),
                 "sort": N_("Sort by"), "maturity": N_("Maturity"), "city": N_("City of origin")}
SORT_LABELS = {"name": N_("Name"), "maturity": N_("Maturity"), "origin": N_("City of origin"),
               "adopting_cities": N_("Adopting cities"), "adoptions": N_("Adoptions"),
               "time_to_half_adoption": N_("Time to half adoption"), "improved": N_("Evaluations improved")}
#: The sort order a column header asks for first (figures: largest first).
FIRST_DIRECTION = {"name": "", "origin": "", "maturity": "-", "adopting_cities": "-", "adoptions": "-",
                   "time_to_half_adoption": "", "improved": "-"}


def _themes(session, lang: str) -> dict[str, str]:
    return {t.code: (t.name_en if lang == "en" else t.name_nl)
            for t in session.scalars(select(Theme).order_by(Theme.position))}


def _bad_filter(request: Request, lang: str, exc: national.UnknownFilterValue, names: dict[str, str]) -> HTMLResponse:
    """400 page: which parameter, which value, and what may be chosen (code and name)."""
    gettext = translations(lang).gettext

    def show(code: str) -> str:
        name = names.get(code)
        return f"{code} ({name})" if name and name != code else code

    message = gettext("Unknown value for “%(field)s”: %(values)s.") % {
        "field": gettext(FILTER_LABELS.get(exc.param, exc.param)), "values": ", ".join(exc.values)}
    return render(request, "error.html", {"status": 400, "problem": message,
                                          "allowed": [show(a) for a in exc.allowed]},
                  status_code=400, lang=lang)


# --- /netwerk -------------------------------------------------------------------------------------


@router.get("/netwerk", response_class=HTMLResponse)
def network_dashboard(request: Request):
    lang = language_of(request)
    gettext = translations(lang).gettext
    params = request.query_params
    chosen = {k: params.getlist(k) for k in ("province", "theme", "network")}
    with _session(request) as session:
        themes = _themes(session, lang)
        networks = {k: gettext(v) for k, v in NETWORK_LABELS.items()}
        try:
            f = national.overview_filters(session, **chosen)
        except national.UnknownFilterValue as exc:
            return _bad_filter(request, lang, exc, {**themes, **networks})
        data = national.overview(session, f)
        options = national.filter_options(session)
        national_map = queries.national_map(session, [c["code"] for c in data["cities"]])
        demo = queries.has_demo_content(session)
    by_code = {c["code"]: c for c in data["cities"]}
    for c in national_map.cities:  # the map says what the table says (harvested items included)
        c.labs, c.projects = by_code[c.code]["labs"], by_code[c.code]["projects"]
    groups = [
        {"name": "network", "legend": gettext(FILTER_LABELS["network"]),
         "options": [{"value": v, "label": networks[v], "checked": v in f.network} for v in options["network"]]},
        {"name": "province", "legend": gettext(FILTER_LABELS["province"]),
         "options": [{"value": v, "label": v, "checked": v in f.province} for v in options["province"]]},
        {"name": "theme", "legend": gettext(FILTER_LABELS["theme"]),
         "options": [{"value": v, "label": themes[v], "checked": v in f.theme} for v in options["theme"]]},
    ]
    return render(request, "network.html", {
        "data": data, "groups": groups, "themes": themes, "filtered": any(chosen.values()),
        "api_url": "/api/v1/network/overview" + (f"?{request.url.query}" if request.url.query else ""),
        "demo_notice": demo, **_map_context(request, national_map, lang),
    }, lang=lang)


# --- /oplossingen ---------------------------------------------------------------------------------


@router.get("/oplossingen", response_class=HTMLResponse)
def solutions_index(request: Request):
    lang = language_of(request)
    gettext = translations(lang).gettext
    params = request.query_params
    sort = params.get("sort") or None
    chosen = {k: params.getlist(k) for k in ("maturity", "theme", "city")}
    with _session(request) as session:
        themes = _themes(session, lang)
        names = {**themes, **{k: gettext(v) for k, v in SORT_LABELS.items()},
                 **{m: status_label(m, lang) for m in national.MATURITIES}}
        try:
            data = national.solutions_index(session, sort=sort, **chosen)
        except national.UnknownFilterValue as exc:
            return _bad_filter(request, lang, exc, names)
        demo = queries.has_demo_content(session)
    current = data["sort"]
    kept = [(k, v) for k, v in params.multi_items() if k not in ("sort", "lang")]

    def sort_link(field: str) -> dict:
        active = current.lstrip("-") == field
        wanted = (("" if current.startswith("-") else "-") + field) if active else FIRST_DIRECTION[field] + field
        return {"field": field, "label": gettext(SORT_LABELS[field]), "href": "/oplossingen?" + urlencode(
            [*kept, ("sort", wanted)]), "aria_sort": ("descending" if current.startswith("-") else "ascending")
                if active else None}

    groups = [
        {"name": "maturity", "legend": gettext(FILTER_LABELS["maturity"]),
         "options": [{"value": v, "label": status_label(v, lang), "checked": v in data["filters"]["maturity"]}
                     for v in national.MATURITIES]},
        {"name": "theme", "legend": gettext(FILTER_LABELS["theme"]),
         "options": [{"value": v, "label": n, "checked": v in data["filters"]["theme"]} for v, n in themes.items()]},
        {"name": "city", "legend": gettext(FILTER_LABELS["city"]),
         "options": [{"value": o["code"], "label": o["name"], "checked": o["code"] in data["filters"]["city"]}
                     for o in data["origins"]]},
    ]
    return render(request, "solutions.html", {
        "data": data, "groups": groups, "themes": themes, "sort_links": {f: sort_link(f) for f in SORT_LABELS},
        "sort_options": [{"value": (FIRST_DIRECTION[f] + f), "label": gettext(SORT_LABELS[f]),
                          "selected": current.lstrip("-") == f} for f in SORT_LABELS],
        "verdict_labels": {v: label(VERDICTS, v, lang) for v in national.VERDICTS},
        "api_url": "/api/v1/network/solutions" + (f"?{request.url.query}" if request.url.query else ""),
        "demo_notice": demo,
    }, lang=lang)


# --- coalitions and specialisations ---------------------------------------------------------------


@router.get("/coalities/{coalition_id}", response_class=HTMLResponse)
def coalition_page(request: Request, coalition_id: str):
    lang = language_of(request)
    with _session(request) as session:
        view = national.coalition_view(session, _id(coalition_id))
        led = {e["theme"].code for e in national.specialisations(session)}
        return render(request, "coalition.html", {**view, "specialised": led,
                                                   "demo_notice": view["coalition"].is_demo}, lang=lang)


@router.get("/specialisaties", response_class=HTMLResponse)
def specialisation_index(request: Request):
    lang = language_of(request)
    with _session(request) as session:
        entries = national.specialisations(session)
        return render(request, "specialisations.html", {"entries": entries}, lang=lang)


@router.get("/specialisaties/{theme_code}", response_class=HTMLResponse)
def specialisation_page(request: Request, theme_code: str):
    lang = language_of(request)
    with _session(request) as session:
        view = national.specialisation(session, theme_code)
        demo = queries.has_demo_content(session)
        return render(request, "specialisation.html", {**view, "demo_notice": demo}, lang=lang)


# --- the city page's prospects --------------------------------------------------------------------


def _days_text(days: int | None, lang: str) -> str | None:
    t = translations(lang)
    if days is None:
        return None
    if days <= 0:
        return t.gettext("the deadline is today")
    return t.ngettext("deadline in %(n)s day", "deadline in %(n)s days", days) % {"n": days}


def funding_explanation(match: dict, themes: dict[str, str], lang: str) -> str:
    """Why a call fits a project, in the reader's language (theme names, not codes)."""
    t = translations(lang)
    parts = []
    if match["shared_themes"]:
        parts.append(t.gettext("shared themes: %(themes)s") % {
            "themes": ", ".join(themes.get(c, c) for c in match["shared_themes"])})
    if match["common_terms"]:
        parts.append(t.gettext("words in common: %(terms)s") % {"terms": ", ".join(match["common_terms"])})
    days = _days_text(match.get("days_left"), lang)
    if days:
        parts.append(days)
    return "; ".join(parts)


def city_prospects(session, code: str, lang: str) -> dict:
    """What could work here next (advice, only what is plausible) and open calls for the city's projects."""
    from stadslab.evidence import advice
    from stadslab.interop.service import city_matches

    gettext = translations(lang).gettext
    themes = _themes(session, lang)
    opp = advice.opportunities(session, code, limit=5, lang=lang)
    calls = city_matches(session, code, limit=5)
    for call in calls:
        for p in call["projects"]:
            p["explanation_text"] = funding_explanation(p, themes, lang)
    not_plausible = [{"solution": x["solution"],
                      "missing": ", ".join(gettext(FACT_LABELS.get(m, m)) for m in x["missing"])}
                     for x in opp.get("not_plausible", [])]
    return {"opportunities": opp["opportunities"], "opportunity_count": opp["count"],
            "coalitions_to_join": national.coalitions_to_join(session, code), "themes": themes,
            "not_plausible": not_plausible, "funding": calls,
            "facts": [gettext(FACT_LABELS.get(f, f)) for f in opp["municipality"].get("facts", [])]}


# --- /beheer/federatie ----------------------------------------------------------------------------


@router.get("/beheer/federatie", response_class=HTMLResponse)
def federation_admin(request: Request):
    from stadslab.federation import service as federation

    principal = require_admin(request)
    lang = language_of(request)
    with _session(request) as session:
        peers = [{"peer": p, "health": federation.peer_health(session, p.id)}
                 for p in federation.list_peers(session, principal)]
    return render(request, "admin/federation.html", {"peers": peers, "no_store": True}, lang=lang)
