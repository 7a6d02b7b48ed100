"""Free JSON is bounded at the door of every write path; stored data can always be read back.

Before these bounds, a ``result`` nested a few hundred levels deep was committed while the
POST answered 500, and every page showing the row (collections, ``$expand``, newest-first
Observations, MQTT notifications, the audit list) answered 500 until the row was removed.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stadslab.governance.models import AuditEvent
from stadslab.sensorthings.model.tables import Observation, Thing

from .helpers import STA, counts, datastream, get, location, new_thing, thing

DEPTH = 241  # well beyond the default limit of 32, below every parser's own limit


def nested(depth: int = DEPTH):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def client(app, admin_headers):
    """An administrator's client that answers a server error as 500 (as a real client sees it)."""
    with TestClient(app, headers=admin_headers, raise_server_exceptions=False) as c:
        yield c


def audit_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


def assert_refused(r, field: str, limit: str = "exceeds the limit of 32") -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    detail = r.json()["detail"]
    assert detail.startswith(f"{field}: ") and limit in detail, detail


def assert_everything_reads(client) -> None:
    """What the issue saw fail after a deep row was stored: it all still answers 200."""
    for path, params in (("Things", {"$expand": "Datastreams/Observations"}), ("Observations", {"$orderby": "id desc"}),
                         ("Datastreams", {"$expand": "Observations"})):
        assert client.get(f"{STA}/{path}", params=params).status_code == 200, path
    assert client.get("/api/v1/audit").status_code == 200


@pytest.mark.parametrize("shape", ["fast path", "general writer", "parameters"])
def test_deep_observation_json_is_refused_and_nothing_is_stored(client, db, shape):
    ids = new_thing(client)
    ds = ids["datastream"]
    before, audits = counts(client), audit_count(db)
    if shape == "fast path":  # the single-POST path (and its group commit)
        r = client.post(f"{STA}/Datastreams({ds})/Observations", json={"result": nested()})
        field = "result"
    elif shape == "general writer":
        r = client.post(f"{STA}/Observations", json={"result": nested(), "Datastream": {"@iot.id": ds},
                                                      "FeatureOfInterest": {"name": "f", "description": "d",
                                                                            "encodingType": "application/geo+json",
                                                                            "feature": {"type": "Point",
                                                                                        "coordinates": [5, 52]}}})
        field = "result"
    else:
        r = client.post(f"{STA}/Datastreams({ds})/Observations", json={"result": 1, "parameters": {"a": nested()}})
        field = "parameters"
    assert_refused(r, field, f"nesting depth {DEPTH + (field == 'parameters')} exceeds the limit of 32")
    assert counts(client) == before and audit_count(db) == audits
    assert_everything_reads(client)


def test_deep_insert_names_the_nested_field(client, db):
    body = thing(properties={"ok": [1, 2]}, Locations=[location()],
                 Datastreams=[datastream(Observations=[{"result": 1}, {"result": {"x": nested()}}])])
    audits = audit_count(db)
    r = client.post(f"{STA}/Things", json=body)
    assert_refused(r, "Datastreams.0.Observations.1.result")
    assert counts(client)["Things"] == 0 and audit_count(db) == audits


@pytest.mark.parametrize("method", ["PATCH", "PUT", "JSON Patch"])
def test_updates_with_deep_properties_are_refused_and_change_nothing(client, db, method):
    ids = new_thing(client)
    path = f"{STA}/Things({ids['thing']})"
    audits = audit_count(db)
    if method == "JSON Patch":
        r = client.patch(path, content=json.dumps([{"op": "add", "path": "/properties/deep", "value": nested()}]),
                         headers={"content-type": "application/json-patch+json"})
    elif method == "PATCH":
        r = client.patch(path, json={"properties": {"deep": nested()}})
    else:
        r = client.put(path, json={"name": "x", "description": "y", "properties": {"deep": nested()}})
    assert_refused(r, "0.value" if method == "JSON Patch" else "properties")
    assert get(client, f"Things({ids['thing']})")["properties"] == {"wijk": "Centrum"}
    assert audit_count(db) == audits
    assert_everything_reads(client)


def test_batch_request_with_deep_json_fails_alone(client, db):
    ids = new_thing(client)
    before = counts(client)
    r = client.post(f"{STA}/$batch", json={"requests": [
        {"id": "ok", "method": "post", "url": "Observations",
         "body": {"result": 5, "Datastream": {"@iot.id": ids["datastream"]}}},
        {"id": "deep", "method": "post", "url": "Things", "body": thing(properties={"d": nested()})}]})
    assert r.status_code == 200, r.text
    answers = {a["id"]: a for a in r.json()["responses"]}
    assert answers["ok"]["status"] == 201
    assert answers["deep"]["status"] == 400 and answers["deep"]["body"]["detail"].startswith("properties: nesting")
    after = counts(client)
    assert after["Observations"] == before["Observations"] + 1 and after["Things"] == before["Things"]
    assert_everything_reads(client)


