"""Who a Location or FeatureOfInterest belongs to once no Thing reaches it any more.

Visibility, write rights and precision of a Location or FeatureOfInterest follow the Things it
is linked to (``visibility``, ``authz``, ``public_geometry``). A row can lose every such link
and still hold a restricted sensor's exact position: the Thing moved and was then deleted, or
retention removed the Observations that tied a FeatureOfInterest to it. Such an orphan must
not fall open to everybody, so each row keeps a *claim*: the first owning organisation, the
most restrictive access class and the coarsest public precision of all Things that ever
claimed it. Claims only tighten; they decide only while no Thing reaches the row.

A Thing claims a Location when it is linked to it (``rules.set_thing_locations``), and a
FeatureOfInterest when it is generated from its Location (``rules.generated_foi``) or when an
Observation of its names one explicitly (the writer, dataArray). A Thing whose access class,
owner or precision changes re-claims everything it reaches (:func:`reclaim_thing`).
Migration 0018 filled the claims from the links that existed then.
"""

from __future__ import annotations

from sqlalchemy import select, union, update
from sqlalchemy.orm import Session

from ..model import tables as m

T, LOC, FOI = m.Thing.__table__, m.Location.__table__, m.FeatureOfInterest.__table__
TL, HLL, HL = m.thing_locations, m.historical_location_locations, m.HistoricalLocation.__table__
DS, MDS, OBS = m.Datastream.__table__, m.MultiDatastream.__table__, m.Observation.__table__
TABLES = {"Location": LOC, "FeatureOfInterest": FOI}
RANK = {"open": 0, "network": 1, "restricted": 2}
#: The Thing columns a claim derives from (a change re-claims).
THING_COLUMNS = ("owner_organisation_id", "access_class", "location_precision_m", "placement",
                 "processes_personal_data")


def _thing_claim(session: Session, thing_id: int | None) -> tuple[int | None, str, int] | None:
    from .public_geometry import defaults  # lazy: public_geometry -> precision -> rules -> claims

    row = session.execute(select(T.c.owner_organisation_id, T.c.access_class, T.c.location_precision_m,
                                 T.c.placement, T.c.processes_personal_data).where(T.c.id == thing_id)).first()
    if row is None:
        return None
    return row[0], row[1] or "open", defaults(session).of(row[2], row[3], row[4])


def claim(session: Session, entity: str, ids, thing_id: int | None) -> None:
    """Let the Thing claim these Locations or FeaturesOfInterest (tightening, never loosening)."""
    ids = {i for i in ids if i is not None}
    found = _thing_claim(session, thing_id) if ids else None
    if found is None:
        return
    owner, cls, level = found
    table = TABLES[entity]
    for id_, cur_owner, cur_cls, cur_level in session.execute(
            select(table.c.id, table.c.owner_organisation_id, table.c.owner_access_class, table.c.owner_precision_m)
            .where(table.c.id.in_(ids))).all():
        new_cls = cls if cur_cls is None or RANK.get(cls, 2) > RANK.get(cur_cls, 2) else cur_cls
        new = (cur_owner if cur_owner is not None else owner, new_cls, max(cur_level or 0, level))
        if new != (cur_owner, cur_cls, cur_level):
            session.execute(update(table).where(table.c.id == id_).values(
                owner_organisation_id=new[0], owner_access_class=new[1], owner_precision_m=new[2]))


def reclaim_thing(session: Session, thing_id: int) -> None:
    """After a Thing's access class, owner or precision changed: everything it reaches claims anew."""
    locations = union(select(TL.c.location_id).where(TL.c.thing_id == thing_id),
                      select(HLL.c.location_id).join(HL, HL.c.id == HLL.c.historical_location_id)
                      .where(HL.c.thing_id == thing_id)).subquery()
    location_ids = list(session.scalars(select(locations.c[0])))
    claim(session, "Location", location_ids, thing_id)
    features = set(session.scalars(select(LOC.c.generated_foi_id).where(LOC.c.id.in_(location_ids))))
    for table in (DS, MDS):
        column = OBS.c.datastream_id if table is DS else OBS.c.multi_datastream_id
        features |= set(session.scalars(select(OBS.c.feature_of_interest_id).distinct().where(
            column.in_(select(table.c.id).where(table.c.thing_id == thing_id)))))
    claim(session, "FeatureOfInterest", features, thing_id)


def claim_for_stream(session: Session, feature_ids, kind: str, stream_id: int) -> None:
    """FeaturesOfInterest named explicitly by Observations of a (Multi)Datastream."""
    table = DS if kind == "Datastream" else MDS
    claim(session, "FeatureOfInterest", feature_ids,
          session.scalar(select(table.c.thing_id).where(table.c.id == stream_id)))
