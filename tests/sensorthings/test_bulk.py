"""The bulk ingest path (``bulk.py``): rows written by CreateObservations are stored exactly like
rows written one by one through the ORM/Core path, and every returned selfLink points at its row."""

from __future__ import annotations

from datetime import datetime, timezone

from shapely.geometry import Polygon, shape
from sqlalchemy import text

from stadslab.sensorthings.write.bulk import encode, insert_observations, json_text, sqlite_datetime

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import STA, get, new_thing, post

RAW_COLUMNS = ("phenomenon_time_start", "phenomenon_time_end", "result_time", "result", "result_number",
               "result_string", "result_quality", "valid_time_start", "valid_time_end", "parameters",
               "feature_of_interest_id")


def _raw(db, obs_id: int) -> dict:
    with db.engine.connect() as conn:
        row = conn.execute(text(f"SELECT {', '.join(RAW_COLUMNS)} FROM sta_observations WHERE id = :i"),
                           {"i": obs_id}).one()
    return dict(zip(RAW_COLUMNS, row))


def _id(link: str) -> int:
    return int(link.rsplit("(", 1)[1][:-1])


def test_bulk_rows_are_stored_like_single_posts(client, db):
    ids = new_thing(client, n_obs=0)
    foi = post(client, "FeaturesOfInterest", {"name": "f", "description": "d", "encodingType": "application/geo+json",
                                              "feature": {"type": "Point", "coordinates": [5, 52]}})["@iot.id"]
    values = {"phenomenonTime": "2024-06-01T10:00:00.250Z/2024-06-01T10:05:00Z", "result": 21.5,
              "resultTime": "2024-06-01T10:06:00Z", "resultQuality": {"grade": "A", "n": [1, 2]},
              "validTime": "2024-06-01T00:00:00Z/2024-06-02T00:00:00+02:00", "parameters": {"k": "v", "x": 1.5}}
    single = post(client, f"Datastreams({ids['datastream']})/Observations",
                  {**values, "FeatureOfInterest": {"@iot.id": foi}})
    comps = [*values, "FeatureOfInterest/id"]
    r = client.post(f"{STA}/CreateObservations", json=[{"Datastream": {"@iot.id": ids["datastream"]},
                                                         "components": comps,
                                                         "dataArray": [[*values.values(), foi]]}])
    assert r.status_code == 201, r.text
    bulk_id = _id(r.json()[0])
    single_raw, bulk_raw = _raw(db, single["@iot.id"]), _raw(db, bulk_id)
    for col in RAW_COLUMNS:
        if col in ("result_quality", "parameters"):  # JSON text may differ in spacing only
            assert _json(single_raw[col]) == _json(bulk_raw[col]), col
        else:
            assert single_raw[col] == bulk_raw[col], col
    a = get(client, f"Observations({single['@iot.id']})")
    b = get(client, f"Observations({bulk_id})")
    for key in values:
        assert a[key] == b[key], key


def _json(value):
    import json
    return json.loads(value) if isinstance(value, str) else value


def test_every_self_link_points_at_its_row(client):
    ids = new_thing(client, n_obs=0)
    data = [[f"2024-06-01T{h:02d}:00:00Z", h * 1.5] for h in range(24)]
    data.insert(5, ["not a time", 1])
    data.insert(9, ["2024-06-01T00:00:00Z"])  # wrong length
    r = client.post(f"{STA}/CreateObservations", json=[{"Datastream": {"@iot.id": ids["datastream"]},
                                                         "components": ["phenomenonTime", "result"],
                                                         "dataArray": data}])
    links = r.json()
    assert links[5] == "error" and links[9] == "error" and len(links) == 26
    for row, link in zip(data, links):
        if link == "error":
            continue
        stored = get(client, f"Observations({_id(link)})")
        assert (stored["phenomenonTime"], stored["result"]) == (row[0], row[1])
    assert len({link for link in links if link != "error"}) == 24


