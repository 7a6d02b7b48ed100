"""Digital infrastructure in the browser: ``/infrastructuur`` (register, map with coverage, coverage
per municipality and neighbourhood) and ``/infrastructuur/investeringen`` (the investment agenda,
its totals, and a form for editors of municipalities and of the national team).

Both pages call ``stadslab.infrastructure.service`` in-process, as the API does. The investment
form follows the API's rule (``authorize_write`` on the owner organisation) and its validation
(``InvestmentIn`` and ``create_investment``): errors appear next to their fields, in the reader's
language, with what was typed kept.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from stadslab.core.auth import may_write
from stadslab.core.errors import StadslabError

from .auth import page_principal, require_login
from .forms import ordered
from .i18n import format_number, language_of, translations
from .pages import _session
from .rendering import render
from .vocabulary import N_

router = APIRouter(include_in_schema=False)

TYPE_LABELS = {"lorawan-gateway": N_("LoRaWAN gateway"), "5g-site": N_("5G site"), "fibre": N_("Fibre network"),
               "public-wifi": N_("Public Wi-Fi"), "nb-iot": N_("NB-IoT / LTE-M"), "other": N_("Other")}
OPENNESS_LABELS = {"open": N_("Open to third parties"), "community": N_("Community"), "private": N_("Private")}
STATUS_LABELS = {"planned": N_("Planned"), "building": N_("Being built"), "live": N_("Live"),
                 "retired": N_("Retired")}
PHASE_LABELS = {"idea": N_("Idea"), "committed": N_("Committed"), "realised": N_("Realised")}
PARTY_LABELS = {"state": N_("National government"), "market": N_("Market"), "regional": N_("Regional"), "local": N_("Local"),
                "eu": N_("EU")}
CHOOSE = N_("Choose a value from the list.")
NOT_NEGATIVE = N_("An amount cannot be negative.")
TOO_MUCH = N_("The contributions add up to more than the cost.")
NUMBER = N_("Enter an amount in euros, for example 250000.")
INVESTMENT_FIELDS = ("title", "technology", "phase", "cost_eur", "municipality",
                     *(f"amount_{p}" for p in PARTY_LABELS))
SCOPE = "registry:write"


def _json_block(data) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _options(labels: dict, gettext) -> list[tuple[str, str]]:
    return [(k, gettext(v)) for k, v in labels.items()]


def _euro(value: float | None, lang: str) -> str:
    """Whole euros in the reader's number format, as the project page writes budgets."""
    return "—" if value is None else f"€ {format_number(value, lang, 0)}"


def _cities(session, codes) -> dict[str, str]:
    from stadslab.network.models import Municipality

    codes = {c for c in codes if c}
    return dict(session.execute(select(Municipality.code, Municipality.name)
                                .where(Municipality.code.in_(codes))).all()) if codes else {}


