"""Storage of the SensorThings API 1.1 data model (OGC 18-088 §8).

Geometry is kept as GeoJSON in JSON columns so that SQLite and PostgreSQL store
it the same way; spatial indexing (PostGIS) can be layered on later without
changing the API. Time intervals are two columns (start, end); an instant has
no end. Every instant is stored in UTC.

Observations are the hot table: the result is kept as JSON (exact value) plus
a numeric and a string shadow column so that comparisons and aggregates run in
plain SQL on both dialects.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, DateTime, Float, ForeignKey, Index, false,
                        Integer, String, Table, Text, text)
from sqlalchemy.orm import Mapped, mapped_column

from stadslab.core.database import NO_ID_REUSE, Base
from stadslab.labs import models as _labs  # noqa: F401  (living_labs, organisations: FK targets)

#: Observation ids grow fast; BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

LEGAL_GROUNDS = ("publieke taak", "gerechtvaardigd belang", "wettelijke verplichting", "toestemming",
                 "uitvoering overeenkomst", "vitale belangen")
ACCESS_CLASSES = ("open", "network", "restricted")
PLACEMENTS = ("fixed", "mobile")
#: ``NO_ID_REUSE`` (core.database): a reused id would make an old selfLink point at a
#: different entity, so ids are never handed out twice.

thing_locations = Table(
    "sta_thing_locations", Base.metadata,
    Column("thing_id", ForeignKey("sta_things.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("sta_locations.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)

historical_location_locations = Table(
    "sta_historical_location_locations", Base.metadata,
    Column("historical_location_id", ForeignKey("sta_historical_locations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("location_id", ForeignKey("sta_locations.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)

#: ``rank`` keeps the order of ObservedProperties, which gives meaning to the
#: positions in a MultiDatastream Observation's result array.
multi_datastream_observed_properties = Table(
    "sta_multi_datastream_observed_properties", Base.metadata,
    Column("multi_datastream_id", ForeignKey("sta_multi_datastreams.id", ondelete="CASCADE"),
           primary_key=True),
    Column("observed_property_id", ForeignKey("sta_observed_properties.id", ondelete="CASCADE"),
           primary_key=True, index=True),
    Column("rank", Integer, nullable=False, default=0),
)


class Thing(Base):
    __tablename__ = "sta_things"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    properties: Mapped[dict | None] = mapped_column(JSON)
    # --- sensor register (Dutch "sensorenregister") metadata. The full record is
    # kept in ``register``; the columns below are the parts the register filters on.
    register: Mapped[dict | None] = mapped_column(JSON)
    living_lab_id: Mapped[int | None] = mapped_column(ForeignKey("living_labs.id", ondelete="SET NULL"),
                                                      index=True)
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    owner_name: Mapped[str | None] = mapped_column(String(255))
    sensor_type: Mapped[str | None] = mapped_column(String(120), index=True)
    purpose: Mapped[str | None] = mapped_column(Text)
    processes_personal_data: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    legal_ground: Mapped[str | None] = mapped_column(String(40))
    placement: Mapped[str | None] = mapped_column(String(10))
    active_from: Mapped[date | None] = mapped_column(Date)
    active_until: Mapped[date | None] = mapped_column(Date)
    access_class: Mapped[str] = mapped_column(String(12), default="open", server_default="open",
                                              index=True)
    #: ``register.locationPrecision`` (metres, 0 exact); NULL: the configured default applies
    #: (``precision.effective``). Non-owners see the Thing's positions at this precision.
    location_precision_m: Mapped[int | None] = mapped_column(Integer)


class Location(Base):
    __tablename__ = "sta_locations"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(100))
    location: Mapped[dict] = mapped_column(JSON)
    properties: Mapped[dict | None] = mapped_column(JSON)
    #: ``location`` as non-owners see it, and the precision it was made with (``public_geometry``);
    #: NULL until computed, and again whenever the geometry, the links or a Thing's precision change
    #: (triggers of migration 0013). NULL is never shown or matched: unknown is treated as hidden.
    public_location: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    public_precision_m: Mapped[int | None] = mapped_column(Integer)
    #: The FeatureOfInterest made from this Location for Observations that came
    #: without one; reset when the Location's geometry changes.
    generated_foi_id: Mapped[int | None] = mapped_column(
        ForeignKey("sta_features_of_interest.id", ondelete="SET NULL"))
    #: Who it belongs to when no Thing reaches it any more (moved away, Thing deleted, Observations
    #: removed by retention): the first owning organisation, the most restrictive access class and
    #: the coarsest precision of the Things that ever claimed it (``claims``; migration 0018).
    owner_organisation_id: Mapped[int | None] = mapped_column(Integer)
    owner_access_class: Mapped[str | None] = mapped_column(String(12))
    owner_precision_m: Mapped[int | None] = mapped_column(Integer)


class HistoricalLocation(Base):
    __tablename__ = "sta_historical_locations"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_things.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Sensor(Base):
    __tablename__ = "sta_sensors"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(100))
    metadata_: Mapped[str] = mapped_column("metadata", Text)
    properties: Mapped[dict | None] = mapped_column(JSON)


class ObservedProperty(Base):
    __tablename__ = "sta_observed_properties"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    definition: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    properties: Mapped[dict | None] = mapped_column(JSON)


class _StreamSummary:
    """Columns the server maintains from the Observations (read-only in the API)."""

    observed_area: Mapped[dict | None] = mapped_column(JSON)
    phenomenon_time_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    phenomenon_time_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result_time_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result_time_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Datastream(_StreamSummary, Base):
    __tablename__ = "sta_datastreams"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    observation_type: Mapped[str] = mapped_column(String(200))
    unit_of_measurement: Mapped[dict] = mapped_column(JSON)
    properties: Mapped[dict | None] = mapped_column(JSON)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_things.id", ondelete="CASCADE"), index=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sta_sensors.id", ondelete="CASCADE"), index=True)
    observed_property_id: Mapped[int] = mapped_column(
        ForeignKey("sta_observed_properties.id", ondelete="CASCADE"), index=True)
    #: open | network | restricted, set with ``properties.access_class``. Narrows the Thing's class:
    #: the Datastream is readable only when both are (restricted: the Thing's owner organisation).
    access_class: Mapped[str] = mapped_column(String(12), default="open", server_default="open")


class MultiDatastream(_StreamSummary, Base):
    __tablename__ = "sta_multi_datastreams"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    observation_type: Mapped[str] = mapped_column(String(200))
    multi_observation_data_types: Mapped[list] = mapped_column(JSON)
    unit_of_measurements: Mapped[list] = mapped_column(JSON)
    properties: Mapped[dict | None] = mapped_column(JSON)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_things.id", ondelete="CASCADE"), index=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sta_sensors.id", ondelete="CASCADE"), index=True)
    #: As for Datastream: narrows the Thing's access class.
    access_class: Mapped[str] = mapped_column(String(12), default="open", server_default="open")


class FeatureOfInterest(Base):
    __tablename__ = "sta_features_of_interest"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(100))
    feature: Mapped[dict] = mapped_column(JSON)
    properties: Mapped[dict | None] = mapped_column(JSON)
    #: As ``Location.public_location``.
    public_feature: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    public_precision_m: Mapped[int | None] = mapped_column(Integer)
    #: As ``Location.owner_organisation_id`` and the two after it.
    owner_organisation_id: Mapped[int | None] = mapped_column(Integer)
    owner_access_class: Mapped[str | None] = mapped_column(String(12))
    owner_precision_m: Mapped[int | None] = mapped_column(Integer)


class Observation(Base):
    __tablename__ = "sta_observations"
    __table_args__ = (
        # The id ends every page order (stable paging), so it ends the index too: a page is an
        # index range scan without a sort (migration 0005).
        Index("ix_sta_observations_datastream_time", "datastream_id", "phenomenon_time_start", "id"),
        # Partial (migration 0016): most rows belong to a Datastream and have no MultiDatastream.
        Index("ix_sta_observations_multi_datastream_time", "multi_datastream_id",
              "phenomenon_time_start", "id", postgresql_where=text("multi_datastream_id IS NOT NULL"),
              sqlite_where=text("multi_datastream_id IS NOT NULL")),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    datastream_id: Mapped[int | None] = mapped_column(
        ForeignKey("sta_datastreams.id", ondelete="CASCADE"))
    multi_datastream_id: Mapped[int | None] = mapped_column(
        ForeignKey("sta_multi_datastreams.id", ondelete="CASCADE"))
    feature_of_interest_id: Mapped[int] = mapped_column(
        ForeignKey("sta_features_of_interest.id", ondelete="CASCADE"), index=True)
    phenomenon_time_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    phenomenon_time_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[object | None] = mapped_column(JSON)
    result_number: Mapped[float | None] = mapped_column(Float)
    result_string: Mapped[str | None] = mapped_column(Text)
    result_quality: Mapped[object | None] = mapped_column(JSON)
    valid_time_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_time_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parameters: Mapped[dict | None] = mapped_column(JSON)



#: The configured default precisions the public copies were made with (one row; ``public_geometry``).
public_precision_defaults = Table(
    "sta_public_precision_defaults", Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("default_m", Integer, nullable=False),
    Column("sensitive_m", Integer, nullable=False),
)
