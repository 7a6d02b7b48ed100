"""The $aggregate extension for charts: mean/min/max/count per time bucket, computed in SQL."""

from __future__ import annotations

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import STA, get, new_thing


def _load(client, ds, rows):
    r = client.post(f"{STA}/CreateObservations", json=[{"Datastream": {"@iot.id": ds},
                                                         "components": ["phenomenonTime", "result"],
                                                         "dataArray": rows}])
    assert r.status_code == 201 and "error" not in r.json()


def test_hourly_buckets(client):
    ids = new_thing(client, n_obs=0)
    _load(client, ids["datastream"], [
        ["2024-03-01T10:05:00Z", 10], ["2024-03-01T10:55:00Z", 20], ["2024-03-01T11:00:00Z", 5],
        ["2024-03-01T13:30:00Z", 7], ["2024-03-01T13:31:00Z", "kapot"], ["2024-03-02T00:00:00Z", 100]])
    body = get(client, f"Datastreams({ids['datastream']})/Observations/$aggregate",
               interval="1h", **{"from": "2024-03-01T10:00:00Z", "to": "2024-03-01T23:59:59Z"})
    assert body["interval"] == "PT3600S"
    assert body["unitOfMeasurement"]["symbol"] == "ug/m3"
    assert body["value"] == [
        {"phenomenonTime": "2024-03-01T10:00:00Z/2024-03-01T11:00:00Z", "mean": 15.0, "min": 10.0, "max": 20.0,
         "count": 2},
        {"phenomenonTime": "2024-03-01T11:00:00Z/2024-03-01T12:00:00Z", "mean": 5.0, "min": 5.0, "max": 5.0,
         "count": 1},
        {"phenomenonTime": "2024-03-01T13:00:00Z/2024-03-01T14:00:00Z", "mean": 7.0, "min": 7.0, "max": 7.0,
         "count": 1},
    ]
    daily = get(client, f"Datastreams({ids['datastream']})/Observations/$aggregate", interval="P1D")
    assert [(v["phenomenonTime"][:10], v["count"], v["max"]) for v in daily["value"]] == [
        ("2024-03-01", 4, 20.0), ("2024-03-02", 1, 100.0)]


def test_aggregate_bad_input(client, settings):
    ids = new_thing(client, n_obs=2)
    url = f"{STA}/Datastreams({ids['datastream']})/Observations/$aggregate"
    for params, word in (({"interval": "soms"}, "interval"), ({"interval": "0h"}, "interval"),
                         ({"from": "morgen"}, "from"), ({"colour": "red"}, "colour"),
                         ({"interval": "1s", "from": "2000-01-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}, "buckets"),
                         ({"from": "2024-02-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}, "before")):
        r = client.get(url, params=params)
        assert r.status_code == 400, params
        assert word in r.json()["detail"]
    assert client.get(f"{STA}/Datastreams(4242)/Observations/$aggregate").status_code == 404
    assert client.get(f"{STA}/Things(1)/$aggregate").status_code == 400