@router.get("/infrastructuur", response_class=HTMLResponse)
def infrastructure_page(request: Request):
    from stadslab.infrastructure import coverage, service
    from stadslab.network.models import Municipality, Organisation

    lang = language_of(request)
    gettext = translations(lang).gettext
    q = request.query_params
    typed = {k: (q.get(k) or "").strip()[:40] for k in ("type", "city", "openness", "status")}
    errors: dict[str, str] = {}
    for key, allowed in (("type", TYPE_LABELS), ("openness", OPENNESS_LABELS), ("status", STATUS_LABELS)):
        if typed[key] and typed[key] not in allowed:
            errors[key] = gettext(CHOOSE)
    settings = request.app.state.settings
    with _session(request) as session:
        all_cities = dict(session.execute(select(Municipality.code, Municipality.name)).all())
        if typed["city"] and typed["city"] not in all_cities:
            errors["city"] = gettext(CHOOSE)
        assets = [] if errors else service.list_assets(
            session, types=[typed["type"]] if typed["type"] else [],
            municipality=[typed["city"]] if typed["city"] else [],
            openness=[typed["openness"]] if typed["openness"] else [],
            status=[typed["status"]] if typed["status"] else [])
        outs = service.assets_out(session, assets)
        coverage.refresh(session)
        cells = coverage.cells(session, municipality=typed["city"] or None)
        codes = sorted({c.municipality_code for c in cells if c.municipality_code})
        shares = [{**coverage.share(session, c), "name": all_cities.get(c, c)} for c in codes]
        neighbourhoods = service.neighbourhood_coverage(session, typed["city"] or None)
        orgs = dict(session.execute(select(Organisation.id, Organisation.name)).all())
    rows = [{"id": o.id, "name": o.name, "type": gettext(TYPE_LABELS.get(o.type, o.type)),
             "status": gettext(STATUS_LABELS.get(o.status, o.status)),
             "openness": gettext(OPENNESS_LABELS[o.openness]) if o.openness else gettext("Not described yet"),
             "observed": o.observed, "city": all_cities.get(o.municipality_code or "", "—"),
             "owner": orgs.get(o.owner_organisation_id) or "—",
             "heard": o.gateway.uplinks_heard if o.gateway else None} for o in outs]
    features = [{"type": "Feature", "geometry": coverage.cell_polygon(c.cell), "properties": {
        "kind": "coverage", "name": gettext("Coverage cell"), "gateways": c.gateways,
        "summary": gettext("%(n)s gateway(s) heard; best RSSI %(rssi)s dBm") % {"n": c.gateways,
                                                                                  "rssi": f"{c.best_rssi:g}"}}}
        for c in cells[:3000]]
    features += [{"type": "Feature", "geometry": o.geometry, "properties": {
        "kind": "asset", "name": o.name, "url": f"/api/v1/infrastructure/{o.id}",
        "summary": gettext(TYPE_LABELS.get(o.type, o.type))}} for o in outs if o.geometry]
    map_data = {"type": "FeatureCollection", "features": features,
                "labels": {"open": gettext("Open in the API"), "tiles_failed": gettext(
                    "Background map unavailable; showing outlines and points only.")}}
    filtered = {k: v for k, v in typed.items() if v}
    return render(request, "infrastructure.html", {
        "rows": rows, "typed": typed, "errors": errors, "filtered": bool(filtered),
        "options": {"type": _options(TYPE_LABELS, gettext), "openness": _options(OPENNESS_LABELS, gettext),
                    "status": _options(STATUS_LABELS, gettext),
                    "city": sorted(all_cities.items(), key=lambda kv: kv[1])},
        "shares": shares, "cells": len(cells), "neighbourhoods": neighbourhoods,
        "uncovered": service.uncovered_neighbourhoods(neighbourhoods)[:50],
        "map_json": _json_block(map_data), "has_map": bool(features),
        "tile_url": settings.map_tile_url or "", "tile_attribution": settings.map_tile_attribution,
    }, status_code=400 if errors else 200, lang=lang)


# --- investments ------------------------------------------------------------------------------

def _may_add(request: Request) -> bool:
    p = page_principal(request)
    return not p.is_anonymous and (p.role == "admin" or may_write(p, p.organisation_id, SCOPE))


def _investments_page(request: Request, form: dict, errors: dict, status_code: int = 200) -> HTMLResponse:
    from stadslab.infrastructure import service
    from stadslab.network.models import Municipality

    lang = language_of(request)
    gettext = translations(lang).gettext
    with _session(request) as session:
        found = service.list_investments(session)
        totals = service.totals(found)
        cities = dict(session.execute(select(Municipality.code, Municipality.name)).all())
    def euro(value: float | None) -> str:
        return _euro(value, lang)

    rows = []
    for inv in found:
        out = service.investment_out(inv)
        rows.append({"id": inv.id, "title": inv.title, "technology": gettext(TYPE_LABELS[inv.technology]),
                     "editable": may_write(page_principal(request), inv.owner_organisation_id, SCOPE),
                     "phase": gettext(PHASE_LABELS[inv.phase]),
                     "cities": ", ".join(cities.get(c, c) for c in out.municipalities) or "—",
                     "cost": euro(out.cost_eur), "committed": euro(out.committed_eur), "gap": euro(out.gap_eur)})
    return render(request, "investments.html", {
        "rows": rows, "form": form, "errors": errors, "may_add": _may_add(request), "no_store": True,
        "by_tech": [(gettext(TYPE_LABELS[k]), {kk: euro(vv) if kk != "investments" else vv for kk, vv in v.items()})
                    for k, v in totals["per_technology"].items()],
        "by_city": [(cities.get(k, k), {kk: euro(vv) if kk != "investments" else vv for kk, vv in v.items()})
                    for k, v in totals["per_municipality"].items()],
        "by_party": [(gettext(PARTY_LABELS[k]), euro(v["committed_eur"]), euro(v["pledged_eur"]))
                     for k, v in totals["per_party_type"].items()],
        "total": {k: euro(v) if k != "investments" else v for k, v in totals["total"].items()},
        "options": {"technology": _options(TYPE_LABELS, gettext), "phase": _options(PHASE_LABELS, gettext),
                    "municipality": sorted(cities.items(), key=lambda kv: kv[1])},
        "parties": [(k, gettext(v)) for k, v in PARTY_LABELS.items()],
    }, status_code=status_code, lang=lang)


