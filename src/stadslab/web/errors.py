"""Friendly error pages for people, problem+json for programs.

The core maps every error to application/problem+json. A person who follows a
broken link in a browser should instead get a page in their language with a
way back; a 500 shows only a reference id that matches the server log. The
hook wraps the core handlers, so API paths and non-HTML clients are untouched.
"""

from __future__ import annotations

import inspect
import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stadslab.core.credentials import SESSION_COOKIE
from stadslab.core.errors import StadslabError
from stadslab.governance.authn import clear_session_cookies

from .auth import DROP_SESSION, login_url
from .rendering import render

log = logging.getLogger("stadslab.web")

#: Paths that always answer like an API, whatever the client accepts.
MACHINE_PREFIXES = ("/api", "/sta", "/static")


def wants_html(request: Request) -> bool:
    path = request.url.path
    if any(path == p or path.startswith(p + "/") for p in MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "").lower()


def login_redirect(request: Request) -> RedirectResponse:
    """A person who must log in first is sent to the login page, and back here afterwards."""
    response = RedirectResponse(login_url(request), status_code=303)
    if getattr(request.state, DROP_SESSION, False) or request.cookies.get(SESSION_COOKIE):
        clear_session_cookies(response, request.app.state.settings)  # the cookie did not work: drop it
    return response


def error_page(request: Request, status: int, reference: str | None = None) -> HTMLResponse | RedirectResponse:
    if status == 401:
        return login_redirect(request)
    try:
        return render(request, "error.html", {"status": status, "reference": reference},
                      status_code=status)
    except Exception:  # noqa: BLE001 - the error page must never become an error itself
        log.exception("error page failed to render (status=%s ref=%s)", status, reference)
        ref = f"<p>Referentie / reference: {reference}</p>" if reference else ""
        return HTMLResponse(f"<!doctype html><html lang=\"nl\"><head><meta charset=\"utf-8\"><title>Stadslab"
                            f" – {status}</title></head><body><main><h1>{status}</h1>{ref}"
                            f"<p><a href=\"/\">Stadslab</a></p></main></body></html>", status_code=status)


async def _call(handler, request: Request, exc: Exception):
    result = handler(request, exc)
    if inspect.isawaitable(result):
        result = await result
    return result


def install_html_errors(app: FastAPI) -> None:
    """Wraps the core exception handlers: HTML pages for browsers on web paths, else unchanged."""
    handlers = app.exception_handlers
    prior_http = handlers.get(StarletteHTTPException)
    prior_domain = handlers.get(StadslabError)
    prior_validation = handlers.get(RequestValidationError)
    prior_unexpected = handlers.get(Exception)

    async def http_error(request: Request, exc: StarletteHTTPException):
        if wants_html(request) or prior_http is None:
            response = error_page(request, exc.status_code)
            if exc.status_code != 401:  # a redirect to the login page carries no challenge header
                for key, value in (getattr(exc, "headers", None) or {}).items():
                    response.headers[key] = value
            return response
        return await _call(prior_http, request, exc)

    async def domain_error(request: Request, exc: StadslabError):
        if wants_html(request) or prior_domain is None:
            return error_page(request, exc.status)
        return await _call(prior_domain, request, exc)

    async def validation_error(request: Request, exc: RequestValidationError):
        # Web pages parse their own query strings; a malformed path parameter means "no such page".
        if wants_html(request) or prior_validation is None:
            return error_page(request, 404)
        return await _call(prior_validation, request, exc)

    async def unexpected_error(request: Request, exc: Exception):
        if wants_html(request) or prior_unexpected is None:
            reference = uuid.uuid4().hex[:12]
            log.error("unhandled error ref=%s path=%s", reference, request.url.path, exc_info=exc)
            return error_page(request, 500, reference)
        return await _call(prior_unexpected, request, exc)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(StadslabError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
