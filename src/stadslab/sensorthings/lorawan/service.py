"""LoRaWAN use cases: managing integrations, devices and mappings; ingesting uplinks.

An uplink is stored as one unit: the ``lorawan_received`` row (the idempotency
key) and every Observation it yields are committed together or not at all, so
a redelivered message finds its key and stores nothing twice, and a message
that fails halfway leaves no key behind and can be retried.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stadslab.core.errors import NotFound, StadslabError, Unauthorized, ValidationFailed, field_error
from stadslab.core.unit_of_work import commit

from ..models import Datastream, Thing
from ..mqtt.store import ObservationStore, ServiceObservationStore
from ..values import format_instant
from . import secrets
from .formats import FORMATS, Ignored, Uplink
from .formats.base import dev_eui as parse_dev_eui
from .models import LorawanDevice, LorawanFieldMapping, LorawanIntegration, LorawanReceived
from .schemas import DeviceIn, IntegrationIn, MappingIn, UplinkResult

AUTH_FAILED = "Invalid or missing integration credentials"


def webhook_path(integration_id: int) -> str:
    return f"/api/v1/lorawan/{integration_id}/uplink"


# ---------------------------------------------------------------------------------- admin
def create_integration(session: Session, data: IntegrationIn) -> tuple[LorawanIntegration, str | None]:
    """Returns the integration and, when the server generated it, the secret (shown once)."""
    generated = None if data.secret else secrets.new_secret()
    integration = LorawanIntegration(name=data.name.strip(), kind=data.kind,
                                     secret_hash=secrets.hash_secret(data.secret or generated), active=True)
    session.add(integration)
    commit(session, "Integration not created")
    return integration, generated


def list_integrations(session: Session) -> list[LorawanIntegration]:
    return list(session.scalars(select(LorawanIntegration).order_by(LorawanIntegration.id)))


def get_device(session: Session, device_id: int) -> LorawanDevice:
    device = session.get(LorawanDevice, device_id)
    if device is None:
        raise NotFound(f"LoRaWAN device {device_id} does not exist")
    return device


def add_device(session: Session, integration_id: int, data: DeviceIn) -> LorawanDevice:
    if session.get(LorawanIntegration, integration_id) is None:
        raise NotFound(f"LoRaWAN integration {integration_id} does not exist")
    eui = parse_dev_eui(data.dev_eui, ["dev_eui"])
    if session.get(Thing, data.thing_id) is None:
        raise ValidationFailed(f"Thing {data.thing_id} does not exist",
                               errors=[field_error(["thing_id"], "no such Thing")])
    device = LorawanDevice(integration_id=integration_id, dev_eui=eui, thing_id=data.thing_id, name=data.name)
    session.add(device)
    commit(session, f"Device {eui} not added")
    return device


def add_mapping(session: Session, device_id: int, data: MappingIn) -> LorawanFieldMapping:
    device = get_device(session, device_id)
    stream_thing = session.scalar(select(Datastream.thing_id).where(Datastream.id == data.datastream_id))
    if stream_thing is None:
        raise ValidationFailed(f"Datastream {data.datastream_id} does not exist",
                               errors=[field_error(["datastream_id"], "no such Datastream")])
    if stream_thing != device.thing_id:
        raise ValidationFailed(f"Datastream {data.datastream_id} belongs to Thing {stream_thing}, "
                               f"not to this device's Thing {device.thing_id}",
                               errors=[field_error(["datastream_id"], "belongs to another Thing")])
    mapping = LorawanFieldMapping(device_id=device.id, field=data.field.strip(), datastream_id=data.datastream_id,
                                  scale=data.scale, offset=data.offset)
    session.add(mapping)
    commit(session, f"Field '{data.field[:60]}' not mapped")
    return mapping


def mappings_of(session: Session, device_id: int) -> list[LorawanFieldMapping]:
    return list(session.scalars(select(LorawanFieldMapping).where(LorawanFieldMapping.device_id == device_id)
                                .order_by(LorawanFieldMapping.id)))


# ---------------------------------------------------------------------------------- webhook
def authenticate(session: Session, integration_id: int, secret: str | None) -> LorawanIntegration:
    """One 401 for every failure (unknown id, inactive, wrong or missing secret)."""
    integration = session.get(LorawanIntegration, integration_id)
    stored = integration.secret_hash if integration is not None else None
    if not secrets.verify_secret(secret, stored) or not integration.active:
        raise Unauthorized(AUTH_FAILED, headers={"WWW-Authenticate": 'Bearer realm="stadslab-lorawan"'})
    return integration


def ingest_uplink(session: Session, integration: LorawanIntegration, body: Any, params: dict[str, str],
                  store: ObservationStore | None = None) -> UplinkResult:
    parsed = FORMATS[integration.kind].parse(body, params)
    if isinstance(parsed, Ignored):
        return UplinkResult(status="ignored", note=parsed.reason)
    if _already_received(session, integration.id, parsed.message_id):
        return _duplicate(parsed)
    device = session.scalar(select(LorawanDevice).where(LorawanDevice.integration_id == integration.id,
                                                        LorawanDevice.dev_eui == parsed.dev_eui))
    if device is None:
        raise NotFound(f"Device {parsed.dev_eui} is not registered for integration '{integration.name}'; "
                       f"register it first (POST /api/v1/lorawan/integrations/{integration.id}/devices)",
                       errors=[field_error(["dev_eui"], "unknown device")])
    mappings = mappings_of(session, device.id)
    bodies, datastreams, missing = _observations(parsed, mappings)
    try:
        received = LorawanReceived(integration_id=integration.id, message_id=parsed.message_id,
                                   device_id=device.id, observations=len(bodies))
        session.add(received)
        session.flush()  # claims the message id before any Observation is written
        ids = (store or ServiceObservationStore()).create_observations(session, bodies) if bodies else []
        session.commit()
    except IntegrityError:
        session.rollback()
        if _already_received(session, integration.id, parsed.message_id):
            return _duplicate(parsed)  # a concurrent redelivery won the race
        raise
    except StadslabError:
        session.rollback()
        raise
    mapped = {m.field.split(".")[0] for m in mappings}
    return UplinkResult(status="stored", message_id=parsed.message_id, observations=ids, missing=missing,
                        unmapped=sorted(k for k in parsed.decoded if k not in mapped),
                        note=f"{len(ids)} Observation(s) stored on Datastream(s) "
                             f"{', '.join(str(d) for d in datastreams) or '-'}")


def _already_received(session: Session, integration_id: int, message_id: str) -> bool:
    return session.scalar(select(LorawanReceived.id).where(LorawanReceived.integration_id == integration_id,
                                                           LorawanReceived.message_id == message_id)) is not None


def _duplicate(parsed: Uplink) -> UplinkResult:
    return UplinkResult(status="duplicate", message_id=parsed.message_id,
                        note="this message was received before; nothing stored again")


def _observations(uplink: Uplink, mappings: list[LorawanFieldMapping],
                  ) -> tuple[list[dict], list[int], list[str]]:
    bodies, datastreams, missing = [], [], []
    when = format_instant(uplink.received_at)
    for mapping in mappings:
        path = mapping.field.split(".")
        found, value = _lookup(uplink.decoded, path)
        if not found:
            missing.append(mapping.field)
            continue
        if mapping.scale is not None or mapping.offset is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValidationFailed(f"decoded field '{mapping.field}' must be a number to apply scale/offset",
                                       errors=[field_error(["decoded", *path], "must be a number")])
            value = value * (1.0 if mapping.scale is None else mapping.scale) + (mapping.offset or 0.0)
        parameters = {k: v for k, v in (("fPort", uplink.f_port), ("fCnt", uplink.f_cnt)) if v is not None}
        bodies.append({"result": value, "phenomenonTime": when, "Datastream": {"@iot.id": mapping.datastream_id},
                       **({"parameters": {"lorawan": parameters}} if parameters else {})})
        datastreams.append(mapping.datastream_id)
    return bodies, datastreams, missing


def _lookup(obj: Any, path: list[str]) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return False, None
        obj = obj[key]
    return (obj is not None), obj
