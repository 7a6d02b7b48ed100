"""Creating Observations for the MQTT and LoRaWAN ingest paths.

A small seam on top of the STA service: both ingest paths need "store this
Observation JSON, optionally under a parent collection" with the same
validation and deep-insert rules as ``POST /sta/v1.1/...``, and both must
announce what they stored (``changes.record``). Nothing is committed here; callers own the unit of
work so a batch is all-or-nothing.

Both act for a ``principal`` (the MQTT client's API token, the LoRaWAN
integration), whose write rights the STA service checks as for ``POST``, and
both are audited with one event per message, not one per Observation.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from sqlalchemy.orm import Session

from sqlalchemy import select

from stadslab.core.auth import Principal
from stadslab.core.errors import BadRequest, StadslabError

from ..write import auditing, service
from ..model.entities import ENTITY_TYPES
from ..model.urls import parse_path
from . import changes

#: Parents under which an Observation may be created (OGC 18-088 §14.2.2).
OBSERVATION_PARENTS = ("Datastream", "MultiDatastream", "FeatureOfInterest")

Parent = tuple[str, int]


class ObservationStore(Protocol):
    def create_observations(self, session: Session, bodies: list[Any], parent: Parent | None = None, *,
                            principal: Principal, via: str = "mqtt") -> list[int]: ...


def observation_parent(path: str) -> Parent | None:
    """``Observations`` → None; ``Datastreams(1)/Observations`` → ("Datastream", 1).

    Raises ``BadRequest`` for any path that is not an Observation collection one
    may create in.
    """
    rp = parse_path(path)
    if not rp.is_collection or rp.target.name != "Observation" or rp.ref or rp.aggregate:
        raise BadRequest(f"'{path[:100]}' is not an Observations collection")
    if len(rp.segments) == 1:
        return None
    owner = rp.segments[0]
    if len(rp.segments) != 2 or owner.key is None or owner.entity.name not in OBSERVATION_PARENTS:
        raise BadRequest(f"Observations can be created in Observations, "
                         f"{', '.join(ENTITY_TYPES[p].set_name + '(id)/Observations' for p in OBSERVATION_PARENTS)}"
                         f"; not in '{path[:100]}'")
    return owner.entity.name, owner.key


class ServiceObservationStore:
    """The default store: the STA service's own create, so rules match ``POST`` exactly."""

    def create_observations(self, session: Session, bodies: list[Any], parent: Parent | None = None, *,
                            principal: Principal, via: str = "mqtt") -> list[int]:
        path = "Observations" if parent is None else f"{ENTITY_TYPES[parent[0]].set_name}({parent[1]})/Observations"
        rp = parse_path(path)
        ids = []
        for i, body in enumerate(bodies):
            if isinstance(body, dict) and "@iot.id" in body:
                # Also what keeps a server notification (it has an id) from being stored again.
                loc = [str(i)] if len(bodies) > 1 else []
                raise BadRequest("an Observation to create must not carry @iot.id",
                                 errors=[{"loc": [*loc, "@iot.id"], "field": ".".join([*loc, "@iot.id"]),
                                          "msg": "ids are assigned by the server"}])
            _, new_id = service.create(session, rp, body, principal=principal, commit=False, audit=False)
            changes.record(session, "Observation", new_id)
            ids.append(new_id)
        if ids:
            obs = ENTITY_TYPES["Observation"].table
            streams = session.execute(select(obs.c.datastream_id, obs.c.multi_datastream_id)
                                      .where(obs.c.id.in_(ids)).distinct()).all()
            auditing.record_observations(session, principal, len(ids), [d for d, _ in streams if d is not None],
                                         [md for _, md in streams if md is not None], via=via)
        return ids


_QUOTED = re.compile(r"'[^']*'")


def describe(exc: StadslabError) -> str:
    """A log line for a rejected message: the rule and the field, never the payload.

    Validation messages quote offending values (``'xyz' is not a date-time``);
    those quotes are blanked, because a payload may carry personal data.
    """
    where = ", ".join(e.get("field", "") for e in exc.errors if e.get("field"))
    detail = _QUOTED.sub("'…'", exc.detail)[:200]
    return f"{exc.title}: {detail}" + (f" (at {_QUOTED.sub(chr(39) * 2, where)[:100]})" if where else "")
