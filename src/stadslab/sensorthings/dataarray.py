"""DataArray extension (OGC 18-088 §14): compact bulk creation and reading of Observations.

``POST CreateObservations`` is the ingest hot path: rows are validated in
plain Python and written with one multi-row INSERT per request (no ORM
objects). As the standard prescribes, a row that cannot be stored is answered
with ``"error"`` in its position while the other rows are created; a request
whose structure is wrong (unknown Datastream, bad components) creates nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from stadslab.core.errors import NotFound

from . import rules
from .mqtt.changes import record
from .entities import ENTITY_TYPES
from .query import Options
from .read import ReadContext, Resolved, read_collection
from .rules import bad
from .serialize import Links, collection_json, property_value
from .write import valid_id
from .values import BadValue, parse_instant, parse_interval, parse_time_object, result_columns

OBS = ENTITY_TYPES["Observation"]
COMPONENTS = ("phenomenonTime", "result", "resultTime", "resultQuality", "validTime", "parameters",
              "FeatureOfInterest/id")
DEFAULT_READ_COMPONENTS = ["id", "phenomenonTime", "resultTime", "result"]
_COLUMNS = ("datastream_id", "multi_datastream_id", "feature_of_interest_id", "phenomenon_time_start",
            "phenomenon_time_end", "result_time", "result", "result_number", "result_string", "result_quality",
            "valid_time_start", "valid_time_end", "parameters")


def _stream(session: Session, item: dict, loc: list) -> tuple[str, int]:
    kinds = [k for k in ("Datastream", "MultiDatastream") if k in item]
    if len(kinds) != 1:
        raise bad(loc, "give exactly one of Datastream or MultiDatastream")
    kind = kinds[0]
    ref = item[kind]
    if not isinstance(ref, dict) or not valid_id(ref.get("@iot.id")):
        raise bad([*loc, kind, "@iot.id"], "must be a positive integer id")
    table = ENTITY_TYPES[kind].table
    if session.scalar(select(table.c.id).where(table.c.id == ref["@iot.id"])) is None:
        raise NotFound(f"{'.'.join(map(str, loc))}.{kind}: {kind}s({ref['@iot.id']}) does not exist")
    return kind, ref["@iot.id"]


def _row(values: list, components: list[str], width: int | None) -> dict[str, Any]:
    if not isinstance(values, list) or len(values) != len(components):
        raise BadValue(f"expected {len(components)} values")
    row: dict[str, Any] = dict.fromkeys(_COLUMNS)
    for comp, value in zip(components, values):
        if comp == "phenomenonTime":
            row["phenomenon_time_start"], row["phenomenon_time_end"] = parse_time_object(value)
        elif comp == "result":
            if width is not None and (not isinstance(value, list) or len(value) != width):
                raise BadValue(f"result must be an array of {width} values")
            row["result"] = value
            row["result_number"], row["result_string"] = result_columns(value)
        elif comp == "resultTime":
            row["result_time"] = None if value is None else parse_instant(value)
        elif comp == "resultQuality":
            row["result_quality"] = value
        elif comp == "validTime":
            if value is not None:
                row["valid_time_start"], row["valid_time_end"] = parse_interval(value)
        elif comp == "parameters":
            if value is not None and not isinstance(value, dict):
                raise BadValue("parameters must be an object")
            row["parameters"] = value
        elif comp == "FeatureOfInterest/id":
            if not valid_id(value):
                raise BadValue("FeatureOfInterest/id must be a positive integer")
            row["feature_of_interest_id"] = value
    return row


def insert_observations(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Bulk INSERT, returning the new ids in row order.

    Columns that are NULL in every row are left out. On PostgreSQL the ids are
    drawn from the sequence first and the rows go in with a plain executemany
    (pipelined by psycopg); a multi-row INSERT .. RETURNING there means parsing
    one huge statement per page, several times slower. SQLite returns ids cheaply.
    """
    keys = [c for c in _COLUMNS if any(r[c] is not None for r in rows)]
    slim = [{k: r[k] for k in keys} for r in rows]
    table = OBS.table
    if session.get_bind().dialect.name == "postgresql":
        ids = sorted(session.scalars(text(
            "SELECT nextval(pg_get_serial_sequence('sta_observations', 'id')) FROM generate_series(1, :n)"),
            {"n": len(slim)}))
        for row, new_id in zip(slim, ids):
            row["id"] = new_id
        session.execute(insert(table), slim)
        return ids
    return [r[0] for r in session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), slim)]


