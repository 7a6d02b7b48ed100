"""Moderated contributions in the browser: the inbox (``/inbox``) and applying to test (``/labs/{id}/testen``).

The inbox shows what other organisations attached to the own organisation's
content (to accept or decline, for its editors) and what the own organisation
attached elsewhere (to follow). Everything goes through ``stadslab.labs.moderation``,
exactly as ``/api/v1/contributions`` does: who is a party, who decides, 404 for
anyone else, 409 for a decision already taken.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from stadslab.core.auth import require_scope
from stadslab.core.errors import StadslabError
from stadslab.core.listing import ListParams

from .auth import page_principal, require_login
from .editing import _reversed
from .forms import END_BEFORE_START, ordered, pydantic_errors
from .i18n import language_of, translations
from .pages import _session
from .profiles import _id
from .rendering import render
from .vocabulary import N_

router = APIRouter(include_in_schema=False)

MAX_LISTED = 200
DECIDED = {"accept": N_("The contribution has been accepted."), "decline": N_("The contribution has been declined.")}
ALREADY = N_("This contribution has already been decided.")
APPLY_FIELDS = ("contact_name", "contact_email", "what", "start_date", "end_date")
NOT_OPEN = N_("This living lab is not open to outside parties.")


def _lang_suffix(request: Request, lang: str, first: bool = True) -> str:
    if lang == "en" and request.query_params.get("lang") == "en":
        return ("?" if first else "&") + "lang=en"
    return ""


def _rows(contributions, principal) -> list[dict]:
    from stadslab.labs import moderation

    return [{"c": c, "may_decide": moderation.may_decide(principal, c)} for c in contributions]


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request):
    from stadslab.labs import moderation

    principal = require_login(request)
    lang = language_of(request)
    gettext = translations(lang).gettext
    listing = ListParams(limit=MAX_LISTED, offset=0, sort=None)
    with _session(request) as session:
        incoming, _n = moderation.list_contributions(session, principal, listing, direction="incoming")
        outgoing, _m = (moderation.list_contributions(session, principal, listing, direction="outgoing")
                        if principal.organisation_id is not None else ([], 0))
        notice = request.query_params.get("melding")
        message = gettext(DECIDED[notice]) if notice in DECIDED else (
            gettext(ALREADY) if notice == "al-besloten" else None)
        return render(request, "inbox.html", {
            "pending": _rows([c for c in incoming if c.status == "pending"], principal),
            "decided": _rows([c for c in incoming if c.status != "pending"], principal),
            "outgoing": _rows(outgoing, principal), "notice": message, "no_store": True,
        }, lang=lang)


@router.post("/inbox/{contribution_id}/besluit", response_class=HTMLResponse)
def decide(request: Request, contribution_id: str, action: str = Form(""), note: str = Form("")):
    """Accept or decline (the owner's editors); the page comes back with what happened."""
    from stadslab.core.errors import BadRequest, Conflict
    from stadslab.labs import moderation

    principal = require_login(request)
    lang = language_of(request)
    if action not in ("accept", "decline"):
        raise BadRequest("action: choose accept or decline")
    with _session(request) as session:
        try:
            moderation.decide(session, _id(contribution_id), action == "accept", actor=principal,
                              note=note.strip()[:2000])
        except Conflict:
            return RedirectResponse(f"/inbox?melding=al-besloten{_lang_suffix(request, lang, False)}",
                                    status_code=303)
    return RedirectResponse(f"/inbox?melding={action}{_lang_suffix(request, lang, False)}", status_code=303)


# --- applying to test ----------------------------------------------------------------------------


def _apply_page(request: Request, lab, form: dict, errors: dict | None = None, status_code: int = 200):
    return render(request, "lab_apply.html", {"lab": lab, "form": form, "errors": errors or {}, "no_store": True},
                  status_code=status_code, lang=language_of(request))


def _applicant(request: Request):
    """Applying needs an account that may write for its organisation (the API's ``registry:write``)."""
    return require_scope(require_login(request), "registry:write")


@router.get("/labs/{lab_id}/testen", response_class=HTMLResponse)
def apply_form(request: Request, lab_id: str):
    from stadslab.governance.models import User
    from stadslab.labs import service as labs

    principal = _applicant(request)
    with _session(request) as session:
        lab = labs.get_living_lab(session, _id(lab_id))
        user = session.get(User, principal.user_id) if principal.user_id else None
        form = {"contact_name": (user.display_name or "") if user else "", "contact_email": user.email if user else "",
                "what": "", "start_date": "", "end_date": ""}
        return _apply_page(request, lab, form)


@router.post("/labs/{lab_id}/testen", response_class=HTMLResponse)
def apply_send(request: Request, lab_id: str, contact_name: str = Form(""), contact_email: str = Form(""),
               what: str = Form(""), start_date: str = Form(""), end_date: str = Form("")):
    from stadslab.labs import moderation
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import TestApplicationIn

    principal = _applicant(request)
    lang = language_of(request)
    gettext = translations(lang).gettext
    form = {"contact_name": contact_name, "contact_email": contact_email.strip(), "what": what,
            "start_date": start_date.strip(), "end_date": end_date.strip()}
    with _session(request) as session:
        lab = labs.get_living_lab(session, _id(lab_id))
        try:
            data = TestApplicationIn(**{k: (v or None) if k.endswith("_date") else v for k, v in form.items()})
        except ValidationError as exc:
            errors = pydantic_errors(exc, lang, APPLY_FIELDS)
            if "contact_email" in errors and form["contact_email"]:
                errors["contact_email"] = gettext("Enter an e-mail address like name@example.org.")
            if not errors.get("end_date") and _reversed(form["start_date"], form["end_date"]):
                errors = ordered({**errors, "end_date": gettext(END_BEFORE_START)}, APPLY_FIELDS)
            return _apply_page(request, lab, form, errors, 422)
        try:
            moderation.apply_to_test(session, lab.id, data, actor=principal)
        except StadslabError as exc:
            if exc.status != 409:
                raise
            session.rollback()
            lab = labs.get_living_lab(session, lab.id)
            return _apply_page(request, lab, form, {"": gettext(NOT_OPEN)}, 409)
        target = lab.id
    return RedirectResponse(f"/labs/{target}?melding=aangevraagd{_lang_suffix(request, lang, False)}",
                            status_code=303)
