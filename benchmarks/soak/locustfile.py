"""Locust scenario of a national-scale hub: gateways and sensors writing, dashboards, the registry and the site.

Every request type is its own user class with a fixed number of users and
``constant_pacing``, so each type arrives at a set rate (requests per second)
whatever the others do, as long as its responses come back within the pacing
(about ``plan.PACING_S`` seconds, longer than any p95 we accept). The rates, the
token and the ids to use come from the JSON file named by ``SOAK_CONFIG``,
written by ``run_soak.py``:

    {"token": "...", "datastreams": [1, 2, ...], "lab_ids": [1, ...],
     "rates": {"bulk": 13.4, "single": 20, ...}}

Run by ``benchmarks/soak/run_soak.py``, which also works out ``-u`` (the sum of the classes'
``fixed_count``) and names the classes to run. By hand, from the project root:

    PYTHONPATH=. SOAK_CONFIG=cfg.json .venv/bin/locust -f benchmarks/soak/locustfile.py --headless \
        -H http://127.0.0.1:8000 -u <users> -t 60s BulkIngest SingleIngest DashboardRead
"""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta, timezone

import orjson
from locust import FastHttpUser, constant_pacing, task

from benchmarks.soak.plan import CLASSES, bulk_body, iso, users

STA = "/sta/v1.1"
SEARCH_WORDS = ("luchtkwaliteit", "mobiliteit", "energie", "sensor", "water", "afval", "parkeren", "warmte",
                "geluid", "fiets", "data", "wijk", "klimaat", "verkeer", "zorg", "groen")
#: Map view: the Randstad, roughly (lon/lat).
MAP_BOX = "POLYGON((4.2 51.8, 5.3 51.8, 5.3 52.5, 4.2 52.5, 4.2 51.8))"

CONFIG = json.loads(open(os.environ["SOAK_CONFIG"], encoding="utf-8").read()) if os.environ.get("SOAK_CONFIG") \
    else {"token": "", "datastreams": [1], "lab_ids": [1], "rates": {}}
AUTH = {"Authorization": f"Bearer {CONFIG['token']}", "content-type": "application/json"}
DATASTREAMS: list[int] = CONFIG["datastreams"]


def _check(response, expect: int) -> None:
    if response.status_code != expect:
        response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
    elif expect == 201 and b'"error"' in response.content:
        response.failure("rows rejected")
    else:
        response.success()


def _user(kind: str, base: type) -> type:
    """The concrete user class of ``kind``; the runner names on the command line those with a rate > 0."""
    n, pacing = users(float(CONFIG["rates"].get(kind, 0)))
    return type(CLASSES[kind], (base,), {"fixed_count": max(n, 1), "wait_time": constant_pacing(pacing),
                                         "__module__": __name__})


class _Base(FastHttpUser):
    abstract = True
    network_timeout = 30.0
    connection_timeout = 10.0


class _Bulk(_Base):
    abstract = True

    @task
    def create_observations(self):
        body, _rows = bulk_body(DATASTREAMS, CONFIG.get("ordered", True))
        with self.client.post(f"{STA}/CreateObservations", data=body, headers=AUTH,
                              name="ingest: CreateObservations", catch_response=True) as r:
            _check(r, 201)


class _Single(_Base):
    abstract = True

    @task
    def post_observation(self):
        body = orjson.dumps({"phenomenonTime": iso(datetime.now(timezone.utc)),
                             "result": round(random.uniform(-5, 35), 2),
                             "Datastream": {"@iot.id": random.choice(DATASTREAMS)}})
        with self.client.post(f"{STA}/Observations", data=body, headers=AUTH,
                              name="ingest: POST Observations", catch_response=True) as r:
            _check(r, 201)


class _Dashboard(_Base):
    abstract = True

    @task
    def newest_page(self):
        ds = random.choice(DATASTREAMS)
        with self.client.get(f"{STA}/Datastreams({ds})/Observations?$top=100&$orderby=phenomenonTime%20desc",
                             name="read: Datastreams(id)/Observations top100", catch_response=True) as r:
            _check(r, 200)


class _Aggregate(_Base):
    abstract = True

    @task
    def aggregate(self):
        ds = random.choice(DATASTREAMS)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        frm = (now - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.client.get(f"{STA}/Datastreams({ds})/Observations/$aggregate?interval=1h&from={frm}"
                             f"&to={now.strftime('%Y-%m-%dT%H:%M:%SZ')}",
                             name="read: $aggregate 24h by 1h", catch_response=True) as r:
            _check(r, 200)


class _Map(_Base):
    abstract = True

    @task
    def map_things(self):
        flt = f"Locations/any(l: geo.intersects(l/location, geography'{MAP_BOX}'))"
        with self.client.get(f"{STA}/Things", params={"$filter": flt, "$top": "200", "$select": "id,name",
                                                      "$expand": "Locations($select=location)"},
                             name="read: map Things+Locations", catch_response=True) as r:
            _check(r, 200)


class _Search(_Base):
    abstract = True

    @task
    def search(self):
        with self.client.get("/api/v1/search", params={"q": random.choice(SEARCH_WORDS)},
                             name="registry: /api/v1/search", catch_response=True) as r:
            _check(r, 200)


class _Web(_Base):
    abstract = True

    @task
    def home(self):
        with self.client.get("/", name="web: /", catch_response=True) as r:
            _check(r, 200)

    @task
    def lab(self):
        with self.client.get(f"/labs/{random.choice(CONFIG['lab_ids'])}", name="web: /labs/{id}",
                             catch_response=True) as r:
            _check(r, 200)

    @task
    def register(self):
        with self.client.get("/sensoren", name="web: /sensoren", catch_response=True) as r:
            _check(r, 200)


BulkIngest = _user("bulk", _Bulk)
SingleIngest = _user("single", _Single)
DashboardRead = _user("dashboard", _Dashboard)
AggregateRead = _user("aggregate", _Aggregate)
MapRead = _user("map", _Map)
SearchRead = _user("search", _Search)
WebPages = _user("web", _Web)
