"""The hot write of a live hub: one Observation POSTed to a Datastream.

Sensors that do not batch send one small Observation at a time, thousands per
second across a city. The general writer (``writer.Writer``) answers every shape
of deep insert, and pays for it per request: it resolves the path, looks the
owner up, then the Thing's Location for the generated FeatureOfInterest, reads
the stream summary, inserts, updates the summary and reads the new row back:
about a dozen statements. This module does the same work for the common shape,

    POST Datastreams(7)/Observations  {"phenomenonTime": .., "result": ..}
    POST Observations                 {"result": .., "Datastream": {"@iot.id": 7}}

in four: one read of everything the rules need (the Datastream as the caller may
see it, its Thing's owner, its observedArea and the FeatureOfInterest of the
Thing's current Location), the INSERT ... RETURNING (whose row is the answer),
the summary UPDATE and the audit event.

It only ever takes the happy path. Whatever it cannot do exactly as the general
writer would (an inline or linked FeatureOfInterest, a Thing without a generated
FeatureOfInterest yet, an unknown or hidden Datastream, a caller without write
rights, an invalid value, a MultiDatastream) it hands back untouched, before it
has written anything, and the general writer answers: so every error response
and every rule stays defined in one place, and the two paths cannot disagree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ARRAY, any_, bindparam, insert, select
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, may_write
from stadslab.core.errors import BadRequest

from . import auditing, rules
from ..access import visibility
from ..access.authz import SCOPE
from ..model.entities import ENTITY_TYPES
from ..model.tables import Datastream, FeatureOfInterest, Location, Thing
from ..mqtt.changes import record
from ..model.urls import ResourcePath
from .writer import property_values, valid_id

OBSERVATION = ENTITY_TYPES["Observation"]
OBS = OBSERVATION.table
DS = Datastream.__table__
T = Thing.__table__
L = Location.__table__
FOI = FeatureOfInterest.__table__
_PROPS = frozenset(OBSERVATION.props)


def stream_target(rp: ResourcePath, body: Any) -> int | None:
    """The Datastream id of a request the fast path can take, else None."""
    if not isinstance(body, dict) or rp.ref or rp.prop or rp.aggregate or rp.value:
        return None
    segs = rp.segments
    if len(segs) == 1 and segs[0].name == "Observations" and segs[0].key is None:
        linked = body.get("Datastream")
        if not (isinstance(linked, dict) and len(linked) == 1):
            return None
        ds = linked.get("@iot.id")
    elif (len(segs) == 2 and segs[0].name == "Datastreams" and segs[0].key is not None
          and segs[1].name == "Observations" and segs[1].key is None and "Datastream" not in body):
        ds = segs[0].key
    else:
        return None
    if not valid_id(ds) or any(k not in _PROPS for k in body if k != "Datastream"):
        return None
    return ds


def context(principal: Principal, *also, ids_as_array: bool = False):
    """One row per Datastream of the ``ds_ids`` parameter (a list) that the caller can see: its
    id, its Thing's owner, its observedArea, and the generated FeatureOfInterest (id and feature)
    of the Thing's current Location.

    ``also``: further conditions (the group commit re-checks a remembered token here). The
    statement depends on the caller only, so a caller's statement can be built once and reused.
    ``ids_as_array``: ``id = ANY(:ds_ids)`` (PostgreSQL) instead of an expanding ``IN``, so that
    the compiled SQL is the same for any number of ids.
    """
    wanted = (DS.c.id == any_(bindparam("ds_ids", type_=ARRAY(DS.c.id.type))) if ids_as_array
              else DS.c.id.in_(bindparam("ds_ids", expanding=True)))
    # correlate(DS): ``foi_id`` always refers to the outer Datastream row, also nested inside
    # ``feature``; left to itself SQLAlchemy would give that copy a sta_datastreams of its own
    # (the feature of whichever Thing had the newest Location).
    foi_id = rules.current_location(DS.c.thing_id, L.c.generated_foi_id).correlate(DS).scalar_subquery()
    feature = select(FOI.c.feature).where(FOI.c.id == foi_id).scalar_subquery()
    return (select(DS.c.id, T.c.owner_organisation_id, DS.c.observed_area, foi_id.label("foi_id"),
                   feature.label("feature"))
            .join(T, T.c.id == DS.c.thing_id)
            .where(wanted, *visibility.where(principal, "Datastream"), *also))


def writable(principal: Principal, ctx) -> bool:
    """Whether the fast path may store into the Datastream of ``ctx`` (a ``context`` row) for the caller."""
    return ctx is not None and ctx.foi_id is not None and may_write(principal, ctx.owner_organisation_id, SCOPE)


def row_values(body: dict, ds_id: int) -> dict[str, Any] | None:
    """The row to insert (without its FeatureOfInterest), or None when the general writer must answer."""
    try:
        out = {"datastream_id": ds_id, **property_values(OBSERVATION, body, [])}
    except BadRequest:
        return None  # the general writer words the error
    rules.default_phenomenon_time(out)
    return out


def create(session: Session, rp: ResourcePath, body: Any, principal: Principal, *, audit: bool = True):
    """Store the Observation and return its row, or None when the general writer must answer.

    Does not commit: the caller's unit of work does.
    """
    ds_id = stream_target(rp, body)
    if ds_id is None:
        return None
    ctx = session.execute(context(principal), {"ds_ids": [ds_id]}).first()
    if not writable(principal, ctx):
        return None
    values = row_values(body, ds_id)
    if values is None:
        return None
    values["feature_of_interest_id"] = ctx.foi_id
    row = session.execute(insert(OBS).values(**values).returning(*OBS.c)).one()._mapping
    record(session, "Observation", row["id"])
    rules.extend_stream(session, "Datastream", ds_id, [values], known=(ctx.observed_area, [ctx.feature]))
    if audit:
        auditing.record_created(session, principal, OBSERVATION, row)
    return row
