"""DataArray extension (OGC 18-088 §14): compact bulk creation and reading of Observations.

``POST CreateObservations`` is the ingest hot path: rows are validated in
plain Python and written with one multi-row INSERT per request (no ORM
objects). As the standard prescribes, a row that cannot be stored is answered
with ``"error"`` in its position while the other rows are created; a request
whose structure is wrong (unknown Datastream, bad components) creates nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.core.errors import NotFound
from stadslab.core.json_limits import check_value

from . import auditing, rules
from ..access import claims, visibility
from ..access.authz import WriteGuard, require_writer
from .bulk import insert_observations
from ..mqtt.changes import record_many
from ..model.entities import ENTITY_TYPES
from ..read.options import Options
from ..read.reader import ReadContext, Resolved, read_collection
from ..model.values import bad
from ..read.serialize import Links, collection_json, property_value
from .writer import valid_id
from ..model.values import BadValue, parse_instant, parse_interval, parse_time_object, result_columns

OBS = ENTITY_TYPES["Observation"]
COMPONENTS = ("phenomenonTime", "result", "resultTime", "resultQuality", "validTime", "parameters",
              "FeatureOfInterest/id")
DEFAULT_READ_COMPONENTS = ["id", "phenomenonTime", "resultTime", "result"]


def _stream(session: Session, item: dict, loc: list, seen: dict[str, set[int]] | None = None) -> tuple[str, int]:
    """``seen``: the streams ``_authorize`` found already (no second look-up per item)."""
    kinds = [k for k in ("Datastream", "MultiDatastream") if k in item]
    if len(kinds) != 1:
        raise bad(loc, "give exactly one of Datastream or MultiDatastream")
    kind = kinds[0]
    ref = item[kind]
    if not isinstance(ref, dict) or not valid_id(ref.get("@iot.id")):
        raise bad([*loc, kind, "@iot.id"], "must be a positive integer id")
    table = ENTITY_TYPES[kind].table
    if seen is not None and ref["@iot.id"] in seen.get(kind, ()):
        return kind, ref["@iot.id"]
    if session.scalar(select(table.c.id).where(table.c.id == ref["@iot.id"])) is None:
        raise NotFound(f"{'.'.join(map(str, loc))}.{kind}: {kind}s({ref['@iot.id']}) does not exist")
    return kind, ref["@iot.id"]


def _phenomenon(value: Any) -> tuple:
    return parse_time_object(value)


def _result_of(width: int | None):
    def convert(value: Any) -> tuple:
        if width is not None and (not isinstance(value, list) or len(value) != width):
            raise BadValue(f"result must be an array of {width} values")
        number, string = result_columns(value)
        return value, number, string
    return convert


def _result_time(value: Any) -> tuple:
    return (None if value is None else parse_instant(value),)


def _as_is(value: Any) -> tuple:
    return (value,)


def _valid_time(value: Any) -> tuple:
    return (None, None) if value is None else parse_interval(value)


def _parameters(value: Any) -> tuple:
    if value is not None and not isinstance(value, dict):
        raise BadValue("parameters must be an object")
    return (value,)


def _foi_id(value: Any) -> tuple:
    if not valid_id(value):
        raise BadValue("FeatureOfInterest/id must be a positive integer")
    return (value,)


#: component -> the Observation columns it fills, in order.
_COMPONENT_COLUMNS = {
    "phenomenonTime": ("phenomenon_time_start", "phenomenon_time_end"),
    "result": ("result", "result_number", "result_string"),
    "resultTime": ("result_time",),
    "resultQuality": ("result_quality",),
    "validTime": ("valid_time_start", "valid_time_end"),
    "parameters": ("parameters",),
    "FeatureOfInterest/id": ("feature_of_interest_id",),
}


class _RowReader:
    """Turns the DataArray rows of one stream into column tuples, validating each value.

    Built once per request item: the converters are looked up per component, not per row.
    """

    def __init__(self, components: list[str], width: int | None):
        table = {"phenomenonTime": _phenomenon, "result": _result_of(width), "resultTime": _result_time,
                 "resultQuality": _as_is, "validTime": _valid_time, "parameters": _parameters,
                 "FeatureOfInterest/id": _foi_id}
        self.converters = [table[c] for c in components]
        self.n = len(components)
        self.columns = [col for c in components for col in _COMPONENT_COLUMNS[c]]
        self.default_time = "phenomenonTime" not in components

    def row(self, values: Any) -> tuple:
        if type(values) is not list or len(values) != self.n:
            raise BadValue(f"expected {self.n} values")
        out: tuple = ()
        for convert, value in zip(self.converters, values):
            out += convert(value)
        return out


def create(session: Session, body: Any, links: Links, *, principal: Principal, commit: bool = True) -> list[str]:
    """Needs write rights on the owner of every (Multi)Datastream named; one audit event per request."""
    require_writer(principal)
    try:
        guard = WriteGuard(session, principal)
        streams = _authorize(guard, body)
        out = _create(session, body, links, foi_visible=visibility.where(principal, "FeatureOfInterest"),
                      guard=guard, seen=streams)
        auditing.record_observations(session, principal, sum(1 for r in out if r != "error"),
                                     streams["Datastream"], streams["MultiDatastream"])
        if commit:
            session.commit()
        else:
            session.flush()
        return out
    except Exception:
        if commit:
            session.rollback()
        raise


def _authorize(guard: WriteGuard, body: Any) -> dict[str, set[int]]:
    """Check every well-formed stream reference before anything is stored: one the caller may
    not see is unknown (404, worded as ``_stream`` words it), one it may not write is 403.
    Malformed items are left to ``_plans``, which names what is wrong with them."""
    streams: dict[str, set[int]] = {"Datastream": set(), "MultiDatastream": set()}
    named: list[tuple[int, str, int]] = []
    for i, item in enumerate(body if isinstance(body, list) else []):
        kinds = [k for k in streams if isinstance(item, dict) and k in item]
        if len(kinds) != 1 or not isinstance(item[kinds[0]], dict) or not valid_id(item[kinds[0]].get("@iot.id")):
            continue
        named.append((i, kinds[0], item[kinds[0]]["@iot.id"]))
    visible: dict[str, set[int]] = {}
    for kind in streams:  # one look-up per kind for all items (a gateway names dozens of streams)
        wanted = {sid for _, k, sid in named if k == kind}
        table = ENTITY_TYPES[kind].table
        visible[kind] = set(guard.session.scalars(select(table.c.id).where(
            table.c.id.in_(wanted), *guard.visible(kind)))) if wanted else set()
    for i, kind, sid in named:
        if sid not in streams[kind]:
            if sid not in visible[kind]:
                raise NotFound(f"{i}.{kind}: {kind}s({sid}) does not exist")
            guard.check_change(kind, sid)
            streams[kind].add(sid)
    return streams


def _plans(session: Session, body: Any, seen: dict[str, set[int]] | None = None,
           ) -> list[tuple[str, int, list[str], list]]:
    """Check the structure of the whole request before anything is stored."""
    if not isinstance(body, list):
        raise bad([], "expected a JSON array of {Datastream, components, dataArray} objects")
    plans = []
    for i, item in enumerate(body):
        if not isinstance(item, dict):
            raise bad([i], "expected an object with Datastream, components and dataArray")
        for key in item:
            if key not in ("Datastream", "MultiDatastream", "components", "dataArray", "dataArray@iot.count"):
                raise bad([i, key], "unknown member; expected Datastream, components, dataArray")
        kind, sid = _stream(session, item, [i], seen)
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
        _check_free_json(comps, data, [i, "dataArray"])
        plans.append((kind, sid, comps, data))
    return plans


#: Components stored as the client's JSON: bounded like every free JSON field (core.json_limits).
_FREE_JSON = ("result", "resultQuality", "parameters")


def _check_free_json(comps: list[str], data: list, loc: list) -> None:
    """Free JSON values of every row, before anything is stored: one that could not be read back
    fails the whole request (400 naming row and component), not just its row."""
    free = [(j, c) for j, c in enumerate(comps) if c in _FREE_JSON]
    n = len(comps)
    for r, values in enumerate(data):
        if type(values) is list and len(values) == n:
            for j, name in free:
                check_value(values[j], [*loc, r, name])


def _create(session: Session, body: Any, links: Links, foi_visible: list = (),
            guard: WriteGuard | None = None, seen: dict[str, set[int]] | None = None) -> list[str]:
    plans = _plans(session, body, seen)
    results: list[str] = []
    foi_cache: dict[int, int] = {}
    now = rules.now()
    summaries: list[tuple[str, int, list[str], list[tuple]]] = []
    pending: dict[tuple[str, ...], tuple[list[tuple], list[int]]] = {}
    # Generated FeaturesOfInterest first, in Thing id order: making one updates its Location row,
    # which stays locked until the commit (the same deadlock as the stream summaries below).
    thing_of: dict[tuple[str, int], int] = {}
    first_item: dict[int, int] = {}
    wanted: dict[str, set[int]] = {}
    for kind, sid, comps, data in plans:
        if data and "FeatureOfInterest/id" not in comps:
            wanted.setdefault(kind, set()).add(sid)
    for kind, sids in wanted.items():  # one look-up per kind, not per item
        thing_of.update(((kind, sid), thing) for sid, thing in rules.stream_things(session, kind, sids).items())
    for i, (kind, sid, comps, data) in enumerate(plans):
        if data and "FeatureOfInterest/id" not in comps:
            first_item.setdefault(thing_of[(kind, sid)], i)
    for thing in sorted(first_item):
        rules.generated_foi(session, thing, [first_item[thing], "components"], foi_cache)
    for i, (kind, sid, comps, data) in enumerate(plans):
        width = rules.multi_datastream_width(session, sid) if kind == "MultiDatastream" else None
        reader = _RowReader(comps, width)
        rows, slots = [], []
        read_row = reader.row
        for values in data:
            try:
                row = read_row(values)
            except BadValue:
                results.append("error")
                continue
            rows.append(row)
            results.append("")
            slots.append(len(results) - 1)
        columns = list(reader.columns)
        if reader.default_time:
            columns.append("phenomenon_time_start")
            rows = [(*r, now) for r in rows]
        if "FeatureOfInterest/id" in comps:
            at = columns.index("feature_of_interest_id")
            wanted = {r[at] for r in rows}
            table = ENTITY_TYPES["FeatureOfInterest"].table
            known = set(session.scalars(select(table.c.id).where(table.c.id.in_(wanted), *foi_visible))) if wanted \
                else set()  # a FeatureOfInterest the caller may not see counts as unknown
            for foi_id in sorted(known) if guard is not None else ():  # another owner's: rights, as in the writer
                guard.check_link("FeatureOfInterest", foi_id)
            claims.claim_for_stream(session, known, kind, sid)
            if len(known) < len(wanted):
                keep = [(r, s) for r, s in zip(rows, slots) if r[at] in known]
                for r, s in zip(rows, slots):
                    if r[at] not in known:
                        results[s] = "error"
                rows, slots = [r for r, _ in keep], [s for _, s in keep]
            columns.insert(0, "datastream_id" if kind == "Datastream" else "multi_datastream_id")
            rows = [(sid, *r) for r in rows]
        elif rows:
            foi = rules.generated_foi(session, thing_of[(kind, sid)], [i, "components"], foi_cache)
            columns[:0] = ["datastream_id" if kind == "Datastream" else "multi_datastream_id",
                           "feature_of_interest_id"]
            rows = [(sid, foi, *r) for r in rows]
        if not rows:
            continue
        # rows of every item with the same columns go in together: a gateway's body of 40
        # Datastreams × 5 rows is one insert (COPY), not 40 (issue #18: cost per row, not per item)
        batch = pending.setdefault(tuple(columns), ([], []))
        batch[0].extend(rows)
        batch[1].extend(slots)
        summaries.append((kind, sid, columns, rows))
    entity_link = links.entity
    for columns_key, (rows, slots) in pending.items():
        ids = insert_observations(session, list(columns_key), rows)
        for slot, new_id in zip(slots, ids):
            results[slot] = entity_link(OBS, new_id)
        record_many(session, "Observation", ids)
    # Stream summaries last and in id order: the UPDATEs lock the stream rows until the commit,
    # and two requests naming the same streams in different orders would otherwise deadlock.
    for kind, sid, columns, rows in sorted(summaries, key=lambda s: (s[0], s[1])):
        _extend(session, kind, sid, columns, rows)
    return results


def _extend(session: Session, kind: str, sid: int, columns: list[str], rows: list[tuple]) -> None:
    """Fold the new rows into the stream's phenomenonTime, resultTime and observedArea."""
    at = {c: i for i, c in enumerate(columns)}
    start = at["phenomenon_time_start"]
    p_start = min(r[start] for r in rows)
    if "phenomenon_time_end" in at:
        end = at["phenomenon_time_end"]
        p_end = max(r[end] or r[start] for r in rows)
    else:
        p_end = max(r[start] for r in rows)
    r_start = r_end = None
    if "result_time" in at:
        times = [r[at["result_time"]] for r in rows if r[at["result_time"]] is not None]
        if times:
            r_start, r_end = min(times), max(times)
    foi = at["feature_of_interest_id"]
    rules.extend_stream_bounds(session, kind, sid, p_start, p_end, r_start, r_end, {r[foi] for r in rows})


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