EMPTY_FORM = {"title": "", "technology": "", "phase": "idea", "cost_eur": "", "municipality": "",
              **{f"amount_{p}": "" for p in PARTY_LABELS}}


@router.get("/infrastructuur/investeringen", response_class=HTMLResponse)
def investments_page(request: Request):
    return _investments_page(request, dict(EMPTY_FORM), {})


def _parse(form: dict, gettext) -> tuple[dict[str, str], dict[str, float]]:
    """Errors per field and the amounts typed (euros; Dutch "1.000,50" or plain "1000.5")."""
    errors: dict[str, str] = {}
    amounts: dict[str, float] = {}
    for key in ("cost_eur", *(f"amount_{p}" for p in PARTY_LABELS)):
        text = form[key].replace("€", "").replace(" ", "")
        text = text.replace(".", "").replace(",", ".") if "," in text else text
        if not text:
            continue
        try:
            amounts[key] = float(text)
        except ValueError:
            errors[key] = gettext(NUMBER)
            continue
        if amounts[key] < 0:
            errors[key] = gettext(NOT_NEGATIVE)
    if not form["title"]:
        errors["title"] = gettext("Fill in this field.")
    for key, allowed in (("technology", TYPE_LABELS), ("phase", PHASE_LABELS)):
        if form[key] not in allowed:
            errors[key] = gettext(CHOOSE)
    if "cost_eur" not in amounts and "cost_eur" not in errors:
        errors["cost_eur"] = gettext(NUMBER)
    return errors, amounts


def _save(request: Request, form: dict, investment_id: int | None = None) -> dict[str, str]:
    """Validates and stores through the service (the API's rules); returns the errors per field."""
    from stadslab.infrastructure import service
    from stadslab.infrastructure.schemas import InvestmentIn

    principal = page_principal(request)
    gettext = translations(language_of(request)).gettext
    errors, amounts = _parse(form, gettext)
    if errors:
        return errors
    contributions = [{"party_type": p, "amount_eur": amounts[f"amount_{p}"]} for p in PARTY_LABELS
                     if f"amount_{p}" in amounts]
    try:
        body = InvestmentIn(title=form["title"], technology=form["technology"], phase=form["phase"],
                            cost_eur=amounts["cost_eur"], contributions=contributions,
                            municipalities=[form["municipality"]] if form["municipality"] else [],
                            owner_organisation_id=None if investment_id else principal.organisation_id)
    except ValidationError:
        return {"title": gettext(CHOOSE)}
    with _session(request) as session:
        try:
            if investment_id is None:
                service.create_investment(session, body, principal)
            else:
                # what the form does not show stays: further municipalities, pledged amounts, links
                current = service.get_investment(session, investment_id)
                codes = [m.code for m in current.municipalities]
                rest = codes[1:] if codes else []
                pledged = [{"party_type": c.party_type, "party": c.party, "amount_eur": c.amount_eur,
                            "committed": False} for c in current.contributions if not c.committed]
                body = InvestmentIn.model_validate({
                    **body.model_dump(), "municipalities": list(dict.fromkeys(body.municipalities + rest)),
                    "contributions": [*body.model_dump()["contributions"], *pledged],
                    "asset_ids": [a.id for a in current.assets],
                    "loket_request_ids": [r.id for r in current.loket_requests]})
                service.update_investment(session, investment_id, body, principal)
        except StadslabError as exc:
            if exc.status != 422:
                raise
            session.rollback()
            loc = [str(p) for e in exc.errors or [] for p in e.get("loc", ())]
            if "municipalities" in loc:
                return {"municipality": gettext(CHOOSE)}
            if "amount_eur" in loc:
                index = int(next(p for p in loc if p.isdigit()))
                return {f"amount_{contributions[index]['party_type']}": gettext(NOT_NEGATIVE)}
            return {"cost_eur": gettext(TOO_MUCH)}
    return {}


