"""The load plan shared by the runner and the locustfile (no locust import here: it monkey-patches).

Rates are requests per second at multiplier 1x. Ingest carries ``OBS_RATE`` Observations per
second in all: ``SINGLE_RATE`` single POSTs, the rest in CreateObservations requests of 125 rows
on average.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import orjson

#: 100,000 sensors at one reading a minute.
OBS_RATE = 1700.0
SINGLE_RATE = 20.0
#: Rows per CreateObservations request: uniform 50..200 (mean 125), ``ROWS_PER_STREAM`` per Datastream,
#: as a gateway that forwards the last few minutes of its sensors' one-per-minute readings.
ROWS_MIN, ROWS_MAX, ROWS_PER_STREAM = 50, 200, 5
BULK_MEAN_ROWS = (ROWS_MIN + ROWS_MAX) / 2
PACING_S = 2.0
#: requests/s at 1x, besides ingest
READ_RATES = {"dashboard": 10.0, "aggregate": 4.0, "map": 1.0, "search": 2.0, "web": 1.5}
#: locust user class per request kind
CLASSES = {"bulk": "BulkIngest", "single": "SingleIngest", "dashboard": "DashboardRead",
           "aggregate": "AggregateRead", "map": "MapRead", "search": "SearchRead", "web": "WebPages"}


def rates(multiplier: float = 1.0, obs_rate: float = OBS_RATE, single_rate: float = SINGLE_RATE) -> dict[str, float]:
    base = {"bulk": (obs_rate - single_rate) / BULK_MEAN_ROWS, "single": single_rate, **READ_RATES}
    return {k: v * multiplier for k, v in base.items()}


def users(rate: float) -> tuple[int, float]:
    """(fixed user count, pacing in s) that give ``rate`` requests/s; (0, 1) for a rate of 0."""
    if rate <= 0:
        return 0, 1.0
    n = max(1, math.ceil(rate * PACING_S))
    return n, n / rate


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def bulk_items(datastreams: list[int], ordered: bool = True) -> list[dict]:
    """CreateObservations items: 50..200 rows spread over many Datastreams, 5 recent readings each.

    ``ordered``: items sorted by Datastream id. The server locks each Datastream's row (to widen its
    phenomenonTime) in item order, so two requests naming the same Datastreams in different
    orders can deadlock on PostgreSQL (seen in this soak: HTTP 500); sorted items avoid that.
    """
    n = random.randint(ROWS_MIN, ROWS_MAX)
    now = datetime.now(timezone.utc)
    streams = random.sample(datastreams, min(len(datastreams), math.ceil(n / ROWS_PER_STREAM)))
    if ordered:
        streams.sort()
    items, left = [], n
    for ds in streams:
        k = min(ROWS_PER_STREAM, left)
        left -= k
        rows = [[iso(now - timedelta(minutes=j, milliseconds=random.randint(0, 999))),
                 round(random.uniform(-5, 35), 2)] for j in range(k)]
        items.append({"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows})
    return items


def bulk_body(datastreams: list[int], ordered: bool = True) -> tuple[bytes, int]:
    items = bulk_items(datastreams, ordered)
    return orjson.dumps(items), sum(len(i["dataArray"]) for i in items)
