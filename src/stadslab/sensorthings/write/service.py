"""Use cases of the hub: the service root document and writes addressed by a resource path.

Each write function runs in the caller's session and commits only when asked
(``commit=True``, the default); ``$batch`` passes ``commit=False`` and wraps
change sets in savepoints instead.

Every write takes the caller's ``principal``: it needs ``sta:write`` and the
right organisation (``authz``), an entity the caller cannot see is a 404, and
the change is written to the audit trail in the same unit of work (``auditing``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jsonpatch
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.core.errors import BadRequest, Conflict, StadslabError
from stadslab.core.json_limits import check_value

from . import auditing, observation_post
from ..filter import sta as filtering
from ..access.authz import OWNED, require_writer
from ..model.entities import BY_SET, EntityType
from ..read.reader import resolve
from ..read.serialize import Links, property_value
from ..model.urls import ResourcePath
from .writer import Writer

SPEC = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
AGGREGATE_CONFORMANCE = "urn:stadslab:sta:1.1:aggregate"


MQTT_CLASSES = (SPEC + "create-observations-via-mqtt/observations-creation",
                SPEC + "receive-updates-via-mqtt/receive-updates")


def public_mqtt_endpoint(url: str) -> str:
    """The broker URL without credentials (the service root is public)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


#: The granular requirements of OGC 18-088 (SensorThings 1.1 Sensing) this hub meets, below each
#: requirement class it lists: clients written against FROST-Server look for these.
GRANULAR = {
    "datamodel": ("thing/properties", "thing/relations", "location/properties", "location/relations",
                  "historical-location/properties", "historical-location/relations",
                  "datastream/properties", "datastream/relations", "sensor/properties", "sensor/relations",
                  "observed-property/properties", "observed-property/relations", "observation/properties",
                  "observation/relations", "feature-of-interest/properties", "feature-of-interest/relations",
                  "entity-control-information/common-control-information"),
    "resource-path": ("resource-path-to-entities",),
    "request-data": ("order", "expand", "select", "status-code", "query-status-code", "orderby", "top",
                     "skip", "count", "filter", "built-in-filter-operations", "built-in-query-functions",
                     "pagination"),
    "create-update-delete": ("create-entity", "link-to-existing-entities", "deep-insert",
                             "deep-insert-status-code", "update-entity", "delete-entity",
                             "historical-location-auto-creation", "update-entity-jsonpatch"),
    "multi-datastream": ("properties", "relations", "constraints", "create-update-delete"),
}


def conformance() -> list[str]:
    classes = [SPEC + "datamodel", SPEC + "resource-path/resource-path-to-entities"]
    if filtering.available():
        classes.append(SPEC + "request-data")
    classes += [SPEC + "create-update-delete", SPEC + "multi-datastream", SPEC + "data-array/data-array",
                SPEC + "batch-request/batch-request",
                "http://docs.oasis-open.org/odata/odata-json-format/v4.01/odata-json-format-v4.01.html",
                "https://datatracker.ietf.org/doc/html/rfc6902", AGGREGATE_CONFORMANCE]
    for cls, requirements in GRANULAR.items():
        if cls == "request-data" and not filtering.available():
            continue
        classes += [f"{SPEC}{cls}/{r}" for r in requirements if f"{SPEC}{cls}/{r}" not in classes]
    return classes


def service_root(links: Links, mqtt_url: str | None = None) -> dict:
    """``mqtt_url``: the broker of a running MQTT extension, announced with its conformance classes."""
    classes = conformance()
    settings: dict[str, Any] = {
        AGGREGATE_CONFORMANCE: {"url": links.path("Datastreams({id})/Observations/$aggregate"),
                                "parameters": ["interval", "from", "to"]},
    }
    if mqtt_url:
        classes += list(MQTT_CLASSES)
        endpoint = public_mqtt_endpoint(mqtt_url)
        for cls in MQTT_CLASSES:
            settings[cls] = {"endpoints": [endpoint]}
    return {"value": [{"name": name, "url": links.path(name)} for name in BY_SET],
            "serverSettings": {"conformance": classes, **settings}}


def _unit_of_work(session: Session, commit: bool, fn):
    """Run a write; map database constraint errors to 4xx; commit or roll back as one unit."""
    try:
        result = fn()
        if commit:
            session.commit()
        else:
            session.flush()
        return result
    except StadslabError:
        if commit:
            session.rollback()
        raise
    except IntegrityError as exc:
        if commit:
            session.rollback()
        raise Conflict("The change violates a data constraint (a referenced entity is missing or in use)",
                       errors=[{"loc": ["body"], "field": "body", "msg": str(exc.orig)[:200]}]) from None
    except DataError as exc:
        if commit:
            session.rollback()
        raise BadRequest("A value does not fit its field",
                         errors=[{"loc": ["body"], "field": "body", "msg": str(exc.orig)[:200]}]) from None


def create_observation(session: Session, rp: ResourcePath, body: Any, *, principal: Principal,
                       commit: bool = True):
    """The single-Observation fast path (``observation_post``) as one unit of work.

    Returns the stored row, or None when the request is not its shape (or would fail):
    then nothing was written and ``create`` must answer.
    """
    row = _unit_of_work(session, False, lambda: observation_post.create(session, rp, body, principal))
    if row is not None and commit:
        session.commit()
    return row