async def _typed(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: str(data.get(k) or "").strip()[:300] for k in EMPTY_FORM}


def _done(request: Request) -> RedirectResponse:
    lang = language_of(request)
    suffix = "&lang=en" if lang == "en" and request.query_params.get("lang") == "en" else ""
    return RedirectResponse(f"/infrastructuur/investeringen?melding=opgeslagen{suffix}", status_code=303)


@router.post("/infrastructuur/investeringen", response_class=HTMLResponse)
async def add_investment(request: Request):
    require_login(request)
    form = await _typed(request)
    errors = _save(request, form)
    if errors:
        return _investments_page(request, form, ordered(errors, INVESTMENT_FIELDS), 422)
    return _done(request)


def _editable(request: Request, session, investment_id: str):
    from stadslab.infrastructure import service
    from stadslab.core.auth import authorize_write

    from .profiles import _id

    require_login(request)  # authenticate before looking the investment up
    inv = service.get_investment(session, _id(investment_id))
    authorize_write(page_principal(request), inv.owner_organisation_id, SCOPE)
    return inv


def _edit_page(request: Request, inv_id: int, title: str, form: dict, errors: dict,
               status_code: int = 200) -> HTMLResponse:
    from stadslab.network.models import Municipality

    lang = language_of(request)
    gettext = translations(lang).gettext
    with _session(request) as session:
        cities = dict(session.execute(select(Municipality.code, Municipality.name)).all())
    return render(request, "investment_edit.html", {
        "investment_id": inv_id, "title": title, "form": form, "errors": errors, "no_store": True,
        "options": {"technology": _options(TYPE_LABELS, gettext), "phase": _options(PHASE_LABELS, gettext),
                    "municipality": sorted(cities.items(), key=lambda kv: kv[1])},
        "parties": [(k, gettext(v)) for k, v in PARTY_LABELS.items()],
    }, status_code=status_code, lang=lang)


@router.get("/infrastructuur/investeringen/{investment_id}/bewerken", response_class=HTMLResponse)
def edit_investment(request: Request, investment_id: str):
    with _session(request) as session:
        inv = _editable(request, session, investment_id)
        amounts = {}
        for c in inv.contributions:
            if c.committed:
                amounts[f"amount_{c.party_type}"] = amounts.get(f"amount_{c.party_type}", 0.0) + c.amount_eur
        form = {**EMPTY_FORM, "title": inv.title, "technology": inv.technology, "phase": inv.phase,
                "cost_eur": f"{inv.cost_eur:g}", "municipality": inv.municipalities[0].code if inv.municipalities else "",
                **{k: f"{v:g}" for k, v in amounts.items()}}
        return _edit_page(request, inv.id, inv.title, form, {})


@router.post("/infrastructuur/investeringen/{investment_id}/bewerken", response_class=HTMLResponse)
async def save_investment(request: Request, investment_id: str):
    with _session(request) as session:
        inv = _editable(request, session, investment_id)
        inv_id, title = inv.id, inv.title
    form = await _typed(request)
    errors = _save(request, form, inv_id)
    if errors:
        return _edit_page(request, inv_id, title, form, ordered(errors, INVESTMENT_FIELDS), 422)
    return _done(request)
