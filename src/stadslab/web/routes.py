"""Server-rendered web interface: mounted last by ``create_app`` through ``mount_web``.

Pages call the registry and search services in-process with their own session
(never over HTTP). Everything works without JavaScript; the scripts in
``static/js`` only enhance (map, chart, facet auto-submit).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .account import router as account_router
from .admin import router as admin_router
from .agenda import router as agenda_router
from .editing import router as editing_router
from .errors import install_html_errors
from .loket import router as loket_router
from .pages import router as pages_router
from .profiles import router as profiles_router
from .sensors import router as sensors_router
from .rendering import STATIC_DIR


def mount_web(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=True), name="static")
    app.include_router(pages_router)
    app.include_router(profiles_router)
    app.include_router(account_router)
    app.include_router(admin_router)
    app.include_router(editing_router)
    app.include_router(sensors_router)
    app.include_router(agenda_router)
    app.include_router(loket_router)
    install_html_errors(app)