def test_insert_observations_returns_ids_in_row_order_after_other_inserts(client, db):
    ids = new_thing(client, n_obs=2)  # ids already used by single inserts
    with db.session() as s:
        foi = s.execute(text("SELECT min(id) FROM sta_features_of_interest")).scalar_one()
        t = datetime(2025, 1, 1, tzinfo=timezone.utc)
        rows = [(ids["datastream"], foi, t.replace(minute=i), i * 10.0, float(i * 10)) for i in range(50)]
        new = insert_observations(s, ("datastream_id", "feature_of_interest_id", "phenomenon_time_start",
                                      "result", "result_number"), rows)
        s.commit()
    assert new == sorted(new) and len(set(new)) == 50
    for i in (0, 17, 49):
        stored = get(client, f"Observations({new[i]})")
        assert stored["result"] == i * 10 and stored["phenomenonTime"] == f"2025-01-01T00:{i:02d}:00Z"


def test_encoders_match_sqlalchemy_storage():
    t = datetime(2024, 2, 29, 23, 59, 1, 5, tzinfo=timezone.utc)
    assert sqlite_datetime(t) == "2024-02-29 23:59:01.000005"
    assert sqlite_datetime(None) is None
    assert json_text(None) is None and json_text([1, "a"]) == '[1,"a"]'
    assert json_text(2**70) == str(2**70)  # beyond orjson's 64-bit integers
    row = encode([(1, t, {"a": 1})], ("datastream_id", "phenomenon_time_start", "parameters"), "postgresql")[0]
    assert row == (1, t, '{"a":1}')  # psycopg adapts datetimes itself


def _foi(client, lon: float, lat: float) -> int:
    return post(client, "FeaturesOfInterest", {"name": "f", "description": "d", "encodingType": "application/geo+json",
                                               "feature": {"type": "Point", "coordinates": [lon, lat]}})["@iot.id"]


def test_stream_summary_follows_single_and_bulk_creates(client):
    ids = new_thing(client, n_obs=0)
    ds = ids["datastream"]
    a, b, c, inside = _foi(client, 4, 52), _foi(client, 6, 52), _foi(client, 5, 54), _foi(client, 5, 52.5)
    post(client, f"Datastreams({ds})/Observations", {"result": 1, "phenomenonTime": "2024-03-01T12:00:00Z",
                                                     "resultTime": "2024-03-01T12:00:05Z",
                                                     "FeatureOfInterest": {"@iot.id": a}})
    summary = get(client, f"Datastreams({ds})")
    assert summary["observedArea"] == {"type": "Point", "coordinates": [4.0, 52.0]}
    assert summary["resultTime"] == "2024-03-01T12:00:05Z/2024-03-01T12:00:05Z"
    r = client.post(f"{STA}/CreateObservations", json=[{
        "Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
        "dataArray": [["2024-02-01T00:00:00Z/2024-02-01T01:00:00Z", 2, b], ["2024-04-01T00:00:00Z", 3, c]]}])
    assert r.status_code == 201 and "error" not in r.json()
    summary = get(client, f"Datastreams({ds})")
    assert summary["phenomenonTime"] == "2024-02-01T00:00:00Z/2024-04-01T00:00:00Z"
    assert summary["resultTime"] == "2024-03-01T12:00:05Z/2024-03-01T12:00:05Z"  # bulk rows had none
    hull = shape(summary["observedArea"])
    assert hull.equals(Polygon([(4, 52), (6, 52), (5, 54)]))
    post(client, f"Datastreams({ds})/Observations", {"result": 4, "phenomenonTime": "2024-03-15T00:00:00Z",
                                                     "FeatureOfInterest": {"@iot.id": inside}})
    again = get(client, f"Datastreams({ds})")
    assert again["observedArea"] == summary["observedArea"]  # a point inside the hull changes nothing
    assert again["phenomenonTime"] == summary["phenomenonTime"]
