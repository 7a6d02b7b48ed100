"""Who may change what in the hub: the ``sta:write`` scope plus the right organisation.

Ownership follows the Thing. A Thing has an owner organisation; its
Datastreams, MultiDatastreams, HistoricalLocations and their Observations are
that organisation's too, so changing any of them needs write rights on the
Thing's owner (``core.auth.authorize_write``: an editor of that organisation, or
an administrator). Locations, FeaturesOfInterest, Sensors and ObservedProperties
are shared between Things: changing or deleting one needs write rights on every
Thing owner it reaches (a Sensor's deletion takes the Datastreams of all of
them), and when it reaches none, any caller with ``sta:write`` may. A Location or
FeatureOfInterest also keeps the organisation that claimed it first (``claims``),
whose rights it needs as well, also once no Thing reaches it any more.

Linking an existing entity needs the same rights as changing it: an owned one (a
Datastream for an Observation) changes, and a Location or FeatureOfInterest linked
to the caller's own Thing would show the caller its owner's exact position.

Order of the answers: no credentials 401, no ``sta:write`` 403 (both before
anything is looked up, so nothing leaks), then an entity the caller cannot see
is 404 exactly like an unknown id, and one they can see but not change is 403.

A :class:`WriteGuard` lives for one request (one ``Writer``) and remembers the
owners it has looked up and cleared, so a deep insert of a thousand
Observations asks about their Datastream once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from stadslab.core.auth import AUTH_REQUIRED, NOT_PERMITTED, WWW_AUTHENTICATE, Principal, authorize_write
from stadslab.core.errors import Forbidden, Unauthorized

from ..model import tables as m
from . import visibility
from ..model.tables import ACCESS_CLASSES
from ..model.values import bad

SCOPE = "sta:write"
#: Entity types owned through one Thing; the rest are shared.
OWNED = ("Thing", "Datastream", "MultiDatastream", "Observation", "HistoricalLocation")
#: Shared entity types that hold a position and keep the organisation that claimed them.
CLAIMED = ("Location", "FeatureOfInterest")

T = m.Thing.__table__
DS = m.Datastream.__table__
MDS = m.MultiDatastream.__table__
OBS = m.Observation.__table__
HL = m.HistoricalLocation.__table__
STREAMS = {"Datastream": DS, "MultiDatastream": MDS}


def require_writer(p: Principal) -> Principal:
    """Any STA write: 401 without credentials (unless ``anonymous_writes``), 403 without ``sta:write``."""
    if p.is_anonymous:
        if p.anonymous_writes:
            return p
        raise Unauthorized(AUTH_REQUIRED, headers=WWW_AUTHENTICATE)
    if not p.has_scope(SCOPE) or p.role not in ("editor", "admin"):
        raise Forbidden(NOT_PERMITTED)
    return p


class WriteGuard:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal
        self._cleared: set[int | None] = set()
        self._stream_owner: dict[tuple[str, int], int | None] = {}
        #: entities inserted in this request, per type (for the audit event of a deep insert)
        self.created: dict[str, int] = {}

    # ------------------------------------------------------------------ owners
    def authorize_owner(self, owner: int | None) -> None:
        if owner in self._cleared:
            return
        authorize_write(self.principal, owner, SCOPE)
        self._cleared.add(owner)

    def thing_owner(self, thing_id: int | None) -> int | None:
        return self.session.scalar(select(T.c.owner_organisation_id).where(T.c.id == thing_id))

    def stream_owner(self, kind: str, stream_id: int) -> int | None:
        key = (kind, stream_id)
        if key not in self._stream_owner:
            s = STREAMS[kind]
            self._stream_owner[key] = self.session.scalar(
                select(T.c.owner_organisation_id).join(s, s.c.thing_id == T.c.id).where(s.c.id == stream_id))
        return self._stream_owner[key]

    def owners(self, entity: str, id_: int) -> set[int | None]:
        """The owner organisations of the Things an entity belongs to or reaches."""
        s = self.session
        if entity == "Thing":
            return {self.thing_owner(id_)}
        if entity in STREAMS:
            return {self.stream_owner(entity, id_)}
        if entity == "HistoricalLocation":
            return {self.thing_owner(s.scalar(select(HL.c.thing_id).where(HL.c.id == id_)))}
        if entity == "Observation":
            row = s.execute(select(OBS.c.datastream_id, OBS.c.multi_datastream_id).where(OBS.c.id == id_)).first()
            if row is None:
                return set()
            kind, sid = ("Datastream", row[0]) if row[0] is not None else ("MultiDatastream", row[1])
            return {self.stream_owner(kind, sid)}
        return set(s.scalars(_shared_owners(entity, id_)))

    def check_change(self, entity: str, id_: int) -> None:
        """May the caller change or delete this (visible) entity?"""
        owners = self.owners(entity, id_)
        if not owners:
            require_writer(self.principal)
        for owner in owners:
            self.authorize_owner(owner)

    # ------------------------------------------------------------------ hooks of the Writer
    def visible(self, entity: str) -> list:
        """Extra conditions for looking up an entity to link: hidden ones are as unknown."""
        return visibility.where(self.principal, entity)

    def check_link(self, entity: str, id_: int) -> None:
        """Linking an existing owned entity (a Datastream for an Observation, a Thing for a
        Datastream, Observations moved into a Datastream) changes it, and linking a Location or
        FeatureOfInterest makes its position the linking Thing's: write rights needed."""
        if entity in OWNED or entity in CLAIMED:
            self.check_change(entity, id_)

    def before_insert(self, entity: str, values: dict[str, Any], loc: list) -> None:
        if entity == "Thing":
            owner = values.get("owner_organisation_id")
            if owner is None and self.principal.organisation_id is not None:
                owner = values["owner_organisation_id"] = self.principal.organisation_id
                if not values.get("owner_name"):
                    values["owner_name"] = self._organisation_name(owner)
            self.authorize_owner(owner)
        elif entity in STREAMS:
            values["access_class"] = _stream_class(values.get("properties"), loc) or "open"
            self.authorize_owner(self.thing_owner(values.get("thing_id")))
        elif entity == "Observation":
            if values.get("datastream_id") is not None:
                self.authorize_owner(self.stream_owner("Datastream", values["datastream_id"]))
            elif values.get("multi_datastream_id") is not None:
                self.authorize_owner(self.stream_owner("MultiDatastream", values["multi_datastream_id"]))
        elif entity == "HistoricalLocation":
            self.authorize_owner(self.thing_owner(values.get("thing_id")))
        self.created[entity] = self.created.get(entity, 0) + 1

    def before_update(self, entity: str, values: dict[str, Any], current, loc: list) -> None:
        """Ownership and access class change only when stated; a new owner needs rights too.

        ``properties`` is replaced as a whole by PATCH/PUT, and the register columns
        are derived from it; a client that leaves ``register.owner.organisation_id``
        or ``register.access_class`` (or ``locationPrecision``) out must not silently give a
        Thing away, open restricted data or publish a coarsened position exactly, so those keep
        their current value unless given.
        """
        if entity == "Thing" and "owner_organisation_id" in values:
            props = values.get("properties")
            reg = props.get("register") if isinstance(props, dict) else None
            reg = reg if isinstance(reg, dict) else {}
            owner = reg.get("owner") if isinstance(reg.get("owner"), dict) else {}
            if owner.get("organisation_id") is None:
                values["owner_organisation_id"] = current["owner_organisation_id"]
                if values.get("owner_name") is None:
                    values["owner_name"] = current["owner_name"]
            elif values["owner_organisation_id"] != current["owner_organisation_id"]:
                self.authorize_owner(values["owner_organisation_id"])
            if "access_class" not in reg:
                values["access_class"] = current["access_class"]
            if "locationPrecision" not in reg:  # a coarsened position is not made exact by omission
                values["location_precision_m"] = current["location_precision_m"]
        elif entity in STREAMS and "properties" in values:
            values["access_class"] = _stream_class(values["properties"], loc) or current["access_class"]

    def _organisation_name(self, organisation_id: int) -> str | None:
        from stadslab.network.models import Organisation

        return self.session.scalar(select(Organisation.name).where(Organisation.id == organisation_id))


