"""Hostile and malformed input: always a clear 4xx naming the problem, never a 500, nothing written."""

from __future__ import annotations

import pytest

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import STA, counts, datastream, full_thing, location, new_thing, observed_property, thing

INJECTIONS = ["1; DROP TABLE sta_things--", "' OR '1'='1", "name) UNION SELECT * FROM sta_things --",
              "\x00", "${jndi:ldap://x}", "<script>alert(1)</script>", "name eq 1 or 1 eq 1)--", "((((((",
              "9" * 40, "-1", "id desc,", "Datastreams($top=99999999999999999999)", "%27", "ñame"]
OPTIONS = ["$select", "$orderby", "$expand", "$top", "$skip", "$count", "$filter", "$resultFormat"]


@pytest.fixture
def seeded(client):
    ids = new_thing(client)
    return ids, counts(client)


@pytest.mark.parametrize("option", OPTIONS)
def test_injection_in_every_query_option(client, seeded, option):
    _ids, before = seeded
    for value in INJECTIONS:
        for path in ("Things", "Observations", "Things(1)"):
            r = client.get(f"{STA}/{path}", params={option: value})
            assert r.status_code in (200, 400), (option, value, r.status_code, r.text)
            if r.status_code == 400:
                body = r.json()
                assert r.headers["content-type"].startswith("application/problem+json")
                assert option in body["detail"] or "$" in body["detail"], body
    assert counts(client) == before


def test_injection_in_paths_and_ids(client, seeded):
    _ids, before = seeded
    for path in ("Things('1'' OR 1=1')", "Things(1%20OR%201=1)", "Things(-1)", "Things(1)/Datastreams(x)",
                 "Things(1)/DROP", "Things;DELETE", "Things(1)/name/$value/x", "Things/Datastreams",
                 "Things(1)/Thing", "Datastreams(1)/Thing(1)", "$value", "Things(99999999999999999999)",
                 "Things(1)/$ref/x", "Things(1)/properties/$ref"):
        r = client.get(f"{STA}/{path}")
        assert r.status_code in (400, 404), (path, r.status_code, r.text)
        assert r.json()["detail"]
    assert counts(client) == before


@pytest.mark.parametrize("expand, word", [
    ("Datastreams(", "unbalanced"), ("Datastreams)", "unbalanced"), ("Datastreams($top=1", "unbalanced"),
    ("Datastreams($top)", "option=value"), ("Datastreams($frobnicate=1)", "unknown query option"),
    ("Datastreams($top=1;$top=2)", "given twice"), ("Nope", "not a navigation property"),
    ("Datastreams/Nope", "not a navigation property"), ("Datastreams($select=colour)", "colour"),
    (",", "empty item"), ("Datastreams($orderby=unitOfMeasurement)", "cannot order"),
    ("Datastreams($expand=Observations($top=-1))", "not a non-negative integer"),
    ("Datastreams($expand=Observations($skip=x))", "not a non-negative integer"),
    ("Datastreams($filter='unterminated)", "unterminated"),
])
def test_malformed_expand(client, seeded, expand, word):
    r = client.get(f"{STA}/Things", params={"$expand": expand})
    assert r.status_code == 400, r.text
    assert word in r.json()["detail"]


def test_huge_top_and_skip(client, seeded, settings):
    for value in ("-1", "1" * 30, "1e9", "0x10", " ", "", "five"):
        for option in ("$top", "$skip"):
            r = client.get(f"{STA}/Observations", params={option: value})
            assert r.status_code == 400, value
            body = r.json()
            assert option in body["detail"] and body["errors"][0]["field"] == option
            # FROST-Server's members beside the problem+json ones, the detail kept whole
            assert body["code"] == 400 and body["type"] == "error" and body["message"] == body["detail"]
            assert body["title"] == "Bad request" and body["status"] == 400
    # above the maximum: clamped to it, with a nextLink (FROST-Server), not refused
    r = client.get(f"{STA}/Observations", params={"$top": str(settings.sta_page_size_max + 1)})
    assert r.status_code == 200
    r = client.get(f"{STA}/Observations", params={"$skip": "9" * 12})
    assert r.status_code == 200 and r.json()["value"] == []
    r = client.get(f"{STA}/Observations", params=[("$top", "1"), ("$top", "2")])
    assert r.status_code == 400 and "more than once" in r.json()["detail"]


