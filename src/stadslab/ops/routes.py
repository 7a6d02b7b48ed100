"""Probes and the metrics endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from stadslab import __version__
from stadslab.core.errors import Forbidden

from . import metrics
from .health import readiness

router = APIRouter(tags=["platform"])
metrics_router = APIRouter(include_in_schema=False)


@router.get("/health/live")
def live() -> dict:
    """The process answers; says nothing about its dependencies (restarting would not fix those)."""
    return {"status": "ok", "version": __version__}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    ok, checks = await run_in_threadpool(readiness, request.app)
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    if not ok:
        body["down"] = sorted(name for name, c in checks.items() if c["status"] != "up")
    return JSONResponse(body, status_code=200 if ok else 503, headers=None if ok else {"Retry-After": "5"})


@metrics_router.get("/metrics")
def metrics_endpoint(request: Request) -> Response:
    client = request.client.host if request.client else None
    if not metrics.may_scrape(request.app.state.settings, client, request.headers.get("authorization")):
        raise Forbidden("Metrics are served to loopback clients, with STADSLAB_METRICS_TOKEN as a "
                        "bearer token, or to everyone when STADSLAB_METRICS_PUBLIC=true")
    body, content_type = metrics.render(request.app)
    return Response(body, media_type=content_type)