def _stream_class(properties: Any, loc: list) -> str | None:
    value = properties.get("access_class") if isinstance(properties, dict) else None
    if value is not None and value not in ACCESS_CLASSES:
        raise bad([*loc, "properties", "access_class"], f"must be one of: {', '.join(ACCESS_CLASSES)}")
    return value


def _shared_owners(entity: str, id_: int):
    """SELECT of the Thing owners a shared entity reaches (deleting it would touch their data)."""
    owner = T.c.owner_organisation_id
    if entity == "Location":
        tl, hll, loc = m.thing_locations, m.historical_location_locations, m.Location.__table__
        return union(
            select(owner).join(tl, tl.c.thing_id == T.c.id).where(tl.c.location_id == id_),
            select(owner).join(HL, HL.c.thing_id == T.c.id).join(hll, hll.c.historical_location_id == HL.c.id)
            .where(hll.c.location_id == id_),
            select(loc.c.owner_organisation_id).where(loc.c.id == id_, loc.c.owner_organisation_id.is_not(None)))
    if entity == "FeatureOfInterest":
        foi = m.FeatureOfInterest.__table__
        streams = select(OBS.c.datastream_id, OBS.c.multi_datastream_id).where(
            OBS.c.feature_of_interest_id == id_).distinct().subquery()
        return union(
            select(owner).join(DS, DS.c.thing_id == T.c.id).where(DS.c.id.in_(select(streams.c.datastream_id))),
            select(owner).join(MDS, MDS.c.thing_id == T.c.id)
            .where(MDS.c.id.in_(select(streams.c.multi_datastream_id))),
            select(foi.c.owner_organisation_id).where(foi.c.id == id_, foi.c.owner_organisation_id.is_not(None)))
    if entity == "Sensor":
        return union(select(owner).join(DS, DS.c.thing_id == T.c.id).where(DS.c.sensor_id == id_),
                     select(owner).join(MDS, MDS.c.thing_id == T.c.id).where(MDS.c.sensor_id == id_))
    if entity == "ObservedProperty":
        link = m.multi_datastream_observed_properties
        return union(
            select(owner).join(DS, DS.c.thing_id == T.c.id).where(DS.c.observed_property_id == id_),
            select(owner).join(MDS, MDS.c.thing_id == T.c.id).join(link, link.c.multi_datastream_id == MDS.c.id)
            .where(link.c.observed_property_id == id_))
    raise AssertionError(entity)
