"""The living-lab form in the browser, with its test offer: ``/labs/nieuw`` and ``/labs/{id}/bewerken``.

The same rule as the project form and ``PATCH /api/v1/living-labs/{id}``
(``authorize_write``): administrators edit any lab, editors the labs of their own
organisation; a new lab belongs to the editor's organisation. Input is validated by
``LivingLabIn``/``LivingLabPatch`` and ``labs.service``, so the form accepts exactly
what the API accepts; errors appear next to their fields with the input kept.
Facilities come from the infrastructure vocabulary and are shown with their labels.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from stadslab.core.auth import authorize_write
from stadslab.core.errors import StadslabError

from .auth import page_principal, require_login
from .forms import pydantic_errors, service_errors
from .i18n import language_of, translations
from .pages import _session
from .profiles import _id
from .rendering import render
from .vocabulary import INFRASTRUCTURE_LABELS, N_, label, status_label, theme_name

router = APIRouter(include_in_schema=False)

SCOPE = "registry:write"
LAB_FIELDS = ("name", "city", "status", "description", "themes", "open_to_external", "infrastructure",
              "offer_conditions", "offer_costs", "offer_how_to_apply", "contact_name", "contact_email", "website")
TEXT_FIELDS = ("name", "city", "status", "description", "offer_conditions", "offer_costs", "offer_how_to_apply",
               "contact_name", "contact_email", "website")
UNKNOWN_CITY = N_("Choose a municipality from the list.")
BAD_EMAIL = N_("Enter an e-mail address like name@example.org.")
BAD_URL = N_("Enter a web address that starts with https://.")


def _options(session, lang: str) -> dict:
    from stadslab.labs.models import INFRASTRUCTURE, LAB_STATUSES
    from stadslab.network.models import Municipality, Theme

    return {
        "city": list(session.execute(select(Municipality.code, Municipality.name).order_by(Municipality.name)).all()),
        "status": [(s, status_label(s, lang)) for s in LAB_STATUSES],
        "themes": [(t.code, theme_name(t, lang)) for t in session.scalars(select(Theme).order_by(Theme.code))],
        "infrastructure": [(c, label(INFRASTRUCTURE_LABELS, c, lang)) for c in INFRASTRUCTURE],
        "open_to_external": [("true", translations(lang).gettext("Yes")),
                             ("false", translations(lang).gettext("No"))],
    }


def _page(request: Request, session, lab, form: dict, errors: dict | None = None, status_code: int = 200):
    lang = language_of(request)
    gettext = translations(lang).gettext
    where = {"heading": gettext("Edit %(name)s") % {"name": lab.name}, "action": f"/labs/{lab.id}/bewerken",
             "back": f"/labs/{lab.id}"} if lab else {"heading": gettext("New living lab"), "action": "/labs/nieuw",
                                                     "back": "/labs"}
    return render(request, "lab_edit.html", {"lab": lab, "form": form, "errors": errors or {}, **where,
                                             "options": _options(session, lang), "no_store": True},
                  status_code=status_code, lang=lang)


def _form_of(lab) -> dict:
    return {"name": lab.name, "city": lab.municipality_code, "status": lab.status, "description": lab.description or "",
            "themes": [t.code for t in lab.themes], "infrastructure": list(lab.infrastructure or []),
            "open_to_external": "true" if lab.open_to_external else "false",
            "offer_conditions": lab.offer_conditions or "", "offer_costs": lab.offer_costs or "",
            "offer_how_to_apply": lab.offer_how_to_apply or "", "contact_name": lab.contact_name or "",
            "contact_email": lab.contact_email or "", "website": lab.website or ""}


async def _posted(request: Request) -> dict:
    data = await request.form()
    form = {name: str(data.get(name, "")) for name in TEXT_FIELDS}
    form["themes"] = [str(v) for v in data.getlist("themes")]
    form["infrastructure"] = [str(v) for v in data.getlist("infrastructure")]
    form["open_to_external"] = str(data.get("open_to_external", ""))
    return form


def _payload(form: dict) -> dict:
    out = {k: v.strip() for k, v in form.items() if k in TEXT_FIELDS}
    for optional in ("contact_name", "contact_email", "website"):
        out[optional] = out[optional] or None
    out["themes"] = form["themes"]
    out["infrastructure"] = form["infrastructure"]
    out["open_to_external"] = {"true": True, "false": False}.get(form["open_to_external"], form["open_to_external"])
    return out


def _errors(exc: ValidationError, form: dict, lang: str) -> dict:
    gettext = translations(lang).gettext
    errors = pydantic_errors(exc, lang, LAB_FIELDS)
    if "contact_email" in errors and form["contact_email"].strip():
        errors["contact_email"] = gettext(BAD_EMAIL)
    if "website" in errors and form["website"].strip():
        errors["website"] = gettext(BAD_URL)
    if "city" in errors and form["city"].strip():
        errors["city"] = gettext(UNKNOWN_CITY)
    return errors


def _done(request: Request, lab_id: int, lang: str) -> RedirectResponse:
    suffix = "&lang=en" if lang == "en" and request.query_params.get("lang") == "en" else ""
    return RedirectResponse(f"/labs/{lab_id}?melding=opgeslagen{suffix}", status_code=303)


def _save(request: Request, session, lab, form: dict, write) -> HTMLResponse | RedirectResponse:
    lang = language_of(request)
    try:
        saved = write(_payload(form))
    except ValidationError as exc:
        return _page(request, session, lab, form, _errors(exc, form, lang), 422)
    except StadslabError as exc:
        if exc.status not in (409, 422):
            raise
        session.rollback()
        known = {"city": translations(lang).gettext(UNKNOWN_CITY)}
        return _page(request, session, lab, form, service_errors(exc, lang, LAB_FIELDS, known), 422)
    return _done(request, saved.id, lang)


@router.get("/labs/nieuw", response_class=HTMLResponse)
def new_lab(request: Request):
    principal = require_login(request)
    authorize_write(principal, principal.organisation_id, SCOPE)
    with _session(request) as session:
        form = {name: "" for name in TEXT_FIELDS} | {"themes": [], "infrastructure": [], "status": "active",
                                                     "open_to_external": "true"}
        return _page(request, session, None, form)


@router.post("/labs/nieuw", response_class=HTMLResponse)
async def create_lab(request: Request):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import LivingLabIn

    principal = require_login(request)
    authorize_write(principal, principal.organisation_id, SCOPE)
    form = await _posted(request)
    with _session(request) as session:
        return _save(request, session, None, form, lambda data: labs.create_living_lab(
            session, LivingLabIn(**data, owner_organisation_id=principal.organisation_id), actor=principal))


def _editable(request: Request, session, lab_id: str):
    from stadslab.labs import service as labs

    require_login(request)  # authenticate before looking the lab up
    lab = labs.get_living_lab(session, _id(lab_id))
    authorize_write(page_principal(request), lab.owner_organisation_id, SCOPE)
    return lab


@router.get("/labs/{lab_id}/bewerken", response_class=HTMLResponse)
def edit_lab(request: Request, lab_id: str):
    with _session(request) as session:
        lab = _editable(request, session, lab_id)
        return _page(request, session, lab, _form_of(lab))


@router.post("/labs/{lab_id}/bewerken", response_class=HTMLResponse)
async def save_lab(request: Request, lab_id: str):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import LivingLabPatch

    form = await _posted(request)
    with _session(request) as session:
        lab = _editable(request, session, lab_id)
        principal = page_principal(request)
        return _save(request, session, lab, form, lambda data: labs.update_living_lab(
            session, lab.id, LivingLabPatch(**data), actor=principal))
