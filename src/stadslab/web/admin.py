"""Management pages for administrators: accounts and API tokens (``/beheer``).

Every page checks ``require_admin`` first: anonymous visitors are sent to the
login page, other accounts get the 403 page. Changes go through the governance
services, which audit them in the same unit of work, and answer with a redirect
(post/redirect/get) so that reloading a page never repeats a change. The one
exception is a new API token: its secret is shown once, on the answer itself,
and is never stored.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import func, select

from stadslab.core.auth import ACCOUNT_ROLES, SCOPES
from stadslab.core.errors import Conflict, Forbidden, NotFound, StadslabError
from stadslab.core.listing import ListParams

from .auth import require_admin
from .forms import pydantic_errors, service_errors
from .i18n import language_of, translations
from .pages import _session
from .rendering import render
from .vocabulary import N_, ROLE_LABELS, SCOPE_LABELS, label

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
USER_FIELDS = ("email", "display_name", "role", "desk_team", "organisation_id", "password")
DESK_TEAM_NEEDED = N_("A loket desk account needs a desk; other roles have none.")
TOKEN_FIELDS = ("name", "scopes", "expires_in_days", "organisation_id")

#: Confirmations after a change (post/redirect/get carries only the code).
NOTICES = {
    "user-created": N_("The account has been created."),
    "role-changed": N_("The role has been changed."),
    "disabled": N_("The account has been disabled and its sessions have ended."),
    "enabled": N_("The account has been enabled."),
    "revoked": N_("The token has been revoked. It no longer works."),
}
EMAIL_TAKEN = N_("An account with this e-mail address already exists.")
EMAIL_INVALID = N_("Enter an e-mail address like name@example.nl.")
PASSWORD_RULES = N_("Choose a password of 12 to 256 characters that is not the e-mail address and not too repetitive.")
UNKNOWN_ORGANISATION = N_("Choose an organisation from the list.")
OWN_ACCOUNT = N_("You cannot demote or disable your own account.")
SCOPE_NOT_ALLOWED = N_("Choose only rights the owner of the token has.")
DAYS_RANGE = N_("Enter a number of days from 1 to 366.")


def _notice(request: Request, lang: str) -> str | None:
    code = request.query_params.get("melding")
    return translations(lang).gettext(NOTICES[code]) if code in NOTICES else None


def _page_number(request: Request) -> int:
    raw = request.query_params.get("pagina", "1")
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


def _organisations(session) -> list[tuple[int, str]]:
    from stadslab.network.models import Organisation

    return [(o.id, o.name) for o in session.scalars(select(Organisation).order_by(Organisation.name))]


def _int_or_none(raw: str) -> int | None | str:
    raw = raw.strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() and len(raw) < 12 else raw  # a non-number fails validation with its field


@router.get("/beheer", response_class=HTMLResponse)
def dashboard(request: Request):
    from stadslab.governance import loket
    from stadslab.governance.models import ApiToken, LoketRequest, User
    from stadslab.labs.models import LivingLab, Project, Solution

    require_admin(request)
    with _session(request) as session:
        def count(stmt) -> int:
            return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0

        figures = {
            "users": count(select(User.id)),
            "active_users": count(select(User.id).where(User.active.is_(True))),
            "tokens": count(select(ApiToken.id).where(ApiToken.revoked_at.is_(None))),
            "labs": count(select(LivingLab.id)), "projects": count(select(Project.id)),
            "solutions": count(select(Solution.id)),
            "loket_open": count(select(LoketRequest.id).where(LoketRequest.status.in_(loket.OPEN_STATUSES))),
            "loket_overdue": loket.overdue_count(session),
        }
    return render(request, "admin/dashboard.html", {"figures": figures})


# --- accounts -----------------------------------------------------------------------------------

def _users_page(request: Request, *, form: dict | None = None, errors: dict | None = None,
                status_code: int = 200) -> HTMLResponse:
    from stadslab.governance import service
    from stadslab.governance.loket import routing_table

    lang = language_of(request)
    page = _page_number(request)
    q = (request.query_params.get("q") or "").strip()[:100]
    with _session(request) as session:
        users, total = service.list_users(session, ListParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                                               sort=None), q=q or None)
        organisations = _organisations(session)
        names = dict(organisations)
        rows = [{"id": u.id, "email": u.email, "name": u.display_name, "role": u.role, "active": u.active,
                 "organisation": names.get(u.organisation_id), "last_login_at": u.last_login_at,
                 "locked_until": u.locked_until} for u in users]
    me = require_admin(request)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return render(request, "admin/users.html", {
        "users": rows, "total": total, "page": page, "pages": pages, "q": q, "me": me.user_id,
        "roles": ACCOUNT_ROLES, "organisations": organisations,
        "role_options": [(r, label(ROLE_LABELS, r, lang)) for r in ACCOUNT_ROLES], "form": form or {"role": "member"},
        "desk_options": list(routing_table()["teams"].items()),
        "errors": errors or {}, "notice": _notice(request, lang), "no_store": True,
    }, status_code=status_code, lang=lang)


@router.get("/beheer/gebruikers", response_class=HTMLResponse)
def users(request: Request):
    require_admin(request)
    return _users_page(request)


@router.post("/beheer/gebruikers", response_class=HTMLResponse)
def create_user(request: Request, email: str = Form(""), display_name: str = Form(""), role: str = Form("member"),
                organisation_id: str = Form(""), password: str = Form(""), desk_team: str = Form("")):
    from stadslab.governance import service
    from stadslab.governance.schemas import UserIn

    actor = require_admin(request)
    lang = language_of(request)
    gettext = translations(lang).gettext
    form = {"email": email, "display_name": display_name, "role": role, "organisation_id": organisation_id,
            "desk_team": desk_team}
    try:
        data = UserIn(email=email, display_name=display_name, role=role, password=password or None,
                      organisation_id=_int_or_none(organisation_id), desk_team=desk_team or None)
    except ValidationError as exc:
        return _users_page(request, form=form, errors=pydantic_errors(exc, lang, USER_FIELDS), status_code=422)
    try:
        with _session(request) as session:
            service.create_user(session, actor, **data.model_dump())
    except Conflict:
        return _users_page(request, form=form, errors={"email": gettext(EMAIL_TAKEN)}, status_code=422)
    except StadslabError as exc:
        if exc.status != 422:
            raise
        known = {"email": gettext(EMAIL_INVALID), "password": gettext(PASSWORD_RULES),
                 "organisation_id": gettext(UNKNOWN_ORGANISATION), "desk_team": gettext(DESK_TEAM_NEEDED)}
        return _users_page(request, form=form, errors=service_errors(exc, lang, USER_FIELDS, known),
                           status_code=422)
    return RedirectResponse("/beheer/gebruikers?melding=user-created", status_code=303)


@router.post("/beheer/gebruikers/{user_id}", response_class=HTMLResponse)
def change_user(request: Request, user_id: str, actie: str = Form(""), role: str = Form("")):
    from stadslab.governance import service

    actor = require_admin(request)
    if not user_id.isdigit() or len(user_id) > 12:
        raise NotFound(f"No user {user_id!r}")
    changes = {"role": {"role": role}, "disable": {"active": False}, "enable": {"active": True}}.get(actie)
    if changes is None or (actie == "role" and role not in ACCOUNT_ROLES):
        lang = language_of(request)
        return _users_page(request, errors={"": translations(lang).gettext("Choose one of the options.")},
                           status_code=422)
    try:
        with _session(request) as session:
            service.update_user(session, actor, int(user_id), changes)
    except Forbidden:
        lang = language_of(request)
        return _users_page(request, errors={"": translations(lang).gettext(OWN_ACCOUNT)}, status_code=403)
    except StadslabError as exc:
        if exc.status != 422:
            raise
        lang = language_of(request)  # e.g. the desk role without a desk: add such accounts with the form
        return _users_page(request, errors={"": translations(lang).gettext(DESK_TEAM_NEEDED)}, status_code=422)
    code = {"role": "role-changed", "disable": "disabled", "enable": "enabled"}[actie]
    return RedirectResponse(f"/beheer/gebruikers?melding={code}", status_code=303)


# --- API tokens ---------------------------------------------------------------------------------

def _tokens_page(request: Request, *, form: dict | None = None, errors: dict | None = None,
                 created: dict | None = None, status_code: int = 200) -> HTMLResponse:
    from stadslab.governance import service
    from stadslab.governance.models import User

    actor = require_admin(request)
    lang = language_of(request)
    page = _page_number(request)
    with _session(request) as session:
        tokens, total = service.list_tokens(session, actor, ListParams(limit=PAGE_SIZE,
                                                                       offset=(page - 1) * PAGE_SIZE, sort=None))
        organisations = _organisations(session)
        names = dict(organisations)
        emails = dict(session.execute(select(User.id, User.email).where(
            User.id.in_({t.user_id for t in tokens if t.user_id is not None}))).all())
        rows = [{"id": t.id, "name": t.name, "prefix": t.prefix, "scopes": list(t.scopes or []),
                 "owner": emails.get(t.user_id) if t.user_id is not None else names.get(t.organisation_id),
                 "owner_kind": "user" if t.user_id is not None else "organisation",
                 "created_at": t.created_at, "expires_at": t.expires_at, "last_used_at": t.last_used_at,
                 "revoked_at": t.revoked_at} for t in tokens]
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return render(request, "admin/tokens.html", {
        "tokens": rows, "total": total, "page": page, "pages": pages,
        "scope_options": [(s, f"{label(SCOPE_LABELS, s, lang)} ({s})") for s in SCOPES],
        "organisations": organisations,
        "form": form or {"scopes": ["sta:read"], "expires_in_days": "90"}, "errors": errors or {},
        "created": created, "notice": _notice(request, lang), "no_store": True,
    }, status_code=status_code, lang=lang)


@router.get("/beheer/tokens", response_class=HTMLResponse)
def tokens(request: Request):
    require_admin(request)
    return _tokens_page(request)


@router.post("/beheer/tokens", response_class=HTMLResponse)
def create_token(request: Request, name: str = Form(""), scopes: list[str] = Form([]),
                 expires_in_days: str = Form("90"), organisation_id: str = Form("")):
    from stadslab.governance import service
    from stadslab.governance.schemas import TokenIn

    actor = require_admin(request)
    lang = language_of(request)
    gettext = translations(lang).gettext
    form = {"name": name, "scopes": scopes, "expires_in_days": expires_in_days, "organisation_id": organisation_id}
    try:
        data = TokenIn(name=name, scopes=scopes, expires_in_days=_int_or_none(expires_in_days),
                       organisation_id=_int_or_none(organisation_id))
    except ValidationError as exc:
        return _tokens_page(request, form=form, errors=pydantic_errors(exc, lang, TOKEN_FIELDS), status_code=422)
    try:
        with _session(request) as session:
            token, secret = service.create_token(session, actor, **data.model_dump())
            created = {"name": token.name, "secret": secret, "expires_at": token.expires_at,
                       "scopes": list(token.scopes)}
    except StadslabError as exc:
        if exc.status != 422:
            raise
        known = {"scopes": gettext(SCOPE_NOT_ALLOWED), "expires_in_days": gettext(DAYS_RANGE),
                 "organisation_id": gettext(UNKNOWN_ORGANISATION)}
        return _tokens_page(request, form=form, errors=service_errors(exc, lang, TOKEN_FIELDS, known),
                            status_code=422)
    return _tokens_page(request, created=created, status_code=201)


@router.post("/beheer/tokens/{token_id}/intrekken")
def revoke_token(request: Request, token_id: str):
    from stadslab.governance import service

    actor = require_admin(request)
    if not token_id.isdigit() or len(token_id) > 12:
        raise NotFound(f"No token {token_id!r}")
    with _session(request) as session:
        service.revoke_token(session, actor, int(token_id))
    return RedirectResponse("/beheer/tokens?melding=revoked", status_code=303)