@pytest.mark.parametrize("component, value", [("parameters", {"d": nested()}), ("resultQuality", nested())])
def test_create_observations_with_deep_json_is_refused_as_a_whole(client, db, component, value):
    ids = new_thing(client)
    before, audits = counts(client), audit_count(db)
    r = client.post(f"{STA}/CreateObservations", json=[{
        "Datastream": {"@iot.id": ids["datastream"]}, "components": ["result", component],
        "dataArray": [[1, None], [2, value]]}])
    assert_refused(r, f"0.dataArray.1.{component}")
    assert counts(client) == before and audit_count(db) == audits


def test_size_limit_of_a_free_field_is_configurable(db, admin_headers, settings):
    from stadslab.app import create_app

    small = create_app(settings.model_copy(update={"json_max_bytes": 100, "json_max_depth": 3}), db=db)
    try:
        with TestClient(small, headers=admin_headers) as c:
            ids = new_thing(c)
            r = c.post(f"{STA}/Datastreams({ids['datastream']})/Observations", json={"result": "x" * 101})
            assert_refused(r, "result", "longer than the limit of 100 bytes")
            r = c.post(f"{STA}/Datastreams({ids['datastream']})/Observations", json={"result": [[[[1]]]]})
            assert_refused(r, "result", "nesting depth 4 exceeds the limit of 3")
            assert c.post(f"{STA}/Datastreams({ids['datastream']})/Observations", json={"result": [[[1]]]}
                          ).status_code == 201
    finally:
        from stadslab.core.json_limits import configure
        configure(settings)  # the process-wide bounds back to the defaults for the next test


# --- text that cannot be stored or written back ---------------------------------------------

