"""Integrity rules of the STA data model that the server maintains itself (OGC 18-088 §10.2).

* A Thing that gets a new Location gets a HistoricalLocation (time = now).
* An Observation without FeatureOfInterest gets one made from its Thing's
  Location; it is reused while the Thing stays put and renewed when the Thing
  moves (new Location) or its Location's geometry changes.
* Datastreams and MultiDatastreams carry phenomenonTime, resultTime and
  observedArea summarised from their Observations.
* A Thing claims the Locations it is linked to and the FeaturesOfInterest generated
  for it (``claims``), so they stay its owner's when the link is gone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely.geometry import mapping
from shapely.ops import unary_union
from sqlalchemy import bindparam, case, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from stadslab.core.database import utcnow

from ..access import claims
from ..model import tables as m
from ..mqtt.changes import record
from ..model.values import as_utc, bad, geometry_of

T = m.Thing.__table__
L = m.Location.__table__
HL = m.HistoricalLocation.__table__
DS = m.Datastream.__table__
MDS = m.MultiDatastream.__table__
FOI = m.FeatureOfInterest.__table__
OBS = m.Observation.__table__
STREAMS = {"Datastream": (DS, "datastream_id"), "MultiDatastream": (MDS, "multi_datastream_id")}


def set_thing_locations(session: Session, thing_id: int, location_ids: list[int], *, replace: bool) -> None:
    """Give a Thing (new) Locations and record the move as a HistoricalLocation."""
    current = set(session.scalars(select(m.thing_locations.c.location_id)
                                  .where(m.thing_locations.c.thing_id == thing_id)))
    wanted = list(dict.fromkeys(location_ids))
    if replace and current == set(wanted):
        return
    if replace and current:
        session.execute(delete(m.thing_locations).where(m.thing_locations.c.thing_id == thing_id))
        current = set()
    new = [lid for lid in wanted if lid not in current]
    if not new:
        return
    session.execute(insert(m.thing_locations), [{"thing_id": thing_id, "location_id": lid} for lid in new])
    claims.claim(session, "Location", new, thing_id)
    now_locations = sorted(current | set(new))
    hl_id = session.execute(insert(HL).values(thing_id=thing_id, time=utcnow()).returning(HL.c.id)).scalar_one()
    record(session, "HistoricalLocation", hl_id)
    record(session, "Thing", thing_id, "update", {"Locations"})
    session.execute(insert(m.historical_location_locations),
                    [{"historical_location_id": hl_id, "location_id": lid} for lid in now_locations])


def stream_thing(session: Session, kind: str, stream_id: int) -> int:
    table, _ = STREAMS[kind]
    return session.scalar(select(table.c.thing_id).where(table.c.id == stream_id))


def stream_things(session: Session, kind: str, stream_ids: set[int]) -> dict[int, int]:
    """``stream_thing`` for several streams in one statement: stream id -> Thing id."""
    table, _ = STREAMS[kind]
    return dict(session.execute(select(table.c.id, table.c.thing_id).where(table.c.id.in_(stream_ids))).all())


def current_location(thing_id, *columns):
    """SELECT ``columns`` of a Thing's current Location: the newest one linked to it.

    ``thing_id`` may be a column (a correlated subquery, as the single-POST fast path uses it).
    """
    return (select(*columns).join(m.thing_locations, m.thing_locations.c.location_id == L.c.id)
            .where(m.thing_locations.c.thing_id == thing_id).order_by(L.c.id.desc()).limit(1))


def generated_foi(session: Session, thing_id: int, loc: list, cache: dict[int, int] | None = None) -> int:
    """The FeatureOfInterest for Observations of a Thing that came without one."""
    if cache is not None and thing_id in cache:
        return cache[thing_id]
    row = session.execute(current_location(thing_id, L.c.id, L.c.name, L.c.description, L.c.location,
                                           L.c.generated_foi_id)).first()
    if row is None:
        raise bad(loc, "required: the Thing of this Datastream has no Location to derive a "
                       "FeatureOfInterest from; give a FeatureOfInterest")
    foi_id = row.generated_foi_id
    if foi_id is None:
        foi_id = session.execute(insert(FOI).values(
            name=row.name, description=row.description, encoding_type="application/geo+json",
            feature=row.location, properties=None).returning(FOI.c.id)).scalar_one()
        session.execute(update(L).where(L.c.id == row.id).values(generated_foi_id=foi_id))
        claims.claim(session, "FeatureOfInterest", [foi_id], thing_id)
        record(session, "FeatureOfInterest", foi_id)
    if cache is not None:
        cache[thing_id] = foi_id
    return foi_id


def default_phenomenon_time(values: dict[str, Any]) -> None:
    """An Observation without phenomenonTime was observed now (OGC 18-088 §8.2.7)."""
    if "phenomenon_time_start" not in values:
        values["phenomenon_time_start"], values["phenomenon_time_end"] = now(), None


def extend_stream(session: Session, kind: str, stream_id: int, rows: list[dict[str, Any]],
                  known: tuple[dict | None, list[dict | None]] | None = None) -> None:
    """Fold newly inserted Observations into the stream's summary (cheap: no scan).

    ``known``: as for ``extend_stream_bounds`` (the single-POST fast path has read them already).
    """
    if not rows:
        return
    b = stream_bounds(stream_id, rows)
    extend_stream_bounds(session, kind, stream_id, b["p_start"], b["p_end"], b["r_start"], b["r_end"],
                         {r["feature_of_interest_id"] for r in rows}, known=known)


def stream_bounds(stream_id: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The time bounds that new Observations (``rows``, not empty) give a stream, in the form
    ``extend_streams_many`` takes."""
    r_times = [r["result_time"] for r in rows if r.get("result_time") is not None]
    return {"stream_id": stream_id, "p_start": min(r["phenomenon_time_start"] for r in rows),
            "p_end": max(r.get("phenomenon_time_end") or r["phenomenon_time_start"] for r in rows),
            "r_start": min(r_times, default=None), "r_end": max(r_times, default=None)}


