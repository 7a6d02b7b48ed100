"""LoRaWAN use cases: managing integrations, devices and mappings; ingesting uplinks.

An uplink is stored as one unit: the ``lorawan_received`` row (the idempotency
key) and every Observation it yields are committed together or not at all, so
a redelivered message finds its key and stores nothing twice, and a message
that fails halfway leaves no key behind and can be retried.

Management (integrations, devices, mappings) is for administrators and for
editors of the integration's owner organisation; a device's Thing and a
mapping's Datastream must moreover be writable by the caller (and visible: one
it may not see is as unknown). Every change is audited. The webhook itself is
authenticated by the integration secret alone and then writes as the
integration (``integration_principal``): what it may write was decided when
its devices and mappings were registered.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stadslab.core.database import utcnow
from stadslab.core.auth import Principal, authorize_write, require_scope
from stadslab.core.errors import NotFound, StadslabError, Unauthorized, ValidationFailed, field_error
from stadslab.core.json_limits import check_value
from stadslab.core.unit_of_work import unit_of_work
from stadslab.governance import audit
from stadslab.network.models import Organisation

from ..access import visibility
from ..model.tables import Datastream, Thing
from ..mqtt.store import ObservationStore, ServiceObservationStore
from ..model.values import format_instant
from . import receptions, secrets
from .formats import FORMATS, Ignored, Uplink
from .formats.base import dev_eui as parse_dev_eui
from .models import LorawanDevice, LorawanFieldMapping, LorawanIntegration, LorawanReceived
from .schemas import DeviceIn, IntegrationIn, MappingIn, UplinkResult

AUTH_FAILED = "Invalid or missing integration credentials"
SCOPE = "sta:write"


def integration_principal(integration: LorawanIntegration) -> Principal:
    """Who the webhook writes as: the integration, on behalf of its owner organisation.

    The secret authenticates it; the Datastreams it may feed were authorised when an
    editor of the owner organisation (or an administrator) mapped them. It reads and
    writes like a system account (audited as ``system`` with the owner organisation).
    """
    return Principal(user_id=None, organisation_id=integration.owner_organisation_id, role="admin",
                     scopes=frozenset({"sta:write", "sta:read"}), via="system")


def _snapshot(obj) -> dict[str, Any]:
    """Audit snapshot without secrets."""
    cols = {"LorawanIntegration": ("id", "name", "kind", "active", "owner_organisation_id"),
            "LorawanDevice": ("id", "integration_id", "dev_eui", "thing_id", "name"),
            "LorawanFieldMapping": ("id", "device_id", "field", "datastream_id", "scale", "offset")}
    return {c: getattr(obj, c) for c in cols[type(obj).__name__]}


def webhook_path(integration_id: int) -> str:
    return f"/api/v1/lorawan/{integration_id}/uplink"


# ---------------------------------------------------------------------------------- admin
def create_integration(session: Session, data: IntegrationIn, principal: Principal,
                       ) -> tuple[LorawanIntegration, str | None]:
    """Returns the integration and, when the server generated it, the secret (shown once).

    The owner is the caller's organisation unless given; only administrators may
    register integrations for another organisation (or for none).
    """
    owner = data.owner_organisation_id if data.owner_organisation_id is not None else principal.organisation_id
    authorize_write(principal, owner, SCOPE)
    if owner is not None and session.get(Organisation, owner) is None:
        raise ValidationFailed(f"Organisation {owner} does not exist",
                               errors=[field_error(["owner_organisation_id"], "no such organisation")])
    generated = None if data.secret else secrets.new_secret()
    integration = LorawanIntegration(name=data.name.strip(), kind=data.kind, owner_organisation_id=owner,
                                     secret_hash=secrets.hash_secret(data.secret or generated), active=True)
    with unit_of_work(session, "Integration not created"):
        session.add(integration)
        session.flush()
        audit.record(session, principal, "create", "lorawan_integration", integration.id, None,
                     _snapshot(integration))
    return integration, generated


def list_integrations(session: Session, principal: Principal) -> list[LorawanIntegration]:
    """Administrators see every integration, editors those of their own organisation."""
    require_scope(principal, SCOPE)
    stmt = select(LorawanIntegration).order_by(LorawanIntegration.id)
    if principal.role != "admin":
        authorize_write(principal, principal.organisation_id, SCOPE)  # editors only
        stmt = stmt.where(LorawanIntegration.owner_organisation_id == principal.organisation_id)
    return list(session.scalars(stmt))


def _integration(session: Session, integration_id: int, principal: Principal) -> LorawanIntegration:
    integration = session.get(LorawanIntegration, integration_id)
    if integration is None:
        raise NotFound(f"LoRaWAN integration {integration_id} does not exist")
    authorize_write(principal, integration.owner_organisation_id, SCOPE)
    return integration


def managed_device(session: Session, device_id: int, principal: Principal) -> LorawanDevice:
    """A device the caller may manage: its integration's owner decides."""
    device = get_device(session, device_id)
    authorize_write(principal, session.scalar(select(LorawanIntegration.owner_organisation_id)
                                              .where(LorawanIntegration.id == device.integration_id)), SCOPE)
    return device


