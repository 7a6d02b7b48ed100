"""The sensor-register entry of a sensor in the browser: ``/sensoren/{id}/register``.

The entry is the Thing's ``properties.register`` in the hub; the form reads the
Thing through the SensorThings service with the visitor's principal (a hidden
Thing is a 404 here as in the API) and saves with ``PATCH Things(id)`` through
the same service, so the hub's rules apply unchanged: editors of the Thing's
owner organisation and administrators (``authorize_write``, scope ``sta:write``),
and the register rule that a sensor processing personal data needs a purpose, a
legal ground and a retention period. The other register fields (owner
organisation, access class, precision, living lab...) are kept as they are.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from stadslab.core.auth import authorize_write
from stadslab.core.errors import NotFound, StadslabError

from . import vocabulary
from .auth import page_principal, require_login
from .forms import ordered
from .i18n import language_of, translations
from .pages import _session
from .profiles import _id
from .rendering import render
from .vocabulary import N_

router = APIRouter(include_in_schema=False)

SCOPE = "sta:write"
FIELDS = ("purpose", "sensor_type", "owner_organisation", "owner_contact", "processes_personal_data",
          "legal_ground", "retention", "privacy_statement_url")
#: Form field → its place in ``properties.register``.
REGISTER_KEYS = {"purpose": "purpose", "sensor_type": "sensor_type", "retention": "retention",
                 "privacy_statement_url": "privacy_statement_url", "legal_ground": "legal_ground",
                 "processes_personal_data": "processes_personal_data", "owner_organisation": "organisation",
                 "owner_contact": "contact"}
NEEDED_FOR_PERSONAL = N_("Required for a sensor that processes personal data.")
TOO_LONG = N_("This text is too long.")
BAD_URL = N_("Enter a web address that starts with https://.")
SAVED = N_("The register entry has been saved.")


def _thing(request: Request, session, ident: int):
    """The Thing as the visitor may see it (404 otherwise), its stored row, and its Datastreams."""
    from stadslab.sensorthings.api import dispatch
    from stadslab.sensorthings.model.tables import Thing
    from stadslab.sensorthings.read.serialize import links_for

    settings = request.app.state.settings
    links = links_for(request.headers, str(request.base_url), settings.external_base_url)
    answer = dispatch.handle(session, settings, links, "GET", f"Things({ident})",
                             [("$expand", "Datastreams($orderby=id)")], principal=page_principal(request))
    if not isinstance(answer.body, dict):
        raise NotFound(f"No sensor {ident}")
    row = session.get(Thing, ident)
    if row is None:
        raise NotFound(f"No sensor {ident}")
    return answer.body, row, links


def _page(request: Request, thing: dict, form: dict, errors: dict | None = None, status_code: int = 200):
    lang = language_of(request)
    from stadslab.sensorthings.model.tables import LEGAL_GROUNDS

    grounds = [(g, vocabulary.label(vocabulary.LEGAL_GROUNDS, g, lang)) for g in LEGAL_GROUNDS]
    gettext = translations(lang).gettext
    return render(request, "sensor_register_edit.html", {
        "thing": thing, "form": form, "errors": errors or {}, "grounds": grounds,
        "yes_no": [("false", gettext("No")), ("true", gettext("Yes"))], "no_store": True,
    }, status_code=status_code, lang=lang)


def _editable(request: Request, session, thing_id: str):
    principal = require_login(request)  # authenticate before looking the sensor up
    thing, row, links = _thing(request, session, _id(thing_id))
    authorize_write(principal, row.owner_organisation_id, SCOPE)
    return thing, row, links


@router.get("/sensoren/{thing_id}/register", response_class=HTMLResponse)
def edit_register(request: Request, thing_id: str):
    with _session(request) as session:
        thing, row, _links = _editable(request, session, thing_id)
        reg = dict(row.register or {})
        owner = reg.get("owner") or {}
        form = {"purpose": reg.get("purpose") or "", "sensor_type": reg.get("sensor_type") or "",
                "owner_organisation": owner.get("organisation") or "", "owner_contact": owner.get("contact") or "",
                "processes_personal_data": "true" if reg.get("processes_personal_data") else "false",
                "legal_ground": reg.get("legal_ground") or "", "retention": reg.get("retention") or "",
                "privacy_statement_url": reg.get("privacy_statement_url") or ""}
        return _page(request, thing, form)


def _errors(exc: StadslabError, form: dict, lang: str) -> dict[str, str]:
    gettext = translations(lang).gettext
    found: dict[str, str] = {}
    inverse = {v: k for k, v in REGISTER_KEYS.items() if k not in ("owner_organisation", "owner_contact")}
    for err in exc.errors or []:
        loc = [str(p) for p in err.get("loc", ())]
        key = loc[-1] if loc else ""
        if "owner" in loc:
            name = "owner_organisation" if key == "organisation" else "owner_contact"
        else:
            name = inverse.get(key, "")
        msg = str(err.get("msg", ""))
        if "required when processes_personal_data" in msg:
            text = gettext(NEEDED_FOR_PERSONAL)
        elif "at most" in msg:
            text = gettext(TOO_LONG)
        elif name == "privacy_statement_url":
            text = gettext(BAD_URL)
        elif name == "legal_ground":
            text = translations(lang).gettext("Choose a legal ground from the list.")
        else:
            text = exc.detail
        found.setdefault(name, text)
    if not found:
        found[""] = exc.detail
    return ordered(found, FIELDS)


def _check_personal(form: dict, lang: str) -> dict[str, str]:
    """Every missing field of the personal-data rule at once (the hub reports the first only)."""
    if form["processes_personal_data"] != "true":
        return {}
    message = translations(lang).gettext(NEEDED_FOR_PERSONAL)
    return {name: message for name in ("purpose", "legal_ground", "retention") if not form[name].strip()}


@router.post("/sensoren/{thing_id}/register", response_class=HTMLResponse)
def save_register(request: Request, thing_id: str, purpose: str = Form(""), sensor_type: str = Form(""),
                  owner_organisation: str = Form(""), owner_contact: str = Form(""),
                  processes_personal_data: str = Form("false"), legal_ground: str = Form(""),
                  retention: str = Form(""), privacy_statement_url: str = Form("")):
    from stadslab.sensorthings.api import dispatch

    lang = language_of(request)
    form = {"purpose": purpose, "sensor_type": sensor_type, "owner_organisation": owner_organisation,
            "owner_contact": owner_contact, "processes_personal_data": processes_personal_data,
            "legal_ground": legal_ground, "retention": retention, "privacy_statement_url": privacy_statement_url}
    with _session(request) as session:
        thing, row, links = _editable(request, session, thing_id)
        errors = _check_personal(form, lang)
        url = privacy_statement_url.strip()
        if url and not url.startswith(("https://", "http://")):
            errors["privacy_statement_url"] = translations(lang).gettext(BAD_URL)
        if errors:
            return _page(request, thing, form, ordered(errors, FIELDS), 422)
        reg = dict(row.register or {})
        owner = dict(reg.get("owner") or {})
        for name in FIELDS:
            value = form[name].strip()
            if name == "processes_personal_data":
                reg["processes_personal_data"] = value == "true"
            elif name.startswith("owner_"):
                owner.pop(REGISTER_KEYS[name], None) if not value else owner.__setitem__(REGISTER_KEYS[name], value)
            elif value:
                reg[REGISTER_KEYS[name]] = value
            else:
                reg.pop(REGISTER_KEYS[name], None)
        if owner:
            reg["owner"] = owner
        else:
            reg.pop("owner", None)
        properties = dict(row.properties or {}) if hasattr(row, "properties") else {}
        properties["register"] = reg
        try:
            dispatch.handle(session, request.app.state.settings, links, "PATCH", f"Things({row.id})", [],
                            {"properties": properties}, principal=page_principal(request), body_parsed=True)
        except StadslabError as exc:
            if exc.status not in (400, 409, 422):
                raise
            session.rollback()
            return _page(request, thing, form, _errors(exc, form, lang), 422)
        target = row.id
    suffix = "&lang=en" if lang == "en" and request.query_params.get("lang") == "en" else ""
    return RedirectResponse(f"/sensoren/{target}?melding=opgeslagen{suffix}", status_code=303)
