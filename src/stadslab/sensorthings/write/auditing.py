"""The hub's entries in the governance audit trail: one event per write request.

Entity types are ``sta.<EntityType>`` (``sta.Thing``, ``sta.Observation``).
Snapshots hold an entity's writable properties plus what governs access
(owner organisation, access class); Observation results are measurement data,
not governance, and are left out. Bulk creates (``CreateObservations``, MQTT,
LoRaWAN) are one event per request with the count and the (Multi)Datastream
ids, never one per row: the ingest path stays one small insert per request.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.governance import audit

from ..model.entities import EntityType
from ..read.serialize import property_value

#: Columns outside the STA properties that matter for governance.
_GOVERNED = {"Thing": ("owner_organisation_id", "access_class"), "Datastream": ("access_class", "thing_id"),
             "MultiDatastream": ("access_class", "thing_id"), "HistoricalLocation": ("thing_id",),
             "Observation": ("datastream_id", "multi_datastream_id", "feature_of_interest_id")}
_LEFT_OUT = {"Observation": ("result", "parameters", "resultQuality")}


def entity_type(et: EntityType) -> str:
    return f"sta.{et.name}"


def snapshot(session: Session, et: EntityType, id_: int) -> dict[str, Any] | None:
    row = session.execute(select(et.table).where(et.table.c.id == id_)).first()
    if row is None:
        return None
    return snapshot_row(et, row._mapping)


def snapshot_row(et: EntityType, row) -> dict[str, Any]:
    """``snapshot`` of a row the caller already holds (e.g. from ``INSERT ... RETURNING``)."""
    skip = _LEFT_OUT.get(et.name, ())
    out = {name: property_value(p, row) for name, p in et.props.items() if not p.read_only and name not in skip}
    out.update({col: row[col] for col in _GOVERNED.get(et.name, ())})
    return out


def created(principal: Principal, et: EntityType, row, request_id: str | None = None) -> audit.Entry:
    """The event of a created entity whose row the caller holds (``INSERT ... RETURNING``): the
    single-POST fast path writes it alone (``record_created``), the group commit many at once."""
    return audit.Entry(principal, "create", entity_type(et), row["id"], None, snapshot_row(et, row), request_id)


def record_created(session: Session, principal: Principal, et: EntityType, row) -> None:
    e = created(principal, et, row)
    audit.record(session, e.principal, e.action, e.entity_type, e.entity_id, e.before, e.after)


def record(session: Session, principal: Principal, action: str, et: EntityType, id_: int | None,
           before: Any = None, after: Any = None) -> None:
    audit.record(session, principal, action, entity_type(et), id_, before, after)


def record_observations(session: Session, principal: Principal, count: int, datastreams: Iterable[int] = (),
                        multi_datastreams: Iterable[int] = (), **extra: Any) -> None:
    """One event for a bulk create of Observations."""
    if count <= 0:
        return
    after = {"count": count, "datastreams": sorted(set(datastreams)),
             "multi_datastreams": sorted(set(multi_datastreams)), **extra}
    audit.record(session, principal, "create", "sta.Observation", None, None, after)
