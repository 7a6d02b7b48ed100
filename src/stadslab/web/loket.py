"""The loket in the browser, both sides.

``/loket``: the public overview of granted room to experiment (current and expired),
the requests of the reader's organisation and, for municipal editors, the form for a
new request. ``/loket/verzoeken/{id}``: one request with every step, and the actions
the reader may take (comment, withdraw; for the desk it is routed to: take in review,
ask for information, decide, forward). ``/loket/bureau``: a desk's queue with filters.

Everything goes through ``stadslab.governance.loket``; who may do what is
``stadslab.governance.rights``, exactly as for ``/api/v1/loket``.
"""

from __future__ import annotations

from datetime import date

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
ACTION_FIELDS = ("note", "decision", "valid_from", "valid_until", "living_lab_ids", "team")
MAX_LISTED = 200
SUBMITTED = N_("Your request has been submitted. You can follow it below.")
UNKNOWN_LAB = N_("Choose a living lab from the list.")
NO_ORGANISATION = N_("Your account does not belong to an organisation, so it cannot submit requests.")
DONE = N_("Saved. The submitter and the desk can see this step on this page.")
CONFLICT = N_("This step is not possible any more: the request has moved on. The page shows its current state.")
NOTE_REQUIRED = N_("Say which information you need.")
PERIOD_REQUIRED = N_("Enter the period in which the exemption holds.")
UNTIL_BEFORE_FROM = N_("The end date cannot be before the start date.")
UNKNOWN_TEAM = N_("Choose a desk from the list.")
SAME_TEAM = N_("The request is already with this desk.")
STEP_ACTIONS = ("in_review", "needs_info", "decided", "closed", "withdraw")


def _list_all() -> ListParams:
    return ListParams(limit=MAX_LISTED, offset=0, sort=None)


def _suffix(request: Request, first: str = "?") -> str:
    return f"{first}lang=en" if language_of(request) == "en" else ""


def _exemption_view(e) -> dict:
    from stadslab.governance import loket

    r = e.request
    return {"id": r.id, "title": r.title, "topic": r.topic, "regulation": r.regulation, "note": r.decision_note,
            "decided_at": r.decided_at, "organisation": e.organisation, "labs": e.labs,
            "valid_from": r.valid_from, "valid_until": r.valid_until, "team": loket.team_name(r.routed_to)}


def _row(r, labs: dict, orgs: dict | None = None) -> dict:
    from stadslab.governance import loket

    return {"id": r.id, "title": r.title, "type": r.type, "topic": r.topic, "status": r.status,
            "decision": r.decision, "submitted_at": r.submitted_at, "decision_due": r.decision_due,
            "overdue": loket.is_overdue(r), "team": loket.team_name(r.routed_to), "lab": labs.get(r.living_lab_id),
            "organisation": (orgs or {}).get(r.organisation_id)}


def _names(session, model, ids) -> dict:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


