"""Prometheus metrics.

Labels use the *route template* (``/sta/v1.1/Things({id})``), never the raw path:
raw paths carry ids and would create a time series per entity. With several
worker processes set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by
the workers (and wiped at service start); the scrape then aggregates all
workers' counters and histograms. Pool and MQTT gauges are read live at scrape
time from the process that answers the scrape (one sample per answering worker).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
import zlib

import orjson

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY

REQUESTS = Counter("stadslab_http_requests_total", "HTTP requests handled",
                   ["method", "route", "status_class"])
LATENCY = Histogram("stadslab_http_request_duration_seconds", "HTTP request latency",
                    ["method", "route", "status_class"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
#: Observations stored, by channel (http, mqtt, lorawan). Ingest paths outside
#: the HTTP layer call ``observations_ingested.labels(channel).inc(n)``.
observations_ingested = Counter("stadslab_observations_ingested_total",
                                "SensorThings Observations created", ["channel"])
SHED = Counter("stadslab_http_requests_shed_total", "Requests refused with 503 because the process was full")
#: Connections closed or requests refused because the client was too slow or too big
#: (reason: header, body, write, head_too_large; see ops/server.py).
SLOW_CLIENTS = Counter("stadslab_http_slow_clients_total",
                       "Connections closed or requests answered 408/431 because of a slow or oversized client",
                       ["reason"])

#: MQTT creates (sensorthings/mqtt/ingest.py): messages by outcome (stored, duplicates,
#: rejected, ignored; their sum is what was received), store attempts repeated because
#: the database was away or full, and when the last message was handled. A rising retry
#: count or an old timestamp is the ingest lag; the broker's own queue is in its $SYS tree.
MQTT_MESSAGES = Counter("stadslab_mqtt_create_messages_total", "MQTT create messages handled, by outcome",
                        ["outcome"])
MQTT_RETRIES = Counter("stadslab_mqtt_create_retries_total",
                       "MQTT creates retried because the database was unavailable or full")
MQTT_LAST_MESSAGE = Gauge("stadslab_mqtt_last_message_timestamp_seconds",
                          "Unix time the last MQTT create message was handled", multiprocess_mode="max")


def record_mqtt_create(outcome: str, n: int = 1) -> None:
    """Hook of ``ObservationCreates._count``: ``stored`` comes with the number of Observations."""
    if outcome == "retries":
        MQTT_RETRIES.inc(n)
        return
    if outcome == "stored":
        observations_ingested.labels("mqtt").inc(n)
        n = 1
    MQTT_MESSAGES.labels(outcome).inc(n)
    MQTT_LAST_MESSAGE.set(time.time())


#: POST routes whose 201 response means one Observation was stored over HTTP.
_OBSERVATION_ROUTES = ("/Observations",)
#: POST routes whose answer lists what was stored: the Observations are counted from the answer.
_COUNTED_ROUTES = ("/CreateObservations", "/$batch")


def stored_observations(path: str, body: bytes) -> int:
    """Observations a CreateObservations or ``$batch`` answer reports as stored.

    CreateObservations answers one selfLink per stored row and ``"error"`` for a refused one;
    a ``$batch`` answers each request: a 201 whose Location names an Observation is one, a
    CreateObservations inside the batch counts as above.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    if path.endswith("/CreateObservations"):
        return sum(1 for x in data if isinstance(x, str) and x != "error") if isinstance(data, list) else 0
    n = 0
    for item in (data.get("responses") if isinstance(data, dict) else None) or []:
        if not isinstance(item, dict) or item.get("status") not in (200, 201):
            continue
        body_ = item.get("body")
        if isinstance(body_, list):  # a CreateObservations in the batch
            n += sum(1 for x in body_ if isinstance(x, str) and x != "error")
        elif item.get("status") == 201 and "/Observations(" in str((item.get("headers") or {}).get("location", "")):
            n += 1
    return n


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status class."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}
        path = scope["path"].rstrip("/")
        counted = (scope["method"] == "POST" and path.startswith("/sta/") and path.endswith(_COUNTED_ROUTES))
        answer: list[bytes] = []
        encoding = {"gzip": False}

        async def send_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                encoding["gzip"] = any(k == b"content-encoding" and b"gzip" in v for k, v in message.get("headers", ()))
            elif counted and message["type"] == "http.response.body" and status["code"] in (200, 201):
                answer.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            code = status["code"]
            route = _full_route(scope)
            labels = (scope["method"], route, f"{code // 100}xx")
            REQUESTS.labels(*labels).inc()
            LATENCY.labels(*labels).observe(time.perf_counter() - started)
            if scope["method"] == "POST" and code == 201 and path.startswith("/sta/") \
                    and path.endswith(_OBSERVATION_ROUTES):
                observations_ingested.labels("http").inc()
            elif counted and answer:
                body = b"".join(answer)
                if encoding["gzip"]:
                    try:
                        body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
                    except zlib.error:
                        body = b""
                stored = stored_observations(path, body)
                if stored:
                    observations_ingested.labels("http").inc(stored)


