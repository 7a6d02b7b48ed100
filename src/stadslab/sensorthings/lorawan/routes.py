"""HTTP endpoints of the LoRaWAN ingest, mounted under /api/v1.

The webhook authenticates with the integration's own secret (``X-Stadslab-Secret``
or ``Authorization: Bearer``), checked before the body is even parsed, so an
unauthenticated caller learns nothing about what a valid message looks like.

The admin endpoints create integrations, devices and mappings: administrators,
and editors of the integration's owner organisation (``service`` checks it).
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from stadslab.core.auth import Principal, authenticate_writer, get_principal, known_up_front
from stadslab.core.database import get_session
from stadslab.core.errors import BadRequest, StadslabError, field_error
from stadslab.ops.metrics import observations_ingested

from . import service
from .schemas import (DeviceIn, DeviceOut, IntegrationCreated, IntegrationIn, IntegrationOut, MappingIn,
                      MappingOut, UplinkResult)

lorawan_router = APIRouter(prefix="/lorawan", tags=["lorawan"])


class UnsupportedMediaType(StadslabError):
    status = 415
    title = "Unsupported media type"


def _secret(request: Request) -> str | None:
    given = request.headers.get("x-stadslab-secret")
    if given:
        return given.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _integration_out(integration, secret: str | None = None) -> IntegrationCreated:
    out = IntegrationCreated.model_validate(integration)
    out.webhook_path = service.webhook_path(integration.id)
    out.secret = secret
    return out


@lorawan_router.post("/{integration_id}/uplink", response_model=UplinkResult,
                     summary="Webhook for uplinks of The Things Stack v3 or ChirpStack v4")
@known_up_front(public=True)
async def uplink(integration_id: int, request: Request, session: Session = Depends(get_session)) -> UplinkResult:
    integration = await run_in_threadpool(service.authenticate, session, integration_id, _secret(request))
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in ("application/json", ""):
        raise UnsupportedMediaType(f"expected application/json, got {ctype[:60]} (ChirpStack: use the "
                                   "JSON marshaler)")
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        msg = f"Malformed JSON: {str(exc)[:120]}"
        raise BadRequest(msg, errors=[field_error(["body"], msg)]) from None
    params = dict(request.query_params)
    result = await run_in_threadpool(service.ingest_uplink, session, integration, body, params)
    if result.status == "stored" and result.observations:
        observations_ingested.labels("lorawan").inc(len(result.observations))  # ops: /metrics
    return result


@lorawan_router.post("/integrations", status_code=201, response_model=IntegrationCreated,
                     summary="Register a network-server integration (returns a generated secret once)")
@known_up_front(scope=service.SCOPE)
def create_integration(data: IntegrationIn, response: Response, session: Session = Depends(get_session),
                       principal: Principal = Depends(get_principal)) -> IntegrationCreated:
    integration, secret = service.create_integration(session, data, principal)
    response.headers["Location"] = f"/api/v1/lorawan/integrations/{integration.id}"
    return _integration_out(integration, secret)


@lorawan_router.get("/integrations", response_model=list[IntegrationOut])
def list_integrations(session: Session = Depends(get_session),
                      principal: Principal = Depends(get_principal)) -> list[IntegrationCreated]:
    return [_integration_out(i) for i in service.list_integrations(session, principal)]


@lorawan_router.post("/integrations/{integration_id}/devices", status_code=201, response_model=DeviceOut)
@known_up_front(scope=service.SCOPE)
def add_device(integration_id: int, data: DeviceIn, response: Response, session: Session = Depends(get_session),
               principal: Principal = Depends(get_principal)) -> DeviceOut:
    authenticate_writer(principal)
    device = service.add_device(session, integration_id, data, principal)
    response.headers["Location"] = f"/api/v1/lorawan/devices/{device.id}"
    return DeviceOut.model_validate(device)


@lorawan_router.get("/devices/{device_id}", response_model=DeviceOut)
def get_device(device_id: int, session: Session = Depends(get_session),
               principal: Principal = Depends(get_principal)) -> DeviceOut:
    device = service.managed_device(session, device_id, principal)
    out = DeviceOut.model_validate(device)
    out.mappings = [MappingOut.model_validate(m) for m in service.mappings_of(session, device_id)]
    return out


@lorawan_router.post("/devices/{device_id}/mappings", status_code=201, response_model=MappingOut)
@known_up_front(scope=service.SCOPE)
def add_mapping(device_id: int, data: MappingIn, session: Session = Depends(get_session),
                principal: Principal = Depends(get_principal)) -> MappingOut:
    authenticate_writer(principal)
    return MappingOut.model_validate(service.add_mapping(session, device_id, data, principal))
