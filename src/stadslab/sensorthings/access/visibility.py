"""Which STA rows a caller may see: one SQL condition per entity type, from the access classes.

A Thing carries an ``access_class`` (open | network | restricted) and an owner
organisation; Datastreams and MultiDatastreams carry their own class as well.
The rule (``core.auth.readable_access_classes_clause``) decides per class; this
module spreads it over the data model:

* Thing: its class is readable.
* Datastream / MultiDatastream: its own class is readable *and* its Thing is
  visible. ``restricted`` belongs to the Thing's owner organisation.
* Observation: its (Multi)Datastream is visible.
* HistoricalLocation: its Thing is visible. Location: linked to at least one
  visible Thing, now or in a HistoricalLocation (a Thing that moved keeps its old
  Locations); linked to no Thing at all: its claim (``claims``) is readable.
* FeatureOfInterest: at least one visible Observation; no Observation at all: its
  claim is readable. A row nobody ever claimed is open, as before.
* Sensor, ObservedProperty: metadata, always visible (the Datastreams behind
  them are filtered like any other Datastream).

Every reader asks :func:`clause` at the one place where it builds a query for
an entity set (collections, single entities, navigation, ``$expand``, the
``$filter`` resolver's navigation and ``any()``), so a hidden row behaves
exactly like a row that does not exist. The rules are defined so that what a
visible row points at through a to-one navigation is visible too.

``None`` means "no restriction" (administrators, metadata): callers then add
nothing to their query, which keeps the administrator's queries unchanged.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, readable_access_classes_clause

from ..model import tables as m

T = m.Thing.__table__
DS = m.Datastream.__table__
MDS = m.MultiDatastream.__table__
OBS = m.Observation.__table__
HL = m.HistoricalLocation.__table__
THING_LOCATIONS = m.thing_locations
HISTORICAL_LINKS = m.historical_location_locations

#: Entity types whose rows are owned through a Thing (and so can be hidden).
GUARDED = ("Thing", "Datastream", "MultiDatastream", "Observation", "HistoricalLocation", "Location",
           "FeatureOfInterest")


def unrestricted(p: Principal) -> bool:
    """Sees everything (the same shortcut ``readable_access_classes_clause`` takes)."""
    return p.role == "admin" and p.has_scope("sta:read")


def _thing(p: Principal, t) -> ColumnElement[bool]:
    return readable_access_classes_clause(p, t.c.access_class, t.c.owner_organisation_id)


def visible_thing_ids(p: Principal):
    t = T.alias()
    return select(t.c.id).where(_thing(p, t))


def _stream(p: Principal, s) -> ColumnElement[bool]:
    t = T.alias()
    return exists(select(t.c.id).where(
        t.c.id == s.c.thing_id, _thing(p, t),
        readable_access_classes_clause(p, s.c.access_class, t.c.owner_organisation_id)))


def _observation(p: Principal, o) -> ColumnElement[bool]:
    ds, mds = DS.alias(), MDS.alias()
    return or_(o.c.datastream_id.in_(select(ds.c.id).where(_stream(p, ds))),
               o.c.multi_datastream_id.in_(select(mds.c.id).where(_stream(p, mds))))


def _historical_location(p: Principal, h) -> ColumnElement[bool]:
    return h.c.thing_id.in_(visible_thing_ids(p))


def _claim(p: Principal, row) -> ColumnElement[bool]:
    """The claim of an orphaned Location or FeatureOfInterest is readable (none: open)."""
    return or_(row.c.owner_access_class.is_(None),
               readable_access_classes_clause(p, row.c.owner_access_class, row.c.owner_organisation_id))


def _location(p: Principal, loc) -> ColumnElement[bool]:
    link, hl, hll = THING_LOCATIONS.alias(), HL.alias(), HISTORICAL_LINKS.alias()
    linked = select(link.c.thing_id).where(link.c.location_id == loc.c.id)
    was = (select(hl.c.thing_id).join(hll, hll.c.historical_location_id == hl.c.id)
           .where(hll.c.location_id == loc.c.id))
    return or_(exists(linked.where(link.c.thing_id.in_(visible_thing_ids(p)))),
               exists(was.where(hl.c.thing_id.in_(visible_thing_ids(p)))),
               and_(~exists(linked), ~exists(was), _claim(p, loc)))


def _feature(p: Principal, f) -> ColumnElement[bool]:
    o = OBS.alias()
    observed = select(o.c.id).where(o.c.feature_of_interest_id == f.c.id)
    return or_(exists(observed.where(_observation(p, o))), and_(~exists(observed), _claim(p, f)))


_RULES = {
    "Thing": _thing,
    "Datastream": _stream,
    "MultiDatastream": _stream,
    "Observation": _observation,
    "HistoricalLocation": _historical_location,
    "Location": _location,
    "FeatureOfInterest": _feature,
}


def clause(p: Principal, entity: str, table=None) -> ColumnElement[bool] | None:
    """The condition a row of ``entity`` (in ``table``, default its own table) must meet to be seen by ``p``.

    ``table`` may be an alias: the condition is correlated to it.
    """
    rule = _RULES.get(entity)
    if rule is None or unrestricted(p):
        return None
    if table is None:
        from ..model.entities import ENTITY_TYPES
        table = ENTITY_TYPES[entity].table
    return rule(p, table)


def visible_ids(session: Session, p: Principal, entity: str, ids) -> set[int]:
    """The ids among ``ids`` that exist and ``p`` may see: for routes outside /sta (exports, the
    catalogue, evidence) that take ids, so a hidden one is answered exactly like an unknown one."""
    from ..model.entities import ENTITY_TYPES

    ids = {i for i in ids if isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63}
    if not ids:
        return set()
    table = ENTITY_TYPES[entity].table
    return set(session.scalars(select(table.c.id).where(table.c.id.in_(ids), *where(p, entity, table))))


def where(p: Principal, entity: str, table=None) -> list[ColumnElement[bool]]:
    """``clause`` as a list for ``stmt.where(*...)``: empty when nothing is hidden."""
    c = clause(p, entity, table)
    return [] if c is None else [c]


def both(*conditions: ColumnElement[bool] | None) -> ColumnElement[bool] | None:
    present = [c for c in conditions if c is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else and_(*present)
