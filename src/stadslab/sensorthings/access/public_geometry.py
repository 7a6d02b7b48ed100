"""Which geometry a caller gets: exact for owners and administrators, coarsened for everyone else.

The rule (``precision`` has the grid): a Location's or FeatureOfInterest's exact
geometry is seen by network administrators and by members of an organisation that
owns a Thing linked to it (a Location: through ``Thing/Locations`` or a
HistoricalLocation; a FeatureOfInterest: generated from such a Location, or observed
by such a Thing's (Multi)Datastreams), or that claimed it first (``claims``). Everyone
else gets the coarsened copy, made with the coarsest precision among the Things involved.

Outputs (STA JSON, ``$select``, ``$expand``, MQTT, sensor register, OGC API, web
pages) all go through :func:`public_rows` or :func:`thing_geometries`. Queries go
through :func:`filter_geometry`: a non-owner's ``$filter`` is evaluated against the
stored coarsened copy (``CASE`` on ownership per row), so ``geo.distance`` or
``st_within`` probes can never learn more than the published cell. A copy that is
not computed yet (NULL) is neither shown nor matched.

Copies are computed lazily (:func:`refresh_pending`) in their own short transaction;
triggers (migration 0013) reset them when their inputs change.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, delete, exists, func, insert, or_, select, true, union, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.core.config import Settings

from ..model import tables as m
from .precision import effective, snap
from .visibility import unrestricted

log = logging.getLogger("stadslab.sta.precision")

LOC, FOI, T = m.Location.__table__, m.FeatureOfInterest.__table__, m.Thing.__table__
TL, HLL, HL = m.thing_locations, m.historical_location_locations, m.HistoricalLocation.__table__
DS, MDS, OBS = m.Datastream.__table__, m.MultiDatastream.__table__, m.Observation.__table__
DEFAULTS = m.public_precision_defaults
#: entity -> (geometry column, public copy column); Datastreams have no copy (see filter_geometry)
GEOMETRY = {"Location": ("location", "public_location"), "FeatureOfInterest": ("feature", "public_feature"),
            "Datastream": ("observed_area", None), "MultiDatastream": ("observed_area", None)}
BATCH = 500


@dataclass(frozen=True)
class Defaults:
    default_m: int
    sensitive_m: int

    def of(self, explicit, placement, personal) -> int:
        return effective(explicit, placement, personal, default_m=self.default_m, sensitive_m=self.sensitive_m)


_FIELDS = Settings.model_fields
FALLBACK = Defaults(_FIELDS["public_location_precision_m"].default,
                    _FIELDS["public_location_precision_sensitive_m"].default)
_SYNCED: "weakref.WeakKeyDictionary[Engine, Defaults]" = weakref.WeakKeyDictionary()


def owner_org(p: Principal) -> int | None:
    """The organisation whose Things ``p`` sees exactly (None: none)."""
    if p.is_anonymous or not p.has_scope("sta:read"):
        return None
    return p.organisation_id


# --- defaults ------------------------------------------------------------------------------

def defaults(session: Session, settings: Settings | None = None) -> Defaults:
    """The defaults in force; with ``settings``, first make the database agree with them (once per
    engine and process): copies made with other defaults are reset."""
    engine = session.get_bind()
    if settings is not None:
        want = Defaults(settings.public_location_precision_m, settings.public_location_precision_sensitive_m)
        if _SYNCED.get(engine) != want and _sync(session, want):
            _SYNCED[engine] = want
        return want
    known = _SYNCED.get(engine)
    if known is not None:
        return known
    row = session.execute(select(DEFAULTS.c.default_m, DEFAULTS.c.sensitive_m).limit(1)).first()
    return Defaults(*row) if row is not None else FALLBACK


def _sync(session: Session, want: Defaults) -> bool:
    def run(s: Session) -> None:
        row = s.execute(select(DEFAULTS.c.default_m, DEFAULTS.c.sensitive_m).limit(1)).first()
        if row is not None and Defaults(*row) == want:
            return
        s.execute(update(LOC).values(public_location=None, public_precision_m=None))
        s.execute(update(FOI).values(public_feature=None, public_precision_m=None))
        s.execute(delete(DEFAULTS))
        s.execute(insert(DEFAULTS).values(id=1, default_m=want.default_m, sensitive_m=want.sensitive_m))
    return _own_transaction(session, run)


def _own_transaction(session: Session, fn) -> bool:
    """Run ``fn`` in a transaction of its own, so what it stores outlives a read-only request.

    Inside a request that has written already (SQLite holds its write lock; a PostgreSQL
    transaction may hold row locks) it runs in the caller's transaction instead, never waiting
    on it. Failure is not fatal: the copies then stay NULL, which shows and matches nothing.
    """
    engine = session.get_bind()
    if not isinstance(engine, Engine) or _writing(session):
        fn(session)
        return True
    try:
        with Session(engine) as own:
            if engine.dialect.name == "postgresql":
                own.execute(select(func.set_config("lock_timeout", "2s", True)))
            fn(own)
            own.commit()
        return True
    except Exception:  # noqa: BLE001 - a lost race (lock, deadlock) leaves the copies NULL: safe
        log.warning("public location copies not refreshed", exc_info=True)
        return False


def _writing(session: Session) -> bool:
    if session.new or session.dirty or session.deleted:
        return True
    if not session.in_transaction():
        return False
    if session.get_bind().dialect.name == "sqlite":
        return bool(session.connection().connection.dbapi_connection.in_transaction)
    return bool(session.scalar(select(func.txid_current_if_assigned().is_not(None))))


# --- precision of stored rows ---------------------------------------------------------------

def _thing_columns():
    return T.c.location_precision_m, T.c.placement, T.c.processes_personal_data


def _fold(rows, d: Defaults, out: dict[int, int] | None = None) -> dict[int, int]:
    """Coarsest precision per key over (key, Thing columns) rows."""
    out = {} if out is None else out
    for key, explicit, placement, personal in rows:
        out[key] = max(out.get(key, 0), d.of(explicit, placement, personal))
    return out


def location_precisions(session: Session, ids: list[int], d: Defaults) -> dict[int, int]:
    """Per Location: the coarsest precision of the Things linked to it.

    A Location (or FeatureOfInterest) that no Thing reaches gets the sensitive default, or the
    precision of its claim (``claims``) when that is coarser, until it is linked (linking resets
    the copy): an orphan is never published more exactly than its owner published it."""
    if not ids:
        return {}
    rows = session.execute(union(
        select(TL.c.location_id, *_thing_columns()).join(T, T.c.id == TL.c.thing_id).where(TL.c.location_id.in_(ids)),
        select(HLL.c.location_id, *_thing_columns()).join(HL, HL.c.id == HLL.c.historical_location_id)
        .join(T, T.c.id == HL.c.thing_id).where(HLL.c.location_id.in_(ids)))).all()
    found = _fold(rows, d)
    return _orphans(session, LOC, ids, found, d)


def _orphans(session: Session, table, ids: list[int], found: dict[int, int], d: Defaults) -> dict[int, int]:
    orphans = [i for i in ids if i not in found]
    claimed = dict(session.execute(select(table.c.id, table.c.owner_precision_m).where(
        table.c.id.in_(orphans))).all()) if orphans else {}
    return {i: found[i] if i in found else max(d.sensitive_m, claimed.get(i) or 0) for i in ids}


def feature_precisions(session: Session, ids: list[int], d: Defaults) -> dict[int, int]:
    """Per FeatureOfInterest: the coarsest of its generating Locations and its observing Things."""
    if not ids:
        return {}
    generated = session.execute(select(LOC.c.generated_foi_id, LOC.c.id).where(LOC.c.generated_foi_id.in_(ids))).all()
    by_location = location_precisions(session, [loc for _, loc in generated], d)
    out: dict[int, int] = {}
    for foi, loc in generated:
        out[foi] = max(out.get(foi, 0), by_location[loc])
    rows = session.execute(union(
        select(OBS.c.feature_of_interest_id, *_thing_columns()).join(DS, DS.c.id == OBS.c.datastream_id)
        .join(T, T.c.id == DS.c.thing_id).where(OBS.c.feature_of_interest_id.in_(ids)),
        select(OBS.c.feature_of_interest_id, *_thing_columns()).join(MDS, MDS.c.id == OBS.c.multi_datastream_id)
        .join(T, T.c.id == MDS.c.thing_id).where(OBS.c.feature_of_interest_id.in_(ids)))).all()
    found = _fold(rows, d, out)
    return _orphans(session, FOI, ids, found, d)


_KINDS = {"Location": (LOC, "location", "public_location", location_precisions),
          "FeatureOfInterest": (FOI, "feature", "public_feature", feature_precisions)}


def compute(session: Session, entity: str, ids: list[int], d: Defaults) -> dict[int, tuple[Any, int]]:
    """(public geometry, precision) of these rows, from the current data (nothing stored)."""
    table, column, _, precisions = _KINDS[entity]
    found = dict(session.execute(select(table.c.id, table.c[column]).where(table.c.id.in_(ids))).all())
    levels = precisions(session, list(found), d)
    return {i: (snap(geometry, levels[i]), levels[i]) for i, geometry in found.items()}


def refresh_pending(session: Session, settings: Settings | None = None) -> None:
    """Compute the copies that are NULL (new rows, or reset by a trigger) and store them."""
    d = defaults(session, settings)
    for entity, (table, _, public, _) in _KINDS.items():
        if session.scalar(select(table.c.id).where(table.c[public].is_(None)).limit(1)) is None:
            continue

        def run(s: Session, entity=entity, table=table, public=public) -> None:
            while True:
                pending = select(table.c.id).where(table.c[public].is_(None)).order_by(table.c.id).limit(BATCH)
                if s.get_bind().dialect.name == "postgresql":
                    pending = pending.with_for_update(skip_locked=True)
                ids = list(s.scalars(pending))
                if not ids:
                    return
                done = compute(s, entity, ids, d)
                for i in ids:  # a row deleted meanwhile is not in ``done``
                    geometry, level = done.get(i, ({}, 0))
                    s.execute(update(table).where(table.c.id == i).values(
                        {public: geometry if geometry is not None else {}, "public_precision_m": level}))
                if len(ids) < BATCH:
                    return
        _own_transaction(session, run)


# --- outputs --------------------------------------------------------------------------------

def _owned_locations(org: int):
    """Locations ``org`` sees exactly: reached by its Things, or claimed by it (``claims``)."""
    return union(
        select(TL.c.location_id).join(T, T.c.id == TL.c.thing_id).where(T.c.owner_organisation_id == org),
        select(HLL.c.location_id).join(HL, HL.c.id == HLL.c.historical_location_id)
        .join(T, T.c.id == HL.c.thing_id).where(T.c.owner_organisation_id == org),
        select(LOC.c.id).where(LOC.c.owner_organisation_id == org))


def _owns_feature(org: int, f) -> ColumnElement[bool]:
    o = OBS.alias()
    streams = select(DS.c.id).join(T, T.c.id == DS.c.thing_id).where(T.c.owner_organisation_id == org)
    multis = select(MDS.c.id).join(T, T.c.id == MDS.c.thing_id).where(T.c.owner_organisation_id == org)
    return or_(f.c.owner_organisation_id == org,
               f.c.id.in_(select(LOC.c.generated_foi_id).where(LOC.c.id.in_(_owned_locations(org)))),
               exists(select(o.c.id).where(o.c.feature_of_interest_id == f.c.id,
                                           or_(o.c.datastream_id.in_(streams), o.c.multi_datastream_id.in_(multis)))))


def _owned(session: Session, entity: str, org: int | None, ids: list[int]) -> set[int]:
    if org is None or not ids:
        return set()
    if entity == "Location":
        return set(session.scalars(select(LOC.c.id).where(LOC.c.id.in_(ids), LOC.c.id.in_(_owned_locations(org)))))
    return set(session.scalars(select(FOI.c.id).where(FOI.c.id.in_(ids), _owns_feature(org, FOI))))


def public_rows(session: Session, principal: Principal, entity: str, rows: list[Mapping],
                settings: Settings | None = None) -> list[Mapping]:
    """``rows`` (of ``entity``'s table) with their geometry as ``principal`` may see it."""
    if entity not in GEOMETRY or not rows or unrestricted(principal):
        return rows
    column, public = GEOMETRY[entity]
    if column not in rows[0]:
        return rows
    d = defaults(session, settings)
    org = owner_org(principal)
    if public is None:
        return _streams(session, rows, org, d)
    owned = _owned(session, entity, org, [r["id"] for r in rows])
    missing = [r["id"] for r in rows if r["id"] not in owned and r.get(public) is None]
    fresh = compute(session, entity, missing, d) if missing else {}
    out = []
    for r in rows:
        if r["id"] in owned:
            out.append(r)
            continue
        value = fresh[r["id"]][0] if r["id"] in fresh else r.get(public)
        out.append({**r, column: value or None})
    return out


def _streams(session: Session, rows: list[Mapping], org: int | None, d: Defaults) -> list[Mapping]:
    """observedArea: snapped with the precision of the (Multi)Datastream's Thing."""
    things = {r["thing_id"] for r in rows if r.get("observed_area") is not None}
    if not things:
        return rows
    info = {i: (owner, d.of(*rest)) for i, owner, *rest in session.execute(
        select(T.c.id, T.c.owner_organisation_id, *_thing_columns()).where(T.c.id.in_(things)))}
    out = []
    for r in rows:
        owner, level = info.get(r["thing_id"], (None, d.default_m))
        if r.get("observed_area") is None or (org is not None and owner == org) or not level:
            out.append(r)
        else:
            out.append({**r, "observed_area": snap(r["observed_area"], level)})
    return out


def thing_geometries(session: Session, principal: Principal, thing_ids: list[int],
                     settings: Settings | None = None) -> dict[int, dict]:
    """The first (lowest id) Location geometry of each Thing as ``principal`` sees it (register, OGC API)."""
    if not thing_ids:
        return {}
    rows = [r._mapping for r in session.execute(
        select(TL.c.thing_id, LOC.c.id, LOC.c.location, LOC.c.public_location)
        .join(LOC, LOC.c.id == TL.c.location_id).where(TL.c.thing_id.in_(thing_ids)).order_by(LOC.c.id))]
    out: dict[int, dict] = {}
    for r in public_rows(session, principal, "Location", rows, settings):
        value = r["location"]
        geometry = value.get("geometry") if isinstance(value, dict) and value.get("type") == "Feature" else value
        if isinstance(geometry, dict) and "type" in geometry:
            out.setdefault(r["thing_id"], geometry)
    return out


# --- queries --------------------------------------------------------------------------------

def _thing_exact(t) -> ColumnElement[bool]:
    stored = select(DEFAULTS.c.default_m).limit(1).scalar_subquery()
    stored_sensitive = select(DEFAULTS.c.sensitive_m).limit(1).scalar_subquery()
    level = case((t.c.location_precision_m.is_not(None), t.c.location_precision_m),
                 (or_(t.c.placement == "mobile", t.c.processes_personal_data == true()),
                  func.coalesce(stored_sensitive, FALLBACK.sensitive_m)),
                 else_=func.coalesce(stored, FALLBACK.default_m))
    return level == 0


def filter_geometry(principal: Principal, entity: str, table, exact: ColumnElement) -> ColumnElement | None:
    """The geometry a ``$filter`` of ``principal`` compares against, or None for the exact column.

    Datastreams keep no coarsened observedArea: a non-owner's filter matches it only where the
    Thing's position is public exactly (elsewhere it is NULL, which no spatial test matches).
    """
    if entity not in GEOMETRY or unrestricted(principal):
        return None
    org = owner_org(principal)
    _, public = GEOMETRY[entity]
    if public is None:
        t = T.alias()
        allowed = _thing_exact(t) if org is None else or_(_thing_exact(t), t.c.owner_organisation_id == org)
        return case((exists(select(t.c.id).where(t.c.id == table.c.thing_id, allowed)), exact))
    if org is None:  # nothing of its own: the copy alone, which filter.sta hands its spatial index
        return table.c[public]
    owned = table.c.id.in_(_owned_locations(org)) if entity == "Location" else _owns_feature(org, table)
    return case((owned, exact), else_=table.c[public])
