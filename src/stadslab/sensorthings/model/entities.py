"""The STA 1.1 entity model as data: properties, their storage and the navigation between sets.

Reading, writing, serialising and filtering all walk these descriptions, so an
entity type is described once. ``kind`` says how a property is stored:

* ``text``/``json``/``any``: one column holding the value as is;
* ``geojson``: a JSON column validated as GeoJSON;
* ``instant``: one timestamp column; ``interval``/``time``: a ``(start, end)``
  column pair, where ``time`` (phenomenonTime) may be an instant (end NULL);
* ``result``: the Observation result with its numeric/string shadow columns.

Navigation ``kind``: ``out`` (the source row holds the foreign key), ``in``
(the target rows hold a foreign key to the source), ``link`` (a link table).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Table

from . import tables as m


@dataclass(frozen=True)
class Prop:
    name: str
    kind: str
    columns: tuple[str, ...]
    required: bool = False
    read_only: bool = False
    default: object = None


@dataclass(frozen=True)
class Nav:
    name: str
    target: str
    many: bool
    kind: str  # out | in | link
    fk: str | None = None  # out: column on the source; in: column on the target
    link: Table | None = None
    link_source: str | None = None
    link_target: str | None = None
    required: bool = False


@dataclass
class EntityType:
    name: str
    set_name: str
    table: Table
    props: dict[str, Prop] = field(default_factory=dict)
    navs: dict[str, Nav] = field(default_factory=dict)

    def member(self, name: str) -> Prop | Nav | None:
        return self.props.get(name) or self.navs.get(name)


def _p(name, kind, *columns, **kw) -> Prop:
    return Prop(name, kind, tuple(columns), **kw)


def _out(name, target, fk, required=False) -> Nav:
    return Nav(name, target, False, "out", fk=fk, required=required)


def _in(name, target, fk) -> Nav:
    return Nav(name, target, True, "in", fk=fk)


def _link(name, target, table, source_col, target_col) -> Nav:
    return Nav(name, target, True, "link", link=table, link_source=source_col, link_target=target_col)


def _entity(name, set_name, model, props, navs) -> EntityType:
    return EntityType(name, set_name, model.__table__, {p.name: p for p in props}, {n.name: n for n in navs})


_summary = [
    _p("observedArea", "geojson", "observed_area", read_only=True),
    _p("phenomenonTime", "interval", "phenomenon_time_start", "phenomenon_time_end", read_only=True),
    _p("resultTime", "interval", "result_time_start", "result_time_end", read_only=True),
]

ENTITY_TYPES: dict[str, EntityType] = {e.name: e for e in [
    _entity("Thing", "Things", m.Thing, [
        _p("name", "text", "name", required=True),
        _p("description", "text", "description", required=True),
        _p("properties", "json", "properties"),
    ], [
        _link("Locations", "Location", m.thing_locations, "thing_id", "location_id"),
        _in("HistoricalLocations", "HistoricalLocation", "thing_id"),
        _in("Datastreams", "Datastream", "thing_id"),
        _in("MultiDatastreams", "MultiDatastream", "thing_id"),
    ]),
    _entity("Location", "Locations", m.Location, [
        _p("name", "text", "name", required=True),
        _p("description", "text", "description", required=True),
        _p("encodingType", "text", "encoding_type", required=True),
        _p("location", "geojson", "location", required=True),
        _p("properties", "json", "properties"),
    ], [
        _link("Things", "Thing", m.thing_locations, "location_id", "thing_id"),
        _link("HistoricalLocations", "HistoricalLocation", m.historical_location_locations,
              "location_id", "historical_location_id"),
    ]),
    _entity("HistoricalLocation", "HistoricalLocations", m.HistoricalLocation, [
        _p("time", "instant", "time", required=True),
    ], [
        _out("Thing", "Thing", "thing_id", required=True),
        _link("Locations", "Location", m.historical_location_locations, "historical_location_id",
              "location_id"),
    ]),
    _entity("Datastream", "Datastreams", m.Datastream, [
        _p("name", "text", "name", required=True),
        _p("description", "text", "description", required=True),
        _p("unitOfMeasurement", "json", "unit_of_measurement", required=True),
        _p("observationType", "text", "observation_type", required=True),
        *_summary,
        _p("properties", "json", "properties"),
    ], [
        _out("Thing", "Thing", "thing_id", required=True),
        _out("Sensor", "Sensor", "sensor_id", required=True),
        _out("ObservedProperty", "ObservedProperty", "observed_property_id", required=True),
        _in("Observations", "Observation", "datastream_id"),
    ]),
    _entity("MultiDatastream", "MultiDatastreams", m.MultiDatastream, [
        _p("name", "text", "name", required=True),
        _p("description", "text", "description", required=True),
        _p("unitOfMeasurements", "json", "unit_of_measurements", required=True),
        _p("observationType", "text", "observation_type", required=True),
        _p("multiObservationDataTypes", "json", "multi_observation_data_types", required=True),
        *_summary,
        _p("properties", "json", "properties"),
    ], [
        _out("Thing", "Thing", "thing_id", required=True),
        _out("Sensor", "Sensor", "sensor_id", required=True),
        _link("ObservedProperties", "ObservedProperty", m.multi_datastream_observed_properties,
              "multi_datastream_id", "observed_property_id"),
        _in("Observations", "Observation", "multi_datastream_id"),
    ]),
    _entity("Sensor", "Sensors", m.Sensor, [
        _p("name", "text", "name", required=True),
        _p("description", "text", "description", required=True),
        _p("encodingType", "text", "encoding_type", required=True),
        _p("metadata", "text", "metadata", required=True),
        _p("properties", "json", "properties"),
    ], [
        _in("Datastreams", "Datastream", "sensor_id"),
        _in("MultiDatastreams", "MultiDatastream", "sensor_id"),
    ]),
    _entity("ObservedProperty", "ObservedProperties", m.ObservedProperty, [
        _p("name", "text", "name", required=True),
        _p("definition", "text", "definition", required=True),
        _p("description", "text", "description", required=True),
        _p("properties", "json", "properties"),
    ], [
        _in("Datastreams", "Datastream", "observed_property_id"),
        _link("MultiDatastreams", "MultiDatastream", m.multi_datastream_observed_properties,
              "observed_property_id", "multi_datastream_id"),
    ]),
    _entity("Observation", "Observations", m.Observation, [
        _p("phenomenonTime", "time", "phenomenon_time_start", "phenomenon_time_end"),
        _p("resultTime", "instant", "result_time"),
        _p("result", "result", "result", "result_number", "result_string", required=True),
        _p("resultQuality", "any", "result_quality"),
        _p("validTime", "interval", "valid_time_start", "valid_time_end"),
        _p("parameters", "json", "parameters"),
    ], [
        _out("Datastream", "Datastream", "datastream_id"),
        _out("MultiDatastream", "MultiDatastream", "multi_datastream_id"),
        _out("FeatureOfInterest", "FeatureOfInterest", "feature_of_interest_id"),
    ]),
    _entity("FeatureOfInterest", "FeaturesOfInterest", m.FeatureOfInterest, [
        _p("name", "text", "name", required=True),
        _p("description", "text", "description", required=True),
        _p("encodingType", "text", "encoding_type", required=True),
        _p("feature", "geojson", "feature", required=True),
        _p("properties", "json", "properties"),
    ], [
        _in("Observations", "Observation", "feature_of_interest_id"),
    ]),
]}

BY_SET: dict[str, EntityType] = {e.set_name: e for e in ENTITY_TYPES.values()}


def entity(name: str) -> EntityType:
    return ENTITY_TYPES[name]


def reverse_nav(source: EntityType, nav: Nav) -> Nav | None:
    """The navigation property on the target that points back (for deep inserts)."""
    target = ENTITY_TYPES[nav.target]
    for back in target.navs.values():
        if back.target != source.name:
            continue
        if nav.kind == "in" and back.kind == "out" and back.fk == nav.fk:
            return back
        if nav.kind == "out" and back.kind == "in" and back.fk == nav.fk:
            return back
        if nav.kind == "link" and back.kind == "link" and back.link is nav.link:
            return back
    return None