def create(session: Session, body: Any, links: Links, *, commit: bool = True) -> list[str]:
    try:
        out = _create(session, body, links)
        if commit:
            session.commit()
        else:
            session.flush()
        return out
    except Exception:
        if commit:
            session.rollback()
        raise


def _create(session: Session, body: Any, links: Links) -> list[str]:
    if not isinstance(body, list):
        raise bad([], "expected a JSON array of {Datastream, components, dataArray} objects")
    plans = []
    for i, item in enumerate(body):
        if not isinstance(item, dict):
            raise bad([i], "expected an object with Datastream, components and dataArray")
        for key in item:
            if key not in ("Datastream", "MultiDatastream", "components", "dataArray", "dataArray@iot.count"):
                raise bad([i, key], "unknown member; expected Datastream, components, dataArray")
        kind, sid = _stream(session, item, [i])
        comps = item.get("components")
        if not isinstance(comps, list) or not comps:
            raise bad([i, "components"], "required: a non-empty array of component names")
        for j, c in enumerate(comps):
            if c not in COMPONENTS:
                raise bad([i, "components", j], f"unknown component '{str(c)[:40]}'; known: {', '.join(COMPONENTS)}")
        if len(set(comps)) != len(comps):
            raise bad([i, "components"], "a component is listed twice")
        if "result" not in comps:
            raise bad([i, "components"], "must include result")
        data = item.get("dataArray")
        if not isinstance(data, list):
            raise bad([i, "dataArray"], "required: an array of rows")
        plans.append((kind, sid, comps, data))
    results: list[str] = []
    foi_cache: dict[int, int] = {}
    now = rules.now()
    for i, (kind, sid, comps, data) in enumerate(plans):
        width = rules.multi_datastream_width(session, sid) if kind == "MultiDatastream" else None
        rows, slots = [], []
        for values in data:
            try:
                row = _row(values, comps, width)
            except BadValue:
                results.append("error")
                continue
            row["datastream_id" if kind == "Datastream" else "multi_datastream_id"] = sid
            if row["phenomenon_time_start"] is None:
                row["phenomenon_time_start"] = now
            rows.append(row)
            results.append("")
            slots.append(len(results) - 1)
        if "FeatureOfInterest/id" in comps:
            wanted = {r["feature_of_interest_id"] for r in rows}
            table = ENTITY_TYPES["FeatureOfInterest"].table
            known = set(session.scalars(select(table.c.id).where(table.c.id.in_(wanted)))) if wanted else set()
            keep = [(r, s) for r, s in zip(rows, slots) if r["feature_of_interest_id"] in known]
            for r, s in zip(rows, slots):
                if r["feature_of_interest_id"] not in known:
                    results[s] = "error"
            rows, slots = [r for r, _ in keep], [s for _, s in keep]
        elif rows:
            thing = rules.stream_thing(session, kind, sid)
            foi = rules.generated_foi(session, thing, [i, "components"], foi_cache)
            for r in rows:
                r["feature_of_interest_id"] = foi
        if not rows:
            continue
        ids = insert_observations(session, rows)
        for slot, new_id in zip(slots, ids):
            results[slot] = links.entity(OBS, new_id)
            record(session, "Observation", new_id)
        rules.extend_stream(session, kind, sid, rows)
    return results


def read(ctx: ReadContext, res: Resolved, opts: Options, path: str) -> dict:
    comps = [c for c in (opts.select or DEFAULT_READ_COMPONENTS) if c == "id" or c in OBS.props]
    plain = Options(OBS, orderby=opts.orderby, top=opts.top, skip=opts.skip, count=opts.count,
                    filter=opts.filter, result_format=opts.result_format, select=opts.select)
    _items, rows, count, next_link = read_collection(ctx, res, plain, path)
    groups: dict[tuple[str, int], list] = {}
    for row in rows:
        key = ("Datastream", row["datastream_id"]) if row["datastream_id"] is not None else \
            ("MultiDatastream", row["multi_datastream_id"])
        groups.setdefault(key, []).append(
            [row["id"] if c == "id" else property_value(OBS.props[c], row) for c in comps])
    value = []
    for (kind, sid), data in groups.items():
        value.append({f"{kind}@iot.navigationLink": ctx.links.entity(ENTITY_TYPES[kind], sid),
                      "components": comps, "dataArray@iot.count": len(data), "dataArray": data})
    return collection_json(value, count, next_link)