@pytest.mark.parametrize("path, raw", [
    ("Things", b'{"name": "a\\ud800", "description": "x"}'),
    ("Things", b'{"name": "a", "description": "x", "properties": {"\\udc00": 1}}'),
    ("$batch", b'{"requests": [{"id": "a", "method": "post", "url": "Things", "body": {"name": "\\ud800"}}]}'),
    ("CreateObservations", b'[{"Datastream": {"@iot.id": 1}, "components": ["result"], "dataArray": [["\\ud800"]]}]'),
])
def test_a_lone_surrogate_in_any_body_is_a_400(client, db, path, raw):
    new_thing(client)
    before, audits = counts(client), audit_count(db)
    r = client.post(f"{STA}/{path}", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert "surrogate" in r.json()["detail"]
    assert counts(client) == before and audit_count(db) == audits


def test_nul_characters_are_refused_on_every_dialect(client, db):
    ids = new_thing(client)
    before = counts(client)
    r = client.post(f"{STA}/CreateObservations", json=[{
        "Datastream": {"@iot.id": ids["datastream"]}, "components": ["result", "parameters"],
        "dataArray": [[1, {"a": "x\u0000"}], ["b", None]]}])
    assert_refused(r, "0.dataArray.0.parameters.a", "U+0000")
    r = client.post(f"{STA}/CreateObservations", json=[{
        "Datastream": {"@iot.id": ids["datastream"]}, "components": ["result"], "dataArray": [["b\u0000"]]}])
    assert_refused(r, "0.dataArray.0.result", "U+0000")
    r = client.post(f"{STA}/Things", json=thing(name="meet\u0000kast"))
    assert_refused(r, "name", "U+0000")
    assert counts(client) == before


# --- times at the ends of the calendar -------------------------------------------------------

@pytest.mark.parametrize("field, value", [("phenomenonTime", "0001-01-01T00:00:00Z"),
                                          ("phenomenonTime", "9999-12-31T23:59:59Z"),
                                          ("resultTime", "0999-12-31T23:59:59Z"),
                                          ("validTime", "2024-01-01T00:00:00Z/9000-01-01T00:00:00Z"),
                                          ("phenomenonTime", "0001-01-01T00:00:00+01:00")])
def test_times_outside_the_supported_range_are_refused_naming_the_field(client, field, value):
    ids = new_thing(client)
    before = counts(client)
    r = client.post(f"{STA}/Datastreams({ids['datastream']})/Observations", json={"result": 1, field: value})
    assert_refused(r, field, "outside the supported range")
    r = client.post(f"{STA}/CreateObservations", json=[{
        "Datastream": {"@iot.id": ids["datastream"]}, "components": ["result", field],
        "dataArray": [[1, value], [2, "2024-05-01T00:00:00Z" if field != "validTime" else None]]}])
    assert r.status_code == 201 and r.json()[0] == "error" and r.json()[1] != "error"  # DataArray: per row
    assert counts(client)["Observations"] == before["Observations"] + 1
    edge = {"result": 1, "phenomenonTime": "1000-01-01T00:00:00Z", "resultTime": "8999-12-31T23:59:59.999Z"}
    assert client.post(f"{STA}/Datastreams({ids['datastream']})/Observations", json=edge).status_code == 201


def test_extreme_times_stored_earlier_still_read_aggregate_and_show(client, db):
    """Rows of 0001-01-01 and 9999-12-31 (stored before the range was enforced) keep reading."""
    from datetime import datetime, timezone

    from stadslab.sensorthings.write import rules

    ids = new_thing(client)
    ds = ids["datastream"]
    extremes = [datetime(1, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)]
    with db.session() as s:
        foi = s.scalar(select(Observation.feature_of_interest_id).where(Observation.datastream_id == ds).limit(1))
        for when in extremes:
            s.add(Observation(datastream_id=ds, feature_of_interest_id=foi, phenomenon_time_start=when,
                              result=7, result_number=7.0))
        s.flush()
        rules.recompute_stream(s, "Datastream", ds)
        s.commit()
    page = client.get(f"{STA}/Datastreams({ds})/Observations", params={"$orderby": "phenomenonTime desc"})
    assert page.status_code == 200
    assert page.json()["value"][0]["phenomenonTime"] == "9999-12-31T23:59:59Z"
    assert get(client, f"Datastreams({ds})")["phenomenonTime"] == "0001-01-01T00:00:00Z/9999-12-31T23:59:59Z"
    agg = client.get(f"{STA}/Datastreams({ds})/Observations/$aggregate", params={"interval": "P1000D"})
    assert agg.status_code == 200, agg.text
    buckets = agg.json()["value"]
    assert sum(b["count"] for b in buckets) == 5
    assert buckets[0]["phenomenonTime"].startswith("0001-01-01T00:00:00Z/")
    assert buckets[-1]["phenomenonTime"].endswith("/9999-12-31T23:59:59.999Z")
    r = client.get(f"/sensoren/{ids['thing']}", headers={"accept": "text/html"})
    assert r.status_code == 200, r.text[:300]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Thing)) == 1


# --- registry (REST) endpoints that store free JSON --------------------------------------------

def test_registry_geometry_with_deep_members_is_refused(client):
    from tests.factories import lab_payload

    geometry = {"type": "Point", "coordinates": [5.1, 52.1], "extra": nested()}
    r = client.post("/api/v1/living-labs", json=lab_payload(geometry=geometry))
    assert r.status_code == 422, r.text  # the registry's field errors are 422 (README)
    assert r.json()["errors"][0]["field"] == "body.geometry"
    assert f"nesting depth {DEPTH + 1} exceeds the limit of 32" in r.json()["detail"]
    assert client.get("/api/v1/living-labs").json()["total"] == 0
    raw = json.dumps(lab_payload(name="lab \ud800")).encode()
    r = client.post("/api/v1/living-labs", content=raw, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text  # pydantic refuses the surrogate (422 naming the field)
    assert client.get("/api/v1/living-labs").json()["total"] == 0


@pytest.mark.parametrize("depth", [300, 900])
def test_very_deep_bodies_in_a_batch_or_json_patch_are_a_400_not_a_500(client, depth):
    """$batch substitutes ``$<id>`` references and JSON Patch copies values: both once recursed."""
    ids = new_thing(client)
    body = {"requests": [{"id": "a", "method": "post", "url": "Things",
                          "body": thing(properties={"p": nested(depth)})}]}
    r = client.post(f"{STA}/$batch", content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    [answer] = r.json()["responses"]
    assert answer["status"] == 400 and answer["body"]["detail"].startswith(f"properties: nesting depth {depth + 1}")
    r = client.patch(f"{STA}/Things({ids['thing']})", headers={"content-type": "application/json-patch+json"},
                     content=json.dumps([{"op": "add", "path": "/properties/x", "value": nested(depth)}]))
    assert_refused(r, "0.value", f"nesting depth {depth} exceeds the limit of 32")
    assert counts(client)["Things"] == 1
