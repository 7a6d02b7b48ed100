"""Server-rendered web interface."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

PLACEHOLDER = """<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Stadslab</title></head>
<body><main><h1>Stadslab</h1><p><a href="/api/docs">API-documentatie</a> ·
<a href="/api/v1/search?q=fiets">Zoeken</a></p></main></body></html>"""


def mount_web(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> str:
        return PLACEHOLDER
