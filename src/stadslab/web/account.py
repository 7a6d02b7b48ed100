"""Logging in and out in the browser: ``/inloggen`` and ``/uitloggen``.

The pages call the governance services in-process, exactly like
``POST /api/v1/auth/login`` does: the same rate limits, the same lockout, the
same server-side session and the same hardened cookies. Every credential
failure gets one message, so the form never tells which part was wrong.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from stadslab.core.auth import known_up_front
from stadslab.core.errors import StadslabError, Unauthorized
from stadslab.core.security import enforce

from .auth import page_principal, safe_next
from .forms import REQUIRED, ordered
from .i18n import language_of, translations
from .pages import _session
from .rendering import render
from .vocabulary import N_

router = APIRouter(include_in_schema=False)

LOGIN_FAILED = N_("The e-mail address or password is not correct, or the account is locked or disabled.")
TOO_MANY = N_("Too many login attempts. Wait a minute and try again.")
FIELDS = ("email", "password")


def _login_page(request: Request, *, email: str = "", next_path: str = "/", errors: dict | None = None,
                status_code: int = 200) -> HTMLResponse:
    settings = request.app.state.settings
    return render(request, "login.html", {
        "email": email, "next_path": next_path, "errors": errors or {}, "oidc": bool(settings.oidc_issuer),
        "no_store": True,
    }, status_code=status_code)


@router.get("/inloggen", response_class=HTMLResponse)
def login_form(request: Request):
    page_principal(request)  # a stale cookie is dropped here, so the form can be sent without it
    return _login_page(request, next_path=safe_next(request.query_params.get("volgende")))


@router.post("/inloggen", response_class=HTMLResponse)
@known_up_front(public=True)
def login_submit(request: Request, email: str = Form(""), password: str = Form(""), volgende: str = Form("/")):
    from stadslab.governance import service
    from stadslab.governance.authn import session_id_from_request, set_session_cookies

    lang = language_of(request)
    gettext = translations(lang).gettext
    settings = request.app.state.settings
    next_path = safe_next(volgende)
    email = email.strip()[:254]
    errors = {}
    if not email:
        errors["email"] = gettext(REQUIRED)
    if not password:
        errors["password"] = gettext(REQUIRED)
    if errors:
        return _login_page(request, email=email, next_path=next_path, errors=ordered(errors, FIELDS),
                           status_code=422)
    try:
        enforce(request.app.state.login_ip_limiter, request.client.host if request.client else "unknown")
        enforce(request.app.state.login_account_limiter, service.normalise_email(email))
        with _session(request) as session:
            user = service.login(session, email, password[:1024], max_failures=settings.login_max_failures,
                                 lockout=timedelta(minutes=settings.login_lockout_minutes))
            session_id = service.open_session(session, user, ttl=timedelta(hours=settings.session_ttl_hours),
                                              method="password", replaces=session_id_from_request(request))
    except Unauthorized:
        return _login_page(request, email=email, next_path=next_path, errors={"": gettext(LOGIN_FAILED)},
                           status_code=422)
    except StadslabError as exc:
        if exc.status != 429:
            raise
        response = _login_page(request, email=email, next_path=next_path, errors={"": gettext(TOO_MANY)},
                               status_code=429)
        response.headers["Retry-After"] = exc.headers.get("Retry-After", "60")
        return response
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookies(response, settings, session_id)
    return response


@router.get("/uitloggen", response_class=HTMLResponse)
def logout_form(request: Request):
    """Someone who types the address gets a button: logging out changes state, so it is a POST."""
    if page_principal(request).via != "session":
        return RedirectResponse("/", status_code=303)
    return render(request, "logout.html", {"no_store": True})


@router.post("/uitloggen")
@known_up_front(public=True)
def logout(request: Request):
    """Ends the server-side session (the CSRF middleware has already checked the form's token)."""
    from stadslab.governance import service
    from stadslab.governance.authn import clear_session_cookies, session_id_from_request

    principal = page_principal(request)
    if principal.via == "session":
        with _session(request) as session:
            service.close_session(session, principal, session_id_from_request(request))
    lang = language_of(request)
    response = RedirectResponse("/?uitgelogd=1" + ("&lang=en" if lang == "en" else ""), status_code=303)
    clear_session_cookies(response, request.app.state.settings)
    return response
