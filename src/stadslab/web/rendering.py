"""Jinja2 rendering: one environment per language, security headers, static URLs.

One environment per language keeps gettext simple and thread-safe: the
translations are installed once and never swapped while a page renders.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from stadslab import __version__
from stadslab.core.config import Settings

from . import i18n, vocabulary
from .auth import DROP_SESSION, account, csrf_token, login_url

log = logging.getLogger("stadslab.web")

STATIC_DIR = Path(str(resources.files("stadslab.web") / "static"))


def _vendor_versions() -> dict[str, str]:
    manifest = STATIC_DIR / "vendor" / "manifest.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=1)
def asset_version() -> str:
    """Cache-busting token: changes with our version and with any vendor package version."""
    vendor = _vendor_versions()
    digest = hashlib.sha256(json.dumps(vendor, sort_keys=True).encode()).hexdigest()[:8]
    return f"{__version__}-{digest}"


def static_url(path: str) -> str:
    return f"/static/{path}?v={asset_version()}"


def vendor_available() -> bool:
    return (STATIC_DIR / "vendor" / "manifest.json").is_file()


@lru_cache(maxsize=len(i18n.LANGUAGES))
def environment(lang: str) -> Environment:
    env = Environment(
        loader=PackageLoader("stadslab.web", "templates"),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)
    env.filters["date"] = lambda value, fmt="long": i18n.format_date(value, lang, fmt)
    env.filters["number"] = lambda value, digits=None: i18n.format_number(value, lang, digits)
    env.filters["status"] = lambda code: vocabulary.status_label(code, lang)
    env.filters["tone"] = vocabulary.tone
    env.filters["role"] = lambda code: vocabulary.label(vocabulary.ROLE_LABELS, code, lang)
    env.filters["scope"] = lambda code: vocabulary.label(vocabulary.SCOPE_LABELS, code, lang)
    env.filters["loket_type"] = lambda code: vocabulary.label(vocabulary.LOKET_TYPES, code, lang)
    env.filters["loket_topic"] = lambda code: vocabulary.label(vocabulary.LOKET_TOPICS, code, lang)
    env.filters["loket_status"] = lambda code: vocabulary.label(vocabulary.LOKET_STATUSES, code, lang)
    env.filters["legal_ground"] = lambda code: vocabulary.label(vocabulary.LEGAL_GROUNDS, code, lang)
    env.filters["event_kind"] = lambda code: vocabulary.label(vocabulary.EVENT_KINDS, code, lang)
    env.filters["verdict"] = lambda code: vocabulary.label(vocabulary.VERDICTS, code, lang)
    env.filters["method"] = lambda code: vocabulary.label(vocabulary.EVALUATION_METHODS, code, lang)
    env.filters["localised"] = lambda obj, field: vocabulary.localised(obj, field, lang)
    env.filters["unit"] = lambda code: vocabulary.label(vocabulary.UNITS, code, lang)
    env.filters["infrastructure"] = lambda code: vocabulary.label(vocabulary.INFRASTRUCTURE_LABELS, code, lang)
    env.filters["contribution_kind"] = lambda code: vocabulary.label(vocabulary.CONTRIBUTION_KINDS, code, lang)
    env.filters["contribution_status"] = lambda code: vocabulary.label(vocabulary.CONTRIBUTION_STATUSES, code,
                                                                       lang)
    env.filters["call_status"] = lambda code: vocabulary.label(vocabulary.CALL_STATUSES, code, lang)
    env.filters["datetime"] = lambda value, fmt="medium", zone=None: i18n.format_datetime(value, lang, fmt, zone)
    env.filters["country"] = lambda code: i18n.country_name(code, lang)
    env.filters["isodate"] = _isodate
    env.filters["time"] = lambda value, zone=None: i18n.format_time(value, lang, zone)
    env.tests["same_day_as"] = lambda a, b, zone=None: i18n.same_local_day(a, b, zone)
    env.filters["theme"] = lambda theme: vocabulary.theme_name(theme, lang)
    env.filters["typename"] = lambda code: vocabulary.type_label(code, lang)
    env.globals.update(lang=lang, static_url=static_url, autonyms=i18n.AUTONYMS,
                       languages=i18n.LANGUAGES, version=__version__)
    return env


def _isodate(value):
    """``"2024-03-15"`` (as services return dates in JSON-ready dicts) → a date for the date filter."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return value


def tile_origin(settings: Settings) -> str | None:
    if not settings.map_tile_url:
        return None
    parts = urlsplit(settings.map_tile_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def security_headers(settings: Settings) -> dict[str, str]:
    """A strict policy: our own scripts and styles only, no inline code, tiles from one origin."""
    img = "'self' data:"
    origin = tile_origin(settings)
    if origin:
        img += f" {origin}"
    csp = "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {img}",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
    }


def language_switch(request: Request, lang: str) -> list[dict[str, str]]:
    """Links to this same page in the other languages (``?lang=`` on the current query)."""
    out = []
    for other in i18n.LANGUAGES:
        if other == lang:
            continue
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        params.append(("lang", other))
        out.append({"lang": other, "label": i18n.AUTONYMS[other],
                    "href": f"{request.url.path}?{urlencode(params)}"})
    return out


def render(request: Request, template: str, context: dict | None = None, *, status_code: int = 200,
           lang: str | None = None) -> HTMLResponse:
    lang = lang or i18n.language_of(request)
    settings: Settings = request.app.state.settings
    ctx = {
        "request": request,
        "path": request.url.path,
        "language_switch": language_switch(request, lang),
        "vendor_available": vendor_available(),
        "demo_notice": False,
        **_visitor(request),
    }
    ctx.update(context or {})
    html = environment(lang).get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code, headers=security_headers(settings))
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Cookie, Accept"
    if ctx["account"] is not None or ctx.get("no_store"):
        response.headers["Cache-Control"] = "no-store"  # personal pages never go into shared caches
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="lax")
    if getattr(request.state, DROP_SESSION, False):
        from stadslab.governance.authn import clear_session_cookies

        clear_session_cookies(response, settings)
    return response


def _visitor(request: Request) -> dict:
    """The logged-in person and the CSRF token for the header's logout form (never fails a page)."""
    try:
        return {"account": account(request), "csrf_token": csrf_token(request),
                "login_link": "/inloggen" if request.url.path == "/" else login_url(request)}
    except Exception:  # noqa: BLE001 - e.g. the error page while the database is down
        log.warning("could not resolve the visitor of %s", request.url.path, exc_info=True)
        return {"account": None, "csrf_token": None, "login_link": "/inloggen"}