def extend_stream_bounds(session: Session, kind: str, stream_id: int, p_start: datetime, p_end: datetime,
                         r_start: datetime | None, r_end: datetime | None, foi_ids: set[int],
                         known: tuple[dict | None, list[dict | None]] | None = None) -> None:
    """``extend_stream`` for callers that computed the new rows' time bounds themselves (bulk ingest).

    Two statements: one read (the current observedArea and the new FeaturesOfInterest) and one
    UPDATE whose time bounds are computed by the database (``LEAST``/``GREATEST``), so that
    concurrent writers to one stream never lose each other's bounds. ``known``: the current
    observedArea and the new FeaturesOfInterest's features, when the caller has read them
    already (the single-Observation fast path), which saves the read.
    """
    table, _ = STREAMS[kind]
    values = {
        "phenomenon_time_start": _earliest(session, table.c.phenomenon_time_start, p_start),
        "phenomenon_time_end": _latest(session, table.c.phenomenon_time_end, p_end),
    }
    if r_start is not None:
        values["result_time_start"] = _earliest(session, table.c.result_time_start, r_start)
        values["result_time_end"] = _latest(session, table.c.result_time_end, r_end)
    area = (_extended_area(session, table, stream_id, foi_ids) if known is None
            else _grown_area(known[0], known[1]))
    if area is not None:
        values["observed_area"] = area
    session.execute(update(table).where(table.c.id == stream_id).values(**values))


def _earliest(session: Session, column, value: datetime):
    bound = literal(value, column.type)
    if session.get_bind().dialect.name == "postgresql":
        return func.least(column, bound)  # LEAST skips NULL
    return func.min(func.coalesce(column, bound), bound)  # SQLite: UTC text in one format sorts as time


def _latest(session: Session, column, value: datetime):
    bound = literal(value, column.type)
    if session.get_bind().dialect.name == "postgresql":
        return func.greatest(column, bound)
    return func.max(func.coalesce(column, bound), bound)


def extend_streams_many(session: Session, kind: str, bounds: list[dict[str, Any]]) -> None:
    """``extend_stream_bounds`` for several streams in one executemany (the group commit).

    ``bounds``: one dict per stream with ``stream_id``, ``p_start``, ``p_end``, ``r_start``
    and ``r_end`` (the result times may be None). One compiled statement, sent for all
    streams at once (psycopg pipelines an executemany); observedArea is not touched.
    """
    if bounds:
        stmt = bounds_statement(kind, session.get_bind().dialect.name)
        session.execute(stmt, sorted(bounds, key=lambda b: b["stream_id"]))  # id order: no deadlocks


def bounds_statement(kind: str, dialect: str):
    """The UPDATE of ``extend_streams_many`` (parameters: one ``bounds`` dict), built once."""
    stmt = _BOUNDS_MANY.get((kind, dialect))
    if stmt is None:
        stmt = _BOUNDS_MANY[(kind, dialect)] = _bounds_many(kind, dialect == "postgresql")
    return stmt


_BOUNDS_MANY: dict[tuple[str, str], Any] = {}


