"""Bulk creation of SensorThings rows for the evidence demo, tests and benchmarks.

Rows are written with Core inserts consistent with the STA models: a Thing with
a Location, a Sensor, one Datastream per ObservedProperty, a FeatureOfInterest,
and Observations with the numeric shadow column ``result_number`` filled as the
STA writer does. Stream summaries (phenomenon time range) are set afterwards,
as ``rules.extend_stream`` would. Going through the HTTP layer for millions of
rows would only measure JSON parsing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from stadslab.sensorthings.model.tables import (Datastream, FeatureOfInterest, Location, Observation, ObservedProperty,
                                          Sensor, Thing, thing_locations)

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
GEOJSON = "application/geo+json"


def observed_property(session: Session, name: str, definition: str, description: str = "") -> int:
    found = session.scalar(select(ObservedProperty.id).where(ObservedProperty.name == name,
                                                             ObservedProperty.definition == definition))
    if found is not None:
        return found
    return session.execute(insert(ObservedProperty).values(name=name, definition=definition,
                                                           description=description or name)
                           .returning(ObservedProperty.id)).scalar_one()


def sensor_site(session: Session, name: str, lon: float, lat: float, streams: Iterable[tuple[int, dict, str]],
                *, living_lab_id: int | None = None, properties: dict | None = None) -> tuple[int, int, dict[int, int]]:
    """A Thing at (lon, lat) with one Datastream per (observed_property_id, unitOfMeasurement, name).

    Returns (thing id, feature of interest id, {observed_property_id: datastream id}).
    """
    point = {"type": "Point", "coordinates": [lon, lat]}
    thing = session.execute(insert(Thing).values(name=name, description=name, properties=properties,
                                                 living_lab_id=living_lab_id).returning(Thing.id)).scalar_one()
    loc = session.execute(insert(Location).values(name=name, description=name, encoding_type=GEOJSON,
                                                  location=point).returning(Location.id)).scalar_one()
    session.execute(insert(thing_locations).values(thing_id=thing, location_id=loc))
    foi = session.execute(insert(FeatureOfInterest).values(name=name, description=name, encoding_type=GEOJSON,
                                                           feature=point).returning(FeatureOfInterest.id)).scalar_one()
    sensor = session.execute(insert(Sensor).values(name=f"{name} sensor", description="Evidence sensor",
                                                   encoding_type="text/plain", metadata_="")
                             .returning(Sensor.id)).scalar_one()
    ids = {}
    for op_id, uom, ds_name in streams:
        ids[op_id] = session.execute(insert(Datastream).values(
            name=ds_name, description=ds_name, observation_type=MEASUREMENT, unit_of_measurement=uom,
            thing_id=thing, sensor_id=sensor, observed_property_id=op_id, observed_area=point)
            .returning(Datastream.id)).scalar_one()
    return thing, foi, ids


def observations(session: Session, datastream_id: int, foi_id: int, start: datetime, step: timedelta,
                 values: np.ndarray, chunk: int = 20_000) -> int:
    """Insert one value per step from ``start`` (NaN = no observation); returns the rows written."""
    table = Observation.__table__
    n = 0
    batch = []
    for i, v in enumerate(values.tolist()):
        if v != v:  # NaN: a gap
            continue
        v = round(v, 3)
        batch.append({"datastream_id": datastream_id, "feature_of_interest_id": foi_id,
                      "phenomenon_time_start": start + i * step, "result": v, "result_number": v})
        if len(batch) >= chunk:
            session.execute(insert(table), batch)
            n += len(batch)
            batch = []
    if batch:
        session.execute(insert(table), batch)
        n += len(batch)
    refresh_summary(session, datastream_id)
    return n


def refresh_summary(session: Session, datastream_id: int) -> None:
    obs = Observation.__table__
    lo, hi = session.execute(select(func.min(obs.c.phenomenon_time_start), func.max(obs.c.phenomenon_time_start))
                             .where(obs.c.datastream_id == datastream_id)).one()
    session.execute(update(Datastream).where(Datastream.id == datastream_id)
                    .values(phenomenon_time_start=lo, phenomenon_time_end=hi))
