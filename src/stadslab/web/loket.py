"""The loket in the browser: ``/loket``.

Everybody sees the granted room to experiment (experimenteerruimte), linked to
living labs. A logged-in person of a city sees the requests of their own
organisation with their status, and, with the right to submit (``loket:write``:
editors and administrators), a form for a new request. Everything goes through
``stadslab.governance.loket``: routing, decision terms, authorization and audit
are the service's, exactly as for ``POST /api/v1/loket/requests``.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from stadslab.core.errors import StadslabError
from stadslab.core.listing import ListParams

from . import vocabulary
from .auth import page_principal, require_login
from .forms import pydantic_errors, service_errors
from .i18n import language_of, translations
from .pages import _session
from .rendering import render
from .vocabulary import N_, label

router = APIRouter(include_in_schema=False)

FIELDS = ("type", "topic", "title", "regulation", "description", "living_lab_id")
MAX_LISTED = 200
SUBMITTED = N_("Your request has been submitted. You can follow it below.")
UNKNOWN_LAB = N_("Choose a living lab from the list.")
NO_ORGANISATION = N_("Your account does not belong to an organisation, so it cannot submit requests.")


def _may_submit(principal) -> bool:
    return (not principal.is_anonymous and principal.organisation_id is not None
            and principal.has_scope("loket:write"))


def _page(request: Request, *, form: dict | None = None, errors: dict | None = None,
          status_code: int = 200) -> HTMLResponse:
    from stadslab.governance import loket
    from stadslab.labs.models import LivingLab

    lang = language_of(request)
    principal = page_principal(request)
    with _session(request) as session:
        rows, total = loket.exemptions(session, ListParams(limit=MAX_LISTED, offset=0, sort=None))
        exemptions = [{"id": r.id, "title": r.title, "topic": r.topic, "regulation": r.regulation,
                       "note": r.decision_note, "decided_at": r.decided_at, "organisation": org,
                       "lab": {"id": r.living_lab_id, "name": lab} if r.living_lab_id else None,
                       "team": loket.team_name(r.routed_to)} for r, org, lab in rows]
        mine = None
        if not principal.is_anonymous:
            requests, _ = loket.list_requests(session, principal, ListParams(limit=MAX_LISTED, offset=0, sort=None))
            labs = dict(session.execute(select(LivingLab.id, LivingLab.name).where(
                LivingLab.id.in_({r.living_lab_id for r in requests if r.living_lab_id}))).all())
            mine = [{"id": r.id, "title": r.title, "type": r.type, "topic": r.topic, "status": r.status,
                     "decision": r.decision, "submitted_at": r.submitted_at, "decision_due": r.decision_due,
                     "overdue": loket.is_overdue(r), "team": loket.team_name(r.routed_to),
                     "lab": labs.get(r.living_lab_id)} for r in reversed(requests)]
        lab_options = [(i, n) for i, n in session.execute(select(LivingLab.id, LivingLab.name)
                                                          .order_by(LivingLab.name))] if _may_submit(principal) else []
    notice = translations(lang).gettext(SUBMITTED) if request.query_params.get("melding") == "ingediend" else None
    return render(request, "loket.html", {
        "exemptions": exemptions, "exemption_total": total, "mine": mine, "may_submit": _may_submit(principal),
        "signed_in": not principal.is_anonymous, "form": form or {"type": "experiment", "topic": "other"},
        "errors": errors or {}, "notice": notice, "lab_options": lab_options,
        "type_options": [(k, label(vocabulary.LOKET_TYPES, k, lang)) for k in vocabulary.LOKET_TYPES],
        "topic_options": [(k, label(vocabulary.LOKET_TOPICS, k, lang)) for k in vocabulary.LOKET_TOPICS],
    }, status_code=status_code, lang=lang)


@router.get("/loket", response_class=HTMLResponse)
def loket_page(request: Request):
    return _page(request)


@router.post("/loket/aanvragen", response_class=HTMLResponse)
def submit(request: Request, type: str = Form(""), topic: str = Form("other"), title: str = Form(""),  # noqa: A002
           description: str = Form(""), regulation: str = Form(""), living_lab_id: str = Form("")):
    from stadslab.governance import loket
    from stadslab.governance.schemas import LoketRequestIn

    principal = require_login(request)
    lang = language_of(request)
    gettext = translations(lang).gettext
    form = {"type": type, "topic": topic, "title": title, "description": description, "regulation": regulation,
            "living_lab_id": living_lab_id}
    if principal.organisation_id is None and principal.role != "admin":
        return _page(request, form=form, errors={"": gettext(NO_ORGANISATION)}, status_code=422)
    lab = living_lab_id.strip()
    try:
        data = LoketRequestIn(type=type, topic=topic or "other", title=title, description=description,
                              regulation=regulation.strip() or None,
                              living_lab_id=(int(lab) if lab.isdigit() and len(lab) < 12 else lab) if lab else None)
    except ValidationError as exc:
        return _page(request, form=form, errors=pydantic_errors(exc, lang, FIELDS), status_code=422)
    try:
        with _session(request) as session:
            loket.submit(session, principal, data.model_dump())
    except StadslabError as exc:
        if exc.status != 422:
            raise
        errors = service_errors(exc, lang, FIELDS, {"living_lab_id": gettext(UNKNOWN_LAB)})
        if "organisation_id" in str(exc.errors):
            errors = {"": gettext(NO_ORGANISATION)}
        return _page(request, form=form, errors=errors, status_code=422)
    suffix = "&lang=en" if request.query_params.get("lang") == "en" else ""
    return RedirectResponse(f"/loket?melding=ingediend{suffix}#mijn-aanvragen", status_code=303)