def _bounds_many(kind: str, pg: bool):
    table, _ = STREAMS[kind]

    def fold(column, name: str, pick):
        bound = bindparam(name, type_=column.type)
        if pg:
            return (func.least if pick == "min" else func.greatest)(column, bound)  # skip NULL
        fn = func.min if pick == "min" else func.max  # SQLite's min/max are NULL when an argument is
        return case((bound.is_(None), column), else_=fn(func.coalesce(column, bound), bound))

    c = table.c
    return (update(table).where(c.id == bindparam("stream_id"))
            .values(phenomenon_time_start=fold(c.phenomenon_time_start, "p_start", "min"),
                    phenomenon_time_end=fold(c.phenomenon_time_end, "p_end", "max"),
                    result_time_start=fold(c.result_time_start, "r_start", "min"),
                    result_time_end=fold(c.result_time_end, "r_end", "max")))


def grow_area(session: Session, kind: str, stream_id: int, current: dict | None,
              features: list[dict | None]) -> None:
    """Widen a stream's observedArea to cover ``features`` (no statement when it does already)."""
    area = _grown_area(current, features)
    if area is not None:
        table, _ = STREAMS[kind]
        session.execute(update(table).where(table.c.id == stream_id).values(observed_area=area))


def _extended_area(session: Session, table, stream_id: int, foi_ids: set[int]) -> dict | None:
    """The stream's new observedArea, or None when its FeaturesOfInterest are inside already."""
    if len(foi_ids) == 1:
        feature = select(FOI.c.feature).where(FOI.c.id == next(iter(foi_ids))).scalar_subquery()
        current, new = session.execute(select(table.c.observed_area, feature)
                                       .where(table.c.id == stream_id)).one()
        features = [new]
    else:
        current = session.scalar(select(table.c.observed_area).where(table.c.id == stream_id))
        features = list(session.scalars(select(FOI.c.feature).where(FOI.c.id.in_(foi_ids))))
    return _grown_area(current, features)


def _grown_area(current: dict | None, features: list[dict | None]) -> dict | None:
    geoms = [g for g in (geometry_of(f) for f in features) if g is not None]
    area = geometry_of(current) if current else None
    if not geoms or (area is not None and all(area.covers(g) for g in geoms)):
        return None
    if area is not None:
        geoms.append(area)
    hull = unary_union(geoms).convex_hull if len(geoms) > 1 else geoms[0]
    return mapping(hull)


def _area(session: Session, foi_ids: set[int], current: dict | None) -> dict | None:
    geoms = [geometry_of(f) for f in session.scalars(select(FOI.c.feature).where(FOI.c.id.in_(foi_ids)))]
    if current:
        geoms.append(geometry_of(current))
    geoms = [g for g in geoms if g is not None]
    if not geoms:
        return None
    hull = unary_union(geoms).convex_hull if len(geoms) > 1 else geoms[0]
    if current and hull.equals(geometry_of(current)):
        return None
    return mapping(hull)


def recompute_stream(session: Session, kind: str, stream_id: int) -> None:
    """Full recomputation after Observations were changed or removed."""
    table, fk = STREAMS[kind]
    agg = session.execute(select(
        func.min(OBS.c.phenomenon_time_start),
        func.max(func.coalesce(OBS.c.phenomenon_time_end, OBS.c.phenomenon_time_start)),
        func.min(OBS.c.result_time), func.max(OBS.c.result_time)).where(OBS.c[fk] == stream_id)).first()
    foi_ids = set(session.scalars(select(OBS.c.feature_of_interest_id).where(OBS.c[fk] == stream_id).distinct()))
    area = _area(session, foi_ids, None) if foi_ids else None
    session.execute(update(table).where(table.c.id == stream_id).values(
        phenomenon_time_start=as_utc(agg[0]), phenomenon_time_end=as_utc(agg[1]),
        result_time_start=as_utc(agg[2]), result_time_end=as_utc(agg[3]), observed_area=area))


def streams_of_observations(session: Session, condition) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for ds, mds in session.execute(select(OBS.c.datastream_id, OBS.c.multi_datastream_id)
                                   .where(condition).distinct()):
        if ds is not None:
            out.add(("Datastream", ds))
        if mds is not None:
            out.add(("MultiDatastream", mds))
    return out


def multi_datastream_width(session: Session, mds_id: int) -> int:
    return session.scalar(select(func.count()).select_from(m.multi_datastream_observed_properties)
                          .where(m.multi_datastream_observed_properties.c.multi_datastream_id == mds_id)) or 0


def delete_multi_datastreams_of(session: Session, observed_property_id: int) -> None:
    """A MultiDatastream without one of its ObservedProperties is meaningless: it goes too."""
    link = m.multi_datastream_observed_properties
    ids = list(session.scalars(select(link.c.multi_datastream_id)
                               .where(link.c.observed_property_id == observed_property_id)))
    if ids:
        session.execute(delete(MDS).where(MDS.c.id.in_(ids)))


def now() -> datetime:
    return utcnow()


