"""Aggregated reads for charts: ``Datastreams(1)/Observations/$aggregate?interval=1h&from=..&to=..``.

Buckets are fixed-length intervals aligned to the Unix epoch (so 1h buckets
start on the hour, 1d buckets at 00:00 UTC). Mean, min, max and count of the
numeric results are computed in SQL on both dialects; a bucket without
numeric results is left out. This is a Stadslab extension, not part of OGC
18-088; it is announced in the service root's ``serverSettings``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from sqlalchemy import BigInteger, Integer, cast, func, literal_column, select

from stadslab.core.errors import BadRequest

from ..model.entities import ENTITY_TYPES
from .reader import ReadContext, resolve
from ..model.urls import ResourcePath
from ..model.values import BadValue, as_utc, format_instant, parse_duration, parse_instant

PARAMS = ("interval", "from", "to")
OBS = ENTITY_TYPES["Observation"].table
DS = ENTITY_TYPES["Datastream"].table
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _bad(name: str, msg: str) -> BadRequest:
    return BadRequest(f"{name}: {msg}", errors=[{"loc": ["query", name], "field": name, "msg": msg}])


def _epoch_seconds(col, dialect: str):
    if dialect == "sqlite":
        return cast(func.strftime("%s", col), Integer)
    return cast(func.floor(func.extract("epoch", col)), BigInteger)


_FIRST = datetime.min.replace(tzinfo=timezone.utc)
_LAST = datetime.max.replace(tzinfo=timezone.utc)


def _shift(dt: datetime, delta: timedelta) -> datetime:
    """``dt + delta``, held at the ends of the calendar: Observations stored before the supported
    range (docs/sensorthings.md "Limits") may lie next to year 1 or 9999, and their buckets must
    still be answered rather than overflow."""
    try:
        return dt + delta
    except OverflowError:
        return _FIRST if delta < timedelta(0) else _LAST


def read(ctx: ReadContext, rp: ResourcePath, raw: dict[str, str]) -> dict:
    for key in raw:
        if key not in PARAMS:
            raise _bad(key, f"unknown parameter for $aggregate; known: {', '.join(PARAMS)}")
    owner = rp.segments[-2]
    if owner.entity.name != "Datastream":
        raise BadRequest("$aggregate is available for Datastreams (single numeric results) only")
    res = resolve(ctx.session, ResourcePath(rp.segments), ctx.principal)  # a hidden Datastream is a 404
    ds_id = res.parent[1]
    try:
        step = parse_duration(raw.get("interval", "1h"))
    except BadValue as exc:
        raise _bad("interval", str(exc)) from None
    ds = ctx.session.execute(select(DS.c.unit_of_measurement, DS.c.phenomenon_time_start, DS.c.phenomenon_time_end)
                             .where(DS.c.id == ds_id)).first()
    bounds = {}
    for key, fallback in (("from", ds.phenomenon_time_start), ("to", ds.phenomenon_time_end)):
        if key in raw:
            try:
                bounds[key] = parse_instant(raw[key])
            except BadValue as exc:
                raise _bad(key, str(exc)) from None
        else:
            bounds[key] = as_utc(fallback)
    start, end = bounds["from"], bounds["to"]
    secs = int(step.total_seconds())
    body = {"Datastream@iot.navigationLink": ctx.links.entity(ENTITY_TYPES["Datastream"], ds_id),
            "interval": f"PT{secs}S", "unitOfMeasurement": ds.unit_of_measurement,
            "from": format_instant(start), "to": format_instant(end), "value": []}
    if start is None or end is None:
        return body  # no observations yet
    if end < start:
        raise _bad("to", "lies before from")
    if end == start:
        end = _shift(start, timedelta(microseconds=1))
    buckets = math.ceil((end - start).total_seconds() / secs) + 1
    limit = ctx.settings.sta_page_size_max
    if buckets > limit:
        raise _bad("interval", f"{buckets} buckets between from and to; at most {limit}. "
                               "Use a longer interval or a shorter period")
    epoch = _epoch_seconds(OBS.c.phenomenon_time_start, ctx.dialect)
    bucket = (func.floor(epoch / literal_column(f"{secs}.0")) * literal_column(str(secs))).label("bucket")
    stmt = (select(bucket, func.avg(OBS.c.result_number), func.min(OBS.c.result_number),
                   func.max(OBS.c.result_number), func.count(OBS.c.result_number))
            .where(OBS.c.datastream_id == ds_id, OBS.c.phenomenon_time_start >= start,
                   OBS.c.phenomenon_time_start <= end, OBS.c.result_number.is_not(None))
            .group_by(bucket).order_by(bucket))
    for b, mean, low, high, n in ctx.session.execute(stmt):
        t0 = _shift(EPOCH, timedelta(seconds=int(b)))
        body["value"].append({"phenomenonTime": f"{format_instant(t0)}/{format_instant(_shift(t0, step))}",
                              "mean": float(mean), "min": float(low), "max": float(high), "count": int(n)})
    return body
