"""``/api/docs``: Swagger UI from the locally installed assets (npm ``swagger-ui-dist``, copied into
``static/vendor/swagger-ui`` by scripts/build_assets.mjs), so the page works offline and loads
nothing from a third-party host. The security headers give it a CSP with exactly the hash of its
one inline start-up script (``core.security``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from .rendering import static_url

DOCS_PATH = "/api/docs"

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH, response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=request.app.openapi_url, title=f"{request.app.title} – Swagger UI",
                               swagger_js_url=static_url("vendor/swagger-ui/swagger-ui-bundle.js"),
                               swagger_css_url=static_url("vendor/swagger-ui/swagger-ui.css"),
                               swagger_favicon_url=static_url("img/favicon.svg"))