def test_malformed_bodies_write_nothing(client, seeded):
    _ids, before = seeded
    cases = [
        (b"{", "Malformed JSON"), (b"[]", "JSON object"), (b"null", "JSON object"), (b'"x"', "JSON object"),
        (b'{"name": "a", "description": "b", "colour": "red"}', "colour"),
        (b'{"name": 5, "description": "b"}', "name"),
        (b'{"name": "a", "description": "b", "properties": [1]}', "properties"),
        (b'{"name": "' + b"x" * 300 + b'", "description": "b"}', "at most 255"),
        (b'{"@iot.id": 5, "name": "a", "description": "b"}', "@iot.id"),
        (b'{"name": "a", "description": "b", "Locations": {"name": "x"}}', "Locations"),
        (b'{"name": "a", "description": "b", "Datastreams": [{"@iot.id": "abc"}]}', "@iot.id"),
    ]
    for raw, word in cases:
        r = client.post(f"{STA}/Things", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400, (raw, r.text)
        assert word in r.json()["detail"], (raw, r.json())
    assert counts(client) == before


@pytest.mark.parametrize("geometry, word", [
    ({"type": "Point", "coordinates": [4.9]}, "location"),
    ({"type": "Point", "coordinates": ["a", "b"]}, "location"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "Self-intersection"),
    ({"type": "Circle", "coordinates": [0, 0]}, "GeoJSON type"),
    ({"type": "LineString", "coordinates": []}, "location"),
    ("POINT(4 52)", "GeoJSON object"),
])
def test_invalid_geojson_is_rejected_with_field(client, seeded, geometry, word):
    _ids, before = seeded
    r = client.post(f"{STA}/Things", json=thing(Locations=[location(location=geometry)]))
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["errors"][0]["field"] == "Locations.0.location"
    assert word in body["detail"]
    assert counts(client) == before


@pytest.mark.parametrize("field, value", [
    ("phenomenonTime", "2024-13-01T00:00:00Z"), ("phenomenonTime", "yesterday"), ("phenomenonTime", 1714557600),
    ("phenomenonTime", "2024-05-02T00:00:00Z/2024-05-01T00:00:00Z"), ("resultTime", "2024-05-01T25:00:00Z"),
    ("validTime", "2024-05-01T00:00:00Z"), ("validTime", "2024-05-01/nope"), ("result", float("inf")),
])
def test_invalid_timestamps_and_values_name_the_field(client, seeded, field, value):
    ids, before = seeded
    body = {"result": 1, field: value}
    r = client.post(f"{STA}/Datastreams({ids['datastream']})/Observations", json=body) if value != float("inf") \
        else client.post(f"{STA}/Datastreams({ids['datastream']})/Observations",
                         content=b'{"result": Infinity}', headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert field in r.json()["detail"]
    assert counts(client) == before


def test_unknown_ids_are_404_and_write_nothing(client, seeded):
    _ids, before = seeded
    body = full_thing()
    body["Datastreams"].append(datastream(Sensor={"@iot.id": 4242}))
    r = client.post(f"{STA}/Things", json=body)
    assert r.status_code == 404 and "Sensors(4242)" in r.json()["detail"]
    assert client.patch(f"{STA}/Things(4242)", json={"name": "x"}).status_code == 404
    assert client.delete(f"{STA}/Observations(4242)").status_code == 404
    assert client.post(f"{STA}/Things(4242)/Datastreams", json=datastream()).status_code == 404
    assert counts(client) == before


def test_wrong_methods_and_targets(client, seeded):
    ids, before = seeded
    assert client.post(f"{STA}/Things(1)", json=thing()).status_code == 400
    assert client.patch(f"{STA}/Things", json={"name": "x"}).status_code == 400
    assert client.delete(f"{STA}/Things").status_code == 400
    assert client.post(f"{STA}/Datastreams(1)/Thing", json=thing()).status_code == 400
    assert client.put(f"{STA}/Things(1)/name", json={"name": "x"}).status_code == 405
    assert client.post(f"{STA}", json={}).status_code in (404, 405)
    assert client.get(f"{STA}/CreateObservations").status_code == 405
    r = client.patch(f"{STA}/Things({ids['thing']})", json={"Datastreams": [{"name": "nieuw"}]})
    assert r.status_code == 400 and "@iot.id" in r.json()["detail"]
    r = client.patch(f"{STA}/Things({ids['thing']})", content=b'{"op": "remove"}',
                     headers={"content-type": "application/json-patch+json"})
    assert r.status_code == 400 and "array" in r.json()["detail"]
    r = client.patch(f"{STA}/Things({ids['thing']})", content=b'[{"op": "remove", "path": "/name"}]',
                     headers={"content-type": "application/json-patch+json"})
    assert r.status_code == 400 and "name" in r.json()["detail"]
    assert counts(client) == before


def test_extreme_values_are_4xx_not_500(client, seeded):
    ids, before = seeded
    deep = b"[" * 100_000 + b"]" * 100_000
    r = client.post(f"{STA}/Things", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "deeply" in r.json()["detail"]
    nested: dict = thing()
    cursor = nested
    for _ in range(30):  # Thing → Datastreams → ObservedProperty → Datastreams → Thing → ...
        ds, op, ds2 = datastream(), observed_property(), datastream()
        del ds2["ObservedProperty"]
        cursor["Datastreams"] = [ds]
        ds["ObservedProperty"] = op
        op["Datastreams"] = [ds2]
        ds2["Thing"] = thing()
        cursor = ds2["Thing"]
    r = client.post(f"{STA}/Things", json=nested)
    assert r.status_code == 400 and "nest" in r.json()["detail"]
    back = datastream(Observations=[{"result": 1, "Datastream": {"@iot.id": 1}}])
    r = client.post(f"{STA}/Things", json=thing(Datastreams=[back]))
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "Datastreams.0.Observations.0.Datastream"
    r = client.post(f"{STA}/Datastreams", json=datastream(Thing={"@iot.id": 10**30}))
    assert r.status_code == 400 and "@iot.id" in r.json()["detail"]
    r = client.post(f"{STA}/CreateObservations", json=[{"Datastream": {"@iot.id": 10**30},
                                                         "components": ["result"], "dataArray": [[1]]}])
    assert r.status_code == 400
    r = client.post(f"{STA}/CreateObservations", json=[{"Datastream": {"@iot.id": ids["datastream"]},
                                                         "components": ["result", "FeatureOfInterest/id"],
                                                         "dataArray": [[1, 10**30]]}])
    assert r.status_code == 201 and r.json() == ["error"]
    for f in ("name eq 'a\x00b'", "id eq 99999999999999999999999999", "result gt 1e400"):
        r = client.get(f"{STA}/Things" if "name" in f else f"{STA}/Observations", params={"$filter": f})
        assert r.status_code in (200, 400), (f, r.text)
    for key in ("city", "purpose", "sensor_type"):
        assert client.get("/api/v1/sensor-register", params={key: "a\x00b"}).status_code == 400
    assert counts(client) == before
