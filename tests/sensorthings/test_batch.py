"""Batch requests (OGC 18-088 A.4) in the OData 4.01 JSON batch format."""

from __future__ import annotations

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import STA, counts, datastream, get, location, sensor, thing


def _batch(client, requests):
    r = client.post(f"{STA}/$batch", json={"requests": requests})
    assert r.status_code == 200, r.text
    return {x["id"]: x for x in r.json()["responses"]}


def test_references_between_changes(client):
    out = _batch(client, [
        {"id": "t", "method": "post", "url": "Things", "body": thing(Locations=[location()])},
        {"id": "d", "method": "post", "url": "$t/Datastreams", "body": datastream()},
        {"id": "o", "method": "post", "url": "Observations",
         "body": {"result": 7, "Datastream": {"@iot.id": "$d"}}},
        {"id": "g", "method": "get", "url": "$d/Observations?$select=result"},
    ])
    assert [out[k]["status"] for k in "tdog"] == [201, 201, 201, 200]
    thing_id = out["t"]["body"]["@iot.id"]
    assert out["d"]["headers"]["location"].startswith(f"http://testserver{STA}/Datastreams(")
    assert get(client, f"Datastreams({out['d']['body']['@iot.id']})/Thing")["@iot.id"] == thing_id
    assert out["g"]["body"]["value"] == [{"result": 7}]


def test_atomicity_group_rolls_back_as_a_whole(client):
    before = counts(client)
    out = _batch(client, [
        {"id": "1", "method": "post", "url": "Sensors", "body": sensor(), "atomicityGroup": "g"},
        {"id": "2", "method": "post", "url": "Things", "body": thing(), "atomicityGroup": "g"},
        {"id": "3", "method": "post", "url": "Things", "body": {"name": "zonder beschrijving"},
         "atomicityGroup": "g"},
        {"id": "4", "method": "post", "url": "Sensors", "body": sensor()},
    ])
    assert out["3"]["status"] == 400 and "description" in out["3"]["body"]["detail"]
    assert out["1"]["status"] == out["2"]["status"] == 424
    assert out["4"]["status"] == 201
    after = counts(client)
    assert after["Things"] == before["Things"]
    assert after["Sensors"] == before["Sensors"] + 1


def test_independent_requests_fail_alone_and_dependants_are_skipped(client):
    out = _batch(client, [
        {"id": "a", "method": "delete", "url": "Things(4242)"},
        {"id": "b", "method": "post", "url": "Sensors", "body": sensor()},
        {"id": "c", "method": "patch", "url": "Things(4242)", "body": {"name": "x"}, "dependsOn": ["a"]},
        {"id": "d", "method": "patch", "url": "$b", "body": {"name": "hernoemd"}, "dependsOn": ["b"]},
    ])
    assert out["a"]["status"] == 404
    assert out["b"]["status"] == 201
    assert out["c"]["status"] == 424
    assert out["d"]["status"] == 200 and out["d"]["body"]["name"] == "hernoemd"


def test_absolute_urls_and_json_patch_inside_batch(client):
    out = _batch(client, [{"id": "t", "method": "post", "url": f"http://testserver{STA}/Things",
                           "body": thing(properties={"x": 1})}])
    tid = out["t"]["body"]["@iot.id"]
    out = _batch(client, [{"id": "p", "method": "patch", "url": f"{STA}/Things({tid})",
                           "headers": {"Content-Type": "application/json-patch+json"},
                           "body": [{"op": "add", "path": "/properties/y", "value": 2}]}])
    assert out["p"]["status"] == 200
    assert get(client, f"Things({tid})")["properties"] == {"x": 1, "y": 2}


def test_malformed_batches_are_rejected(client):
    before = counts(client)
    bad = [
        {"requests": "nee"},
        {"requests": [{"id": "1", "method": "TRACE", "url": "Things"}]},
        {"requests": [{"id": "1", "method": "get", "url": "Things"}, {"id": "1", "method": "get", "url": "Things"}]},
        {"requests": [{"id": "1", "method": "get", "url": "Things", "dependsOn": ["9"]}]},
        {"requests": [{"id": "1", "method": "post", "url": "Sensors", "body": sensor(), "atomicityGroup": "a"},
                      {"id": "2", "method": "get", "url": "Things"},
                      {"id": "3", "method": "post", "url": "Sensors", "body": sensor(), "atomicityGroup": "a"}]},
    ]
    for body in bad:
        r = client.post(f"{STA}/$batch", json=body)
        assert r.status_code == 400, body
    r = client.post(f"{STA}/$batch", content=b"--batch_1\r\n", headers={"content-type": "multipart/mixed; boundary=batch_1"})
    assert r.status_code == 415
    assert counts(client) == before