#: Prefixes under which app.py includes routers. FastAPI reports an included route's
#: template without its include prefix, so the prefix is taken from the raw path;
#: the set is fixed, which keeps the label set bounded.
ROUTER_PREFIXES = ("/api/v1", "/sta/v1.1", "/ogcapi")


def _full_route(scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not path:
        return "<unmatched>"
    raw = scope.get("path", "")
    for prefix in ROUTER_PREFIXES:
        if raw.startswith(prefix + "/") and not path.startswith(prefix):
            return prefix + path
    return path


class _RuntimeCollector:
    """Database pool and MQTT state, read when scraped."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        pool = GaugeMetricFamily("stadslab_db_pool_connections", "Database connections by state",
                                 labels=["state"])
        db = getattr(self.app.state, "db", None)
        p = getattr(getattr(db, "engine", None), "pool", None)
        for state, fn in (("checked_out", "checkedout"), ("idle", "checkedin"), ("size", "size")):
            value = getattr(p, fn, None)
            if callable(value):
                try:
                    pool.add_metric([state], float(value()))
                except Exception:  # noqa: BLE001 - pools without this figure are skipped
                    pass
        yield pool
        mqtt = getattr(self.app.state, "mqtt", None)
        configured = bool(getattr(self.app.state.settings, "mqtt_url", None))
        g = GaugeMetricFamily("stadslab_mqtt_connected",
                              "1 when connected to the MQTT broker (absent when no broker is configured)")
        if configured:
            g.add_metric([], 1.0 if getattr(getattr(mqtt, "bus", None), "connected", False) else 0.0)
        yield g
        queue = getattr(getattr(mqtt, "notifier", None), "_queue", None)
        q = GaugeMetricFamily("stadslab_mqtt_notification_queue",
                              "Change batches waiting to be announced over MQTT (bounded; full = dropped)")
        if configured and queue is not None:
            q.add_metric([], float(queue.qsize()))
        yield q


class _Combined:
    def __init__(self, *collectors):
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()


def render(app) -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY  # this process's counters plus the process, platform and GC collectors
    return generate_latest(_Combined(registry, _RuntimeCollector(app))), CONTENT_TYPE_LATEST


def may_scrape(settings, client_host: str | None, authorization: str | None) -> bool:
    """Loopback, a matching admin token or ``STADSLAB_METRICS_PUBLIC=true``."""
    if settings.metrics_public:
        return True
    token = settings.metrics_token
    if token and authorization and authorization.lower().startswith("bearer "):
        if hmac.compare_digest(authorization[7:].strip().encode(), token.encode()):
            return True
    try:
        return bool(client_host) and ipaddress.ip_address(client_host).is_loopback
    except ValueError:
        return False