def create(session: Session, rp: ResourcePath, body: Any, *, principal: Principal, commit: bool = True,
           audit: bool = True) -> tuple[EntityType, int]:
    """``audit=False``: the caller records one event for a whole batch of creates (MQTT, LoRaWAN)."""
    require_writer(principal)
    if not rp.is_collection or rp.ref or rp.aggregate:
        raise BadRequest("POST must address an entity set, e.g. Things or Things(1)/Datastreams",
                         errors=[{"loc": ["path"], "field": "path", "msg": "not a collection"}])

    def run():
        writer = Writer(session, principal)
        res = resolve(session, rp, principal)
        preset: dict[str, Any] = {}
        skip = None
        if res.parent is not None:
            parent_et, parent_id, nav = res.parent
            if parent_et.name in OWNED:  # Things(1)/Datastreams adds to Thing 1: its owner decides
                writer.guard.check_change(parent_et.name, parent_id)
            from ..model.entities import reverse_nav
            back = reverse_nav(parent_et, nav)
            skip = back.name if back else None
            if nav.kind == "in":
                preset[nav.fk] = parent_id
        new_id = writer.create(res.entity, body, [], preset=preset, skip_nav=skip)
        if res.parent is not None and res.parent[2].kind == "link":
            parent_et, parent_id, nav = res.parent
            writer.add_links(parent_et, nav, parent_id, [new_id], [])
        writer.finish()
        if audit:
            after = auditing.snapshot(session, res.entity, new_id)
            created = {k: v for k, v in writer.guard.created.items() if k != res.entity.name or v > 1}
            if created:
                after["deep_insert"] = created
            auditing.record(session, principal, "create", res.entity, new_id, None, after)
        return res.entity, new_id

    return _unit_of_work(session, commit, run)


def _single(session: Session, rp: ResourcePath, verb: str, principal: Principal):
    require_writer(principal)
    if rp.is_collection or rp.ref or rp.prop or rp.aggregate:
        raise BadRequest(f"{verb} must address one entity, e.g. Things(1)",
                         errors=[{"loc": ["path"], "field": "path", "msg": "not a single entity"}])
    return resolve(session, rp, principal)


def update(session: Session, rp: ResourcePath, body: Any, *, principal: Principal, replace: bool = False,
           commit: bool = True) -> tuple[EntityType, int]:
    def run():
        res = _single(session, rp, "PUT" if replace else "PATCH", principal)
        before = auditing.snapshot(session, res.entity, res.id)
        writer = Writer(session, principal)
        writer.update(res.entity, res.id, body, replace=replace)
        writer.finish()
        auditing.record(session, principal, "update", res.entity, res.id, before,
                        auditing.snapshot(session, res.entity, res.id))
        return res.entity, res.id

    return _unit_of_work(session, commit, run)


def json_patch(session: Session, rp: ResourcePath, operations: Any, *, principal: Principal,
               commit: bool = True) -> tuple[EntityType, int]:
    """RFC 6902 JSON Patch over the entity's writable properties (e.g. /properties/owner)."""
    def run():
        res = _single(session, rp, "PATCH", principal)
        et = res.entity
        if not isinstance(operations, list):
            raise BadRequest("A JSON Patch document is an array of operations",
                             errors=[{"loc": ["body"], "field": "body", "msg": "expected an array"}])
        for i, op in enumerate(operations):  # jsonpatch copies values recursively: bound them first
            if isinstance(op, dict) and "value" in op:
                check_value(op["value"], [i, "value"])
        row = session.execute(et.table.select().where(et.table.c.id == res.id)).first()
        doc = {name: property_value(p, row._mapping) for name, p in et.props.items() if not p.read_only}
        try:
            patched = jsonpatch.apply_patch(doc, operations)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, ValueError) as exc:
            raise BadRequest(f"JSON Patch cannot be applied: {exc}",
                             errors=[{"loc": ["body"], "field": "body", "msg": str(exc)}]) from None
        if not isinstance(patched, dict):
            raise BadRequest("JSON Patch must leave an object")
        changed = {k: v for k, v in patched.items() if k not in doc or doc[k] != v}
        removed = [k for k in doc if k not in patched]
        for k in removed:
            changed[k] = None
        before = auditing.snapshot(session, et, res.id)
        writer = Writer(session, principal)
        if changed:
            writer.update(et, res.id, changed)
        else:
            writer.guard.check_change(et.name, res.id)  # an empty patch still needs the right
        writer.finish()
        auditing.record(session, principal, "update", et, res.id, before, auditing.snapshot(session, et, res.id))
        return et, res.id

    return _unit_of_work(session, commit, run)


def delete(session: Session, rp: ResourcePath, *, principal: Principal, commit: bool = True) -> None:
    def run():
        res = _single(session, rp, "DELETE", principal)
        before = auditing.snapshot(session, res.entity, res.id)
        writer = Writer(session, principal)
        writer.delete(res.entity, res.id)
        writer.finish()
        auditing.record(session, principal, "delete", res.entity, res.id, before, None)

    _unit_of_work(session, commit, run)
