"""Creating, updating and deleting entities, with deep insert and linking by ``@iot.id``.

All work of one request happens in the caller's transaction: nothing is
committed here, so a failure anywhere in a deep insert leaves nothing behind.
Errors name the JSON path of the offending field (``Datastreams.0.Sensor.name``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.core.errors import NotFound
from stadslab.core.json_limits import check_text, check_value

from ..access import claims
from . import rules
from ..access.authz import WriteGuard
from ..mqtt.changes import record
from ..model.entities import ENTITY_TYPES, EntityType, Nav, Prop
from ..access.registry import register_columns
from ..model.values import (GEOJSON_ENCODINGS, BadValue, bad, check_geojson, parse_instant, parse_interval,
                            parse_time_object, result_columns)

#: Property kinds stored as the client's JSON, bounded in depth and size.
FREE_JSON = frozenset(("json", "any", "result", "geojson"))
MAX_DEPTH = 24  # path elements: entity names and list positions
COMPLEX_OBSERVATION = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation"


def convert(prop: Prop, value: Any, loc: list, table) -> dict[str, Any]:
    """One STA property value → the column values that store it."""
    cols = prop.columns
    if prop.kind in FREE_JSON:
        check_value(value, loc)  # stored as given: it must be readable back (core.json_limits)
    try:
        if prop.kind == "text":
            if not isinstance(value, str):
                raise BadValue("must be a string")
            check_text(value, loc)
            limit = getattr(table.c[cols[0]].type, "length", None)
            if limit and len(value) > limit:
                raise BadValue(f"at most {limit} characters")
            return {cols[0]: value}
        if prop.kind == "json":
            expect = {"unitOfMeasurements": list, "multiObservationDataTypes": list}.get(prop.name, dict)
            if value is None and not prop.required:
                return {cols[0]: None}
            if not isinstance(value, expect):
                raise BadValue("must be a JSON " + ("array" if expect is list else "object"))
            return {cols[0]: value}
        if prop.kind == "any":
            return {cols[0]: value}
        if prop.kind == "geojson":
            return {cols[0]: check_geojson(value)}
        if prop.kind == "instant":
            if value is None and not prop.required:
                return {cols[0]: None}
            return {cols[0]: parse_instant(value)}
        if prop.kind == "interval":
            if value is None:
                return {cols[0]: None, cols[1]: None}
            start, end = parse_interval(value)
            return {cols[0]: start, cols[1]: end}
        if prop.kind == "time":
            start, end = parse_time_object(value)
            return {cols[0]: start, cols[1]: end}
        if prop.kind == "result":
            number, text = result_columns(value)
            return {"result": value, "result_number": number, "result_string": text}
    except BadValue as exc:
        raise bad(loc, str(exc)) from None
    raise AssertionError(prop.kind)


def property_values(et: EntityType, body: dict, loc: list) -> dict[str, Any]:
    """The column values of the properties in ``body`` (read-only ones are ignored: clients echo
    them back); BadRequest for a bad value or a missing required property.

    One step of every entrance: the general writer, the single-POST fast path and the group
    commit all build an Observation's row here, so they accept and refuse the same bodies.
    """
    values: dict[str, Any] = {}
    for name, prop in et.props.items():
        if name in body:
            if prop.read_only:
                continue  # server-maintained; clients echo it back on updates (FROST does the same)
            values.update(convert(prop, body[name], [*loc, name], et.table))
        elif prop.required and not (et.name == "Observation" and name == "phenomenonTime"):
            raise bad([*loc, name], f"required property of {et.name} is missing")
    return values


def valid_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


class Writer:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        #: who is writing: checked on every insert, link, update and delete (see ``authz``)
        self.guard = WriteGuard(session, principal)
        self.streams: set[tuple[str, int]] = set()
        self.foi_cache: dict[int, int] = {}
        self.claimed: set[tuple] = set()

    # ------------------------------------------------------------------ create
    def create(self, et: EntityType, body: Any, loc: list, *, preset: dict[str, Any] | None = None,
               skip_nav: str | None = None) -> int:
        if not isinstance(body, dict):
            raise bad(loc, f"expected a JSON object describing a {et.name}")
        if len(loc) > MAX_DEPTH:
            raise bad(loc, f"deep inserts may nest at most {MAX_DEPTH // 2} entities deep")
        if "@iot.id" in body:
            if not loc:
                raise bad(["@iot.id"], "ids are assigned by the server; leave @iot.id out")
            return self.link_target(et, body, loc)
        self._check_keys(et, body, loc)
        if skip_nav is not None and skip_nav in body:
            raise bad([*loc, skip_nav], "is given by the enclosing entity; leave it out")
        values: dict[str, Any] = dict(preset or {})
        values.update(property_values(et, body, loc))
        self._entity_rules(et, body, values, loc)
        for name, nav in et.navs.items():
            if nav.kind != "out" or name == skip_nav:
                continue
            if name in body:
                if nav.fk in values:
                    raise bad([*loc, name], "is already given by the URL")
                values[nav.fk] = self.create(ENTITY_TYPES[nav.target], body[name], [*loc, name])
            elif nav.required and nav.fk not in values:
                raise bad([*loc, name], f"required: give an existing {nav.target} as "
                                        f'{{"@iot.id": ..}} or a new one inline')
        if et.name == "Observation":
            self._observation_rules(values, loc)
        self.guard.before_insert(et.name, values, loc)
        new_id = self.session.execute(insert(et.table).values(**values).returning(et.table.c.id)).scalar_one()
        record(self.session, et.name, new_id)
        for name, nav in et.navs.items():
            if nav.kind == "out" or name not in body or name == skip_nav:
                continue
            items = body[name]
            if not isinstance(items, list):
                raise bad([*loc, name], f"must be a JSON array of {nav.target} objects")
            self._create_many(et, nav, new_id, items, [*loc, name])
        if et.name == "MultiDatastream":
            self._check_multi_datastream(new_id, body, loc)
        if et.name == "Observation":
            self._note_observation(values, new_id)
            if "FeatureOfInterest" in body:  # named explicitly: the Thing claims it (generated ones are)
                self._claim_feature(values)
        return new_id

    def _claim_feature(self, values: dict) -> None:
        kind, sid = (("Datastream", values["datastream_id"]) if values.get("datastream_id") is not None
                     else ("MultiDatastream", values.get("multi_datastream_id")))
        key = (values.get("feature_of_interest_id"), kind, sid)
        if key not in self.claimed:
            self.claimed.add(key)
            claims.claim_for_stream(self.session, [key[0]], kind, sid)

    def _create_many(self, et: EntityType, nav: Nav, new_id: int, items: list, loc: list) -> None:
        target = ENTITY_TYPES[nav.target]
        back = _back_nav(et, nav)
        ids = []
        for i, item in enumerate(items):
            if nav.kind == "in":
                if isinstance(item, dict) and "@iot.id" in item:
                    tid = self.link_target(target, item, [*loc, i])
                    self.session.execute(update(target.table).where(target.table.c.id == tid)
                                         .values({nav.fk: new_id}))
                    record(self.session, target.name, tid, "update", None)
                    if target.name == "Observation":
                        self.streams.add((et.name, new_id))
                else:
                    self.create(target, item, [*loc, i], preset={nav.fk: new_id}, skip_nav=back)
            else:
                ids.append(self.create(target, item, [*loc, i], skip_nav=back))
        if nav.kind == "link" and ids:
            self.add_links(et, nav, new_id, ids, loc, creating=True)

    def add_links(self, et: EntityType, nav: Nav, source_id: int, target_ids: list[int], loc: list,
                  *, creating: bool = False) -> None:
        if et.name == "Thing" and nav.name == "Locations":
            rules.set_thing_locations(self.session, source_id, target_ids, replace=not creating)
            return
        if et.name == "Location" and nav.name == "Things":
            for thing_id in target_ids:
                rules.set_thing_locations(self.session, thing_id, [source_id], replace=True)
            return
        if et.name == "MultiDatastream" and nav.name == "ObservedProperties" and not creating:
            raise bad(loc, "the ObservedProperties of a MultiDatastream are fixed once created")
        link = nav.link
        existing = set(self.session.scalars(select(link.c[nav.link_target])
                                            .where(link.c[nav.link_source] == source_id)))
        rows = []
        for rank, tid in enumerate(target_ids):
            if tid in existing:
                if creating:
                    raise bad(loc, f"{nav.target} {tid} is listed twice")
                continue
            existing.add(tid)
            row = {nav.link_source: source_id, nav.link_target: tid}
            if "rank" in link.c:
                row["rank"] = rank
            rows.append(row)
        if rows:
            self.session.execute(insert(link), rows)

    def link_target(self, et: EntityType, ref: dict, loc: list) -> int:
        raw = ref.get("@iot.id")
        if isinstance(raw, str) and raw.isdigit():
            raw = int(raw)
        if not valid_id(raw):
            raise bad([*loc, "@iot.id"], "must be a positive integer id")
        found = select(et.table.c.id).where(et.table.c.id == raw, *self.guard.visible(et.name))
        if self.session.scalar(found) is None:  # one the caller may not see is as unknown
            raise NotFound(f"{'.'.join(map(str, loc))}: {et.set_name}({raw}) does not exist",
                           errors=[{"loc": [*map(str, loc), "@iot.id"], "field": ".".join(map(str, loc)),
                                    "msg": f"{et.name} {raw} does not exist"}])
        self.guard.check_link(et.name, raw)
        return raw

    def _check_keys(self, et: EntityType, body: dict, loc: list) -> None:
        for key in body:
            if key not in et.props and key not in et.navs and key != "@iot.id":
                known = ", ".join([*et.props, *et.navs])
                raise bad([*loc, key], f"'{key[:60]}' is not a property of {et.name}. Known: {known}")

    def _entity_rules(self, et: EntityType, body: dict, values: dict, loc: list) -> None:
        if et.name in ("Location", "FeatureOfInterest") and "encoding_type" in values:
            if values["encoding_type"] not in GEOJSON_ENCODINGS:
                raise bad([*loc, "encodingType"], f"must be one of: {', '.join(GEOJSON_ENCODINGS)}")
        if et.name == "Thing" and "properties" in values:
            values.update(register_columns(self.session, values["properties"], [*loc, "properties"]))
        if et.name == "MultiDatastream" and "observation_type" in values:
            if values["observation_type"] != COMPLEX_OBSERVATION:
                raise bad([*loc, "observationType"], f"must be {COMPLEX_OBSERVATION}")
        if et.name == "MultiDatastream":
            for key in ("multi_observation_data_types",):
                if key in values and not all(isinstance(x, str) for x in values[key]):
                    raise bad([*loc, "multiObservationDataTypes"], "must be an array of strings")
            if "unit_of_measurements" in values and not all(isinstance(x, dict)
                                                            for x in values["unit_of_measurements"]):
                raise bad([*loc, "unitOfMeasurements"], "must be an array of objects")

    def _observation_rules(self, values: dict, loc: list) -> None:
        rules.default_phenomenon_time(values)
        ds, mds = values.get("datastream_id"), values.get("multi_datastream_id")
        if (ds is None) == (mds is None):
            raise bad([*loc, "Datastream"], "an Observation belongs to exactly one Datastream or MultiDatastream")
        if mds is not None:
            width = rules.multi_datastream_width(self.session, mds)
            result = values.get("result")
            if not isinstance(result, list) or len(result) != width:
                raise bad([*loc, "result"], f"must be an array of {width} values, one per ObservedProperty "
                                            "of the MultiDatastream")
        if values.get("feature_of_interest_id") is None:
            kind, sid = ("Datastream", ds) if ds is not None else ("MultiDatastream", mds)
            thing = rules.stream_thing(self.session, kind, sid)
            values["feature_of_interest_id"] = rules.generated_foi(self.session, thing,
                                                                   [*loc, "FeatureOfInterest"], self.foi_cache)

    def _note_observation(self, values: dict, new_id: int) -> None:
        if values.get("datastream_id") is not None:
            rules.extend_stream(self.session, "Datastream", values["datastream_id"], [values])
        else:
            rules.extend_stream(self.session, "MultiDatastream", values["multi_datastream_id"], [values])

    def _check_multi_datastream(self, mds_id: int, body: dict, loc: list) -> None:
        width = rules.multi_datastream_width(self.session, mds_id)
        table = ENTITY_TYPES["MultiDatastream"].table
        row = self.session.execute(select(table.c.unit_of_measurements, table.c.multi_observation_data_types)
                                   .where(table.c.id == mds_id)).first()
        if width == 0:
            raise bad([*loc, "ObservedProperties"], "required: a MultiDatastream needs ObservedProperties")
        for name, value in (("unitOfMeasurements", row[0]), ("multiObservationDataTypes", row[1])):
            if len(value) != width:
                raise bad([*loc, name], f"has {len(value)} entries but there are {width} ObservedProperties")

    # ------------------------------------------------------------------ update
    def update(self, et: EntityType, id_: int, body: Any, *, replace: bool = False) -> None:
        table = et.table
        if not isinstance(body, dict):
            raise bad([], f"expected a JSON object with the {et.name} properties to change")
        current = self.session.execute(select(table).where(table.c.id == id_)).first()
        if current is None:
            raise NotFound(f"{et.set_name}({id_}) does not exist")
        self.guard.check_change(et.name, id_)
        self._check_keys(et, body, [])
        if "@iot.id" in body and body["@iot.id"] not in (id_, str(id_)):
            raise bad(["@iot.id"], "cannot change the id of an entity")
        values: dict[str, Any] = {}
        for name, prop in et.props.items():
            if name in body:
                if prop.read_only:
                    continue  # server-maintained: ignored, as in create
                values.update(convert(prop, body[name], [name], table))
            elif replace and not prop.read_only:
                if prop.required and not (et.name == "Observation" and name == "phenomenonTime"):
                    raise bad([name], f"required property of {et.name} is missing (PUT replaces the entity)")
                values.update({c: None for c in prop.columns})
        if et.name == "Observation" and values.get("phenomenon_time_start", 1) is None:
            values["phenomenon_time_start"] = rules.now()
        self._entity_rules(et, body, values, [])
        if et.name == "Location" and "location" in values and values["location"] != current._mapping["location"]:
            values["generated_foi_id"] = None  # moved: the next Observation gets a new FeatureOfInterest
        for name, nav in et.navs.items():
            if name not in body:
                continue
            if nav.kind == "out":
                if not isinstance(body[name], dict) or "@iot.id" not in body[name]:
                    raise bad([name], "an update (PATCH/PUT) cannot create a new related entity inline; "
                              'link an existing one: {"@iot.id": ..}')
                values[nav.fk] = self.link_target(ENTITY_TYPES[nav.target], body[name], [name])
        if et.name == "Observation":
            self._update_observation(current._mapping, values)
        self.guard.before_update(et.name, values, current._mapping, [])
        if values:
            self.session.execute(update(table).where(table.c.id == id_).values(**values))
            if et.name == "Thing" and any(
                    c in values and values[c] != current._mapping[c] for c in claims.THING_COLUMNS):
                claims.reclaim_thing(self.session, id_)
            if et.name == "Observation" and "FeatureOfInterest" in body:
                self._claim_feature({**current._mapping, **values})
        record(self.session, et.name, id_, "update",
               {k for k in body if k in et.props and not et.props[k].read_only} | {k for k in body if k in et.navs})
        for name, nav in et.navs.items():
            if name not in body or nav.kind == "out":
                continue
            items = body[name]
            if not isinstance(items, list) or not all(isinstance(x, dict) and "@iot.id" in x for x in items):
                raise bad([name], "an update (PATCH/PUT) cannot create new related entities inline; "
                              'link existing ones: [{"@iot.id": ..}, ..]')
            target = ENTITY_TYPES[nav.target]
            ids = [self.link_target(target, x, [name, i]) for i, x in enumerate(items)]
            if nav.kind == "in":
                self.session.execute(update(target.table).where(target.table.c.id.in_(ids)).values({nav.fk: id_}))
                back = _back_nav(et, nav)
                for tid in ids:
                    record(self.session, target.name, tid, "update", {back} if back else None)
            else:
                self.add_links(et, nav, id_, ids, [name])

    def _update_observation(self, current, values: dict) -> None:
        merged = {**dict(current), **values}
        self.streams |= rules.streams_of_observations(self.session,
                                                       ENTITY_TYPES["Observation"].table.c.id == current["id"])
        if (merged["datastream_id"] is None) == (merged["multi_datastream_id"] is None):
            raise bad(["Datastream"], "an Observation belongs to exactly one Datastream or MultiDatastream")
        if merged["multi_datastream_id"] is not None:
            width = rules.multi_datastream_width(self.session, merged["multi_datastream_id"])
            if not isinstance(merged["result"], list) or len(merged["result"]) != width:
                raise bad(["result"], f"must be an array of {width} values")
        for kind, fk in (("Datastream", "datastream_id"), ("MultiDatastream", "multi_datastream_id")):
            if merged[fk] is not None:
                self.streams.add((kind, merged[fk]))

    # ------------------------------------------------------------------ delete
    def delete(self, et: EntityType, id_: int) -> None:
        table = et.table
        if self.session.scalar(select(table.c.id).where(table.c.id == id_)) is None:
            raise NotFound(f"{et.set_name}({id_}) does not exist")
        self.guard.check_change(et.name, id_)  # shared entities: every owner whose data the cascade takes
        obs = ENTITY_TYPES["Observation"].table
        if et.name == "Observation":
            self.streams |= rules.streams_of_observations(self.session, obs.c.id == id_)
        elif et.name == "FeatureOfInterest":
            self.streams |= rules.streams_of_observations(self.session, obs.c.feature_of_interest_id == id_)
        elif et.name == "ObservedProperty":
            rules.delete_multi_datastreams_of(self.session, id_)
        self.session.execute(delete(table).where(table.c.id == id_))

    def finish(self) -> None:
        """Bring stream summaries up to date after changes to existing Observations."""
        ds_table = ENTITY_TYPES["Datastream"].table
        mds_table = ENTITY_TYPES["MultiDatastream"].table
        for kind, sid in sorted(self.streams):
            table = ds_table if kind == "Datastream" else mds_table
            if self.session.scalar(select(table.c.id).where(table.c.id == sid)) is not None:
                rules.recompute_stream(self.session, kind, sid)
        self.streams.clear()


def _back_nav(et: EntityType, nav: Nav) -> str | None:
    from ..model.entities import reverse_nav
    back = reverse_nav(et, nav)
    return back.name if back else None
