"""HTTP layer of the SensorThings hub (mounted at /sta/v1.1) and the public sensor register.

Thin by design: the STA URL grammar does not fit route templates, so one
catch-all route hands method, path, query and body to ``dispatch.handle``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from stadslab.core import json_limits
from stadslab.core.auth import Principal, get_principal
from stadslab.core.database import begin_write, get_session
from stadslab.core.errors import StadslabError
from stadslab.core.security import current_request_id

from . import batch
from ..write import group_commit, service
from .dispatch import StaResponse, handle, observation_created, parse_body
from ..register import register_router  # noqa: F401  (re-exported for app.py)
from ..read.serialize import links_for

router = APIRouter(tags=["sensorthings"])


class UnsupportedMediaType(StadslabError):
    status = 415
    title = "Unsupported media type"


def _links(request: Request):
    settings = request.app.state.settings
    return links_for(request.headers, str(request.base_url), settings.external_base_url)


def _respond(resp: StaResponse) -> Response:
    if resp.text is not None:
        return Response(resp.text, status_code=resp.status, media_type="text/plain; charset=utf-8",
                        headers=resp.headers)
    if resp.body is None:
        return Response(status_code=resp.status, headers=resp.headers)
    return Response(json_limits.dumps(resp.body), status_code=resp.status, media_type="application/json",
                    headers=resp.headers)


@router.get("", include_in_schema=False)
@router.get("/", summary="SensorThings service root")
def root(request: Request) -> Response:
    mqtt = getattr(request.app.state, "mqtt", None)
    mqtt_url = request.app.state.settings.mqtt_url if mqtt is not None and mqtt.enabled else None
    return _respond(StaResponse(200, service.service_root(_links(request), mqtt_url)))


@router.post("/$batch", summary="JSON batch request (OData 4.01 JSON format)")
async def batch_request(request: Request, session: Session = Depends(get_session),
                        principal: Principal = Depends(get_principal)) -> Response:
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in ("application/json", ""):
        raise UnsupportedMediaType(f"$batch accepts application/json (JSON batch), not {ctype[:60]}")
    body = parse_body(await request.body())
    requests = body.get("requests") if isinstance(body, dict) else None
    if isinstance(requests, list) and any(not isinstance(r, dict) or str(r.get("method", "")).upper() != "GET"
                                          for r in requests):
        await run_in_threadpool(begin_write, session)
    result = await run_in_threadpool(batch.handle, session, request.app.state.settings, _links(request), body,
                                     principal=principal)
    return _respond(StaResponse(200, result))


@router.api_route("/{path:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                  summary="SensorThings API resources (OGC 18-088)")
async def resource(path: str, request: Request) -> Response:
    body = await request.body() if request.method in ("POST", "PATCH", "PUT") else None
    writer = request.app.state.group_commit
    if request.method == "POST" and writer is not None:
        item = group_commit.candidate(path, request.headers.get("authorization"), body)
        if item is not None:  # one Observation: stored together with others arriving now
            row = await writer.store(item, current_request_id())
            if row is not None:
                return _respond(observation_created(row, _links(request)))
    return _respond(await run_in_threadpool(_resource, request, path, body))


def _resource(request: Request, path: str, body: bytes | None) -> StaResponse:
    """Authentication, the session and the request in one worker-thread hop.

    The hub's hot paths (one Observation POSTed, the newest page of a Datastream) are
    small; resolving ``get_principal`` and ``get_session`` as FastAPI dependencies would
    cost three more thread hand-offs per request than the work itself needs.
    """
    principal = get_principal(request)
    with request.app.state.db.session() as session:
        if request.method != "GET":
            begin_write(session)  # SQLite: concurrent writers queue instead of "database is locked"
        return handle(session, request.app.state.settings, _links(request), request.method, path,
                      list(request.query_params.multi_items()), body, principal=principal,
                      content_type=request.headers.get("content-type", "application/json"))