def _page(request: Request, *, form: dict | None = None, errors: dict | None = None,
          status_code: int = 200) -> HTMLResponse:
    from stadslab.governance import loket
    from stadslab.labs.models import LivingLab

    lang = language_of(request)
    principal = page_principal(request)
    with _session(request) as session:
        current, current_total = loket.exemptions(session, _list_all(), state="current")
        expired, expired_total = loket.exemptions(session, _list_all(), state="expired")
        mine = None
        if not principal.is_anonymous and principal.role != "desk":  # a desk works from its queue
            requests, _ = loket.list_requests(session, principal, _list_all())
            labs = _names(session, LivingLab, [r.living_lab_id for r in requests])
            mine = [_row(r, labs) for r in reversed(requests)]
        may_submit = loket.may_submit(session, principal)
        lab_options = [(i, n) for i, n in session.execute(select(LivingLab.id, LivingLab.name)
                                                          .order_by(LivingLab.name))] if may_submit else []
    notice = translations(lang).gettext(SUBMITTED) if request.query_params.get("melding") == "ingediend" else None
    return render(request, "loket.html", {
        "current": [_exemption_view(e) for e in current], "current_total": current_total,
        "expired": [_exemption_view(e) for e in expired], "expired_total": expired_total,
        "mine": mine, "may_submit": may_submit, "is_desk": principal.role == "desk" or principal.is_admin,
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
    if principal.organisation_id is None and principal.is_admin:
        return _page(request, form=form, errors={"": gettext(NO_ORGANISATION)}, status_code=422)
    with _session(request) as session:
        if not loket.may_submit(session, principal):
            from stadslab.core.auth import NOT_PERMITTED
            from stadslab.core.errors import Forbidden

            raise Forbidden(NOT_PERMITTED)
    lab = living_lab_id.strip()
    try:
        data = LoketRequestIn(type=type, topic=topic or "other", title=title, description=description,
                              regulation=regulation.strip() or None,
                              living_lab_id=(int(lab) if lab.isdigit() and len(lab) < 12 else lab) if lab else None)
    except ValidationError as exc:
        return _page(request, form=form, errors=pydantic_errors(exc, lang, FIELDS), status_code=422)
    try:
        with _session(request) as session:
            created = loket.submit(session, principal, data.model_dump())
    except StadslabError as exc:
        if exc.status != 422:
            raise
        errors = service_errors(exc, lang, FIELDS, {"living_lab_id": gettext(UNKNOWN_LAB)})
        return _page(request, form=form, errors=errors, status_code=422)
    return RedirectResponse(f"/loket/verzoeken/{created.id}?melding=ingediend{_suffix(request, '&')}",
                            status_code=303)


# --- one request ---------------------------------------------------------------------------------------

def _steps(session, r, lang: str) -> list[dict]:
    from stadslab.governance import loket
    from stadslab.governance.models import User

    authors = dict(session.execute(select(User.id, User.display_name).where(
        User.id.in_({c.author_user_id for c in r.comments if c.author_user_id}))).all()) if r.comments else {}
    steps = [{"kind": "submitted", "label": label(vocabulary.LOKET_STATUSES, "submitted", lang),
              "at": r.submitted_at, "body": "", "author": None, "detail": {}}]
    for c in r.comments:
        detail = dict(c.detail or {})
        if c.kind == "forwarded":
            detail = {"from": loket.team_name(detail.get("from", "")), "to": loket.team_name(detail.get("to", ""))}
        steps.append({"kind": c.kind, "label": label(vocabulary.LOKET_STEPS, c.kind, lang), "at": c.created_at,
                      "body": c.body, "author": authors.get(c.author_user_id), "detail": detail})
    return steps


def _detail(request: Request, request_id: int, *, form: dict | None = None, errors: dict | None = None,
            action: str | None = None, status_code: int = 200, notice: str | None = None) -> HTMLResponse:
    from stadslab.governance import loket, rights
    from stadslab.labs.models import LivingLab
    from stadslab.network.models import Organisation

    lang = language_of(request)
    principal = require_login(request)
    with _session(request) as session:
        r = loket.get_request(session, principal, request_id)
        facts = loket.facts(r)
        may_handle = rights.allowed("loket.handle", principal, facts)
        view = {**_row(r, _names(session, LivingLab, [r.living_lab_id]),
                       _names(session, Organisation, [r.organisation_id])),
                "description": r.description, "regulation": r.regulation, "decision_note": r.decision_note,
                "valid_from": r.valid_from, "valid_until": r.valid_until, "consult": [loket.team_name(t)
                                                                                     for t in r.consult or ()],
                "exemption_labs": loket.exemption_labs(r), "living_lab_id": r.living_lab_id}
        steps = _steps(session, r, lang)
        lab_options = [(i, n) for i, n in session.execute(select(LivingLab.id, LivingLab.name)
                                                          .order_by(LivingLab.name))] if may_handle else []
        may = {
            "comment": r.status != "closed" and rights.allowed("loket.comment", principal, facts),
            "withdraw": r.status == "submitted" and rights.allowed("loket.withdraw", principal, facts),
            "review": may_handle and "in_review" in loket.TRANSITIONS[r.status],
            "ask": may_handle and "needs_info" in loket.TRANSITIONS[r.status],
            "decide": may_handle and "decided" in loket.TRANSITIONS[r.status],
            "close": may_handle and "closed" in loket.TRANSITIONS[r.status] and r.status == "decided",
            "forward": may_handle and r.status in loket.OPEN_STATUSES,
        }
        teams = [(k, v) for k, v in loket.routing_table()["teams"].items() if k != r.routed_to]
    gettext = translations(lang).gettext
    notices = {"ingediend": SUBMITTED, "opgeslagen": DONE}
    if notice is None and request.query_params.get("melding") in notices:
        notice = gettext(notices[request.query_params["melding"]])
    default_labs = [str(i) for i, _ in view["exemption_labs"]] or ([str(r.living_lab_id)] if r.living_lab_id else [])
    return render(request, "loket_request.html", {
        "r": view, "steps": steps, "may": may, "teams": teams, "lab_options": lab_options,
        "form": form or {"decision": "granted", "living_lab_ids": default_labs}, "errors": errors or {},
        "action": action, "notice": notice,
        "is_experiment": r.type == "experiment",
    }, status_code=status_code, lang=lang)


def _request_id(raw: str) -> int:
    from stadslab.core.errors import NotFound

    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(f"Loket request {raw} does not exist")
    return int(raw)


@router.get("/loket/verzoeken/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: str):
    require_login(request)
    return _detail(request, _request_id(request_id))


def _date(value: str, name: str, errors: dict, gettext) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = gettext(vocabulary.N_("Enter a date like 2024-03-15."))
        return None


def _act(request: Request, rid: int, action: str, form: dict, call) -> HTMLResponse | RedirectResponse:
    """Run ``call(session)``; 422 and 409 come back on the page with the input kept, others raise."""
    lang = language_of(request)
    gettext = translations(lang).gettext
    try:
        with _session(request) as session:
            call(session)
    except StadslabError as exc:
        if exc.status == 409:
            return _detail(request, rid, form=form, errors={"": gettext(CONFLICT)}, status_code=409)
        if exc.status != 422:
            raise
        known = {"note": gettext(NOTE_REQUIRED), "valid_from": gettext(PERIOD_REQUIRED),
                 "valid_until": gettext(UNTIL_BEFORE_FROM if form.get("valid_until") else PERIOD_REQUIRED),
                 "living_lab_ids": gettext(UNKNOWN_LAB), "team": gettext(UNKNOWN_TEAM),
                 "decision": gettext(vocabulary.N_("Choose one of the options."))}
        if "already routed" in str(exc.errors):
            known["team"] = gettext(SAME_TEAM)
        return _detail(request, rid, form=form, errors=service_errors(exc, lang, ACTION_FIELDS, known),
                       action=action, status_code=422)
    return RedirectResponse(f"/loket/verzoeken/{rid}?melding=opgeslagen{_suffix(request, '&')}#geschiedenis",
                            status_code=303)


@router.post("/loket/verzoeken/{request_id}/stap", response_class=HTMLResponse)
def step(request: Request, request_id: str, actie: str = Form(""), note: str = Form(""), decision: str = Form(""),
         valid_from: str = Form(""), valid_until: str = Form(""), living_lab_ids: list[str] = Form([])):
    from stadslab.governance import loket

    principal = require_login(request)
    rid = _request_id(request_id)
    lang = language_of(request)
    gettext = translations(lang).gettext
    form = {"note": note, "decision": decision, "valid_from": valid_from, "valid_until": valid_until,
            "living_lab_ids": living_lab_ids}
    if actie not in STEP_ACTIONS:
        return _detail(request, rid, form=form, errors={"": gettext(CONFLICT)}, status_code=422)
    errors: dict[str, str] = {}
    start, end = _date(valid_from, "valid_from", errors, gettext), _date(valid_until, "valid_until", errors, gettext)
    labs = [int(i) for i in living_lab_ids if i.isdigit() and len(i) < 12]
    if len(labs) != len(living_lab_ids):
        errors["living_lab_ids"] = gettext(UNKNOWN_LAB)
    if decision and decision not in ("granted", "rejected"):
        errors["decision"] = gettext(vocabulary.N_("Choose one of the options."))
    if errors:
        # authorise first: a caller who may not act learns 403/404, not the form's rules
        with _session(request) as session:
            r = loket.get_request(session, principal, rid)
            from stadslab.governance import rights

            rights.authorize("loket.handle", principal, loket.facts(r))
        return _detail(request, rid, form=form, errors=errors, action=actie, status_code=422)
    status = "closed" if actie == "withdraw" else actie
    granting = actie == "decided" and decision == "granted"

    def call(session):
        loket.transition(session, principal, rid, status, (decision or None) if actie == "decided" else None,
                         note.strip() or None, valid_from=start if granting else None,
                         valid_until=end if granting else None, living_lab_ids=(labs or None) if granting else None)
    return _act(request, rid, actie, form, call)


@router.post("/loket/verzoeken/{request_id}/doorsturen", response_class=HTMLResponse)
def forward(request: Request, request_id: str, team: str = Form(""), note: str = Form("")):
    from stadslab.governance import loket

    principal = require_login(request)
    rid = _request_id(request_id)
    return _act(request, rid, "forward", {"team": team, "note": note},
                lambda session: loket.forward(session, principal, rid, team, note.strip() or None))


@router.post("/loket/verzoeken/{request_id}/reactie", response_class=HTMLResponse)
def comment(request: Request, request_id: str, body: str = Form("")):
    from stadslab.governance import loket, rights

    principal = require_login(request)
    rid = _request_id(request_id)
    lang = language_of(request)
    if not body.strip():
        with _session(request) as session:
            rights.authorize("loket.comment", principal, loket.facts(loket.get_request(session, principal, rid)))
        return _detail(request, rid, form={"body": body},
                       errors={"body": translations(lang).gettext(vocabulary.N_("Fill in this field."))},
                       action="comment", status_code=422)
    if len(body) > 10_000:
        body = body[:10_000]
    return _act(request, rid, "comment", {"body": body},
                lambda session: loket.add_comment(session, principal, rid, body.strip()))


# --- a desk's queue ------------------------------------------------------------------------------------

QUEUE_STATUSES = ("submitted", "in_review", "needs_info", "decided", "closed")


@router.get("/loket/bureau", response_class=HTMLResponse)
def desk_queue(request: Request):
    from stadslab.governance import loket
    from stadslab.labs.models import LivingLab
    from stadslab.network.models import Organisation

    principal = require_login(request)
    lang = language_of(request)
    q = request.query_params
    status = [s for s in q.getlist("status") if s in QUEUE_STATUSES]
    types = [t for t in q.getlist("type") if t in vocabulary.LOKET_TYPES]
    city = q.get("organisation_id", "")
    overdue = {"ja": True, "nee": False}.get(q.get("overdue", ""))
    with _session(request) as session:
        team, rows, total = loket.queue(session, principal, q.get("team") or None, _list_all(), status=status,
                                        type_=types, overdue=overdue,
                                        organisation_id=int(city) if city.isdigit() and len(city) < 12 else None)
        labs = _names(session, LivingLab, [r.living_lab_id for r in rows])
        _team, all_in_queue, _total = loket.queue(session, principal, team, _list_all())
        orgs = _names(session, Organisation, [r.organisation_id for r in all_in_queue])
        items = [_row(r, labs, orgs) for r in rows]
        overdue_total = sum(1 for r in all_in_queue if loket.is_overdue(r))
    return render(request, "loket_desk.html", {
        "team": team, "team_name": loket.team_name(team), "items": items, "total": total,
        "overdue_total": overdue_total, "is_admin": principal.is_admin,
        "teams": list(loket.routing_table()["teams"].items()),
        "filters": {"status": status, "type": types, "organisation_id": city, "overdue": q.get("overdue", "")},
        "status_options": [(s, label(vocabulary.LOKET_STATUSES, s, lang)) for s in QUEUE_STATUSES],
        "type_options": [(k, label(vocabulary.LOKET_TYPES, k, lang)) for k in vocabulary.LOKET_TYPES],
        "city_options": sorted(orgs.items(), key=lambda kv: kv[1]),
    }, lang=lang)