def get_device(session: Session, device_id: int) -> LorawanDevice:
    device = session.get(LorawanDevice, device_id)
    if device is None:
        raise NotFound(f"LoRaWAN device {device_id} does not exist")
    return device


def add_device(session: Session, integration_id: int, data: DeviceIn, principal: Principal) -> LorawanDevice:
    """The device's Thing must be one the caller may see (else: as unknown) and write."""
    _integration(session, integration_id, principal)
    eui = parse_dev_eui(data.dev_eui, ["dev_eui"])
    thing = session.execute(select(Thing.id, Thing.owner_organisation_id).where(
        Thing.id == data.thing_id, *visibility.where(principal, "Thing", Thing.__table__))).first()
    if thing is None:
        raise ValidationFailed(f"Thing {data.thing_id} does not exist",
                               errors=[field_error(["thing_id"], "no such Thing")])
    authorize_write(principal, thing.owner_organisation_id, SCOPE)
    device = LorawanDevice(integration_id=integration_id, dev_eui=eui, thing_id=data.thing_id, name=data.name)
    with unit_of_work(session, f"Device {eui} not added"):
        session.add(device)
        session.flush()
        audit.record(session, principal, "create", "lorawan_device", device.id, None, _snapshot(device))
    return device


def add_mapping(session: Session, device_id: int, data: MappingIn, principal: Principal) -> LorawanFieldMapping:
    device = managed_device(session, device_id, principal)
    stream_thing = session.scalar(select(Datastream.thing_id).where(
        Datastream.id == data.datastream_id, *visibility.where(principal, "Datastream", Datastream.__table__)))
    if stream_thing is None:
        raise ValidationFailed(f"Datastream {data.datastream_id} does not exist",
                               errors=[field_error(["datastream_id"], "no such Datastream")])
    if stream_thing != device.thing_id:
        raise ValidationFailed(f"Datastream {data.datastream_id} belongs to Thing {stream_thing}, "
                               f"not to this device's Thing {device.thing_id}",
                               errors=[field_error(["datastream_id"], "belongs to another Thing")])
    authorize_write(principal, session.scalar(select(Thing.owner_organisation_id).where(Thing.id == stream_thing)),
                    SCOPE)
    mapping = LorawanFieldMapping(device_id=device.id, field=data.field.strip(), datastream_id=data.datastream_id,
                                  scale=data.scale, offset=data.offset)
    with unit_of_work(session, f"Field '{data.field[:60]}' not mapped"):
        session.add(mapping)
        session.flush()
        audit.record(session, principal, "create", "lorawan_mapping", mapping.id, None, _snapshot(mapping))
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
        return _ignored(session, parsed)
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
        heard = receptions.record(session, parsed.receptions, parsed.received_at, received_id=received.id,
                                  device=device, decoded=parsed.decoded)
        ids = (store or ServiceObservationStore()).create_observations(
            session, bodies, principal=integration_principal(integration),
            via=f"lorawan integration {integration.id}") if bodies else []
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
                        receptions=heard.stored, rejected_receptions=heard.rejected,
                        note=f"{len(ids)} Observation(s) stored on Datastream(s) "
                             f"{', '.join(str(d) for d in datastreams) or '-'}")


def _ignored(session: Session, parsed: Ignored) -> UplinkResult:
    """A message without measurements; the gateways it names are sightings (own transaction)."""
    if not parsed.receptions:
        return UplinkResult(status="ignored", note=parsed.reason)
    with unit_of_work(session, "Gateway sightings not stored"):
        heard = receptions.record(session, parsed.receptions, utcnow())
    return UplinkResult(status="ignored", note=parsed.reason, rejected_receptions=heard.rejected)


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
        check_value(value, ["decoded", *path])  # becomes a result: bounded like any free JSON
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
