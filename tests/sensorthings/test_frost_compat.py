"""Issue #18: answers as FROST-Server gives them where OGC 18-088 leaves room (clients are written
against it), without losing anything of the RFC 9457 problem+json bodies."""

from __future__ import annotations

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import STA, get, new_thing, post, thing

SPEC = "http://www.opengis.net/spec/iot_sensing/1.1/req/"


def _frost_and_problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == body["status"] == status
    assert body["type"] == "error"
    assert body["message"] == body["detail"] and body["detail"]
    assert body["title"] and body["instance"].startswith(STA)
    return body


def test_error_bodies_carry_frost_members(client):
    ids = new_thing(client)
    body = _frost_and_problem(client.get(f"{STA}/Things", params={"$top": "-3"}), 400)
    assert body["errors"][0]["field"] == "$top" and "-3" in body["detail"]
    _frost_and_problem(client.get(f"{STA}/Things", params={"$filter": "nosuch(name) eq 1"}), 400)
    body = _frost_and_problem(client.get(f"{STA}/Things", params={"$orderby": "colour"}), 400)
    assert "colour" in body["detail"] and "Sortable" in body["detail"]
    _frost_and_problem(client.get(f"{STA}/Things", params={"$expand": "Datastreams("}), 400)
    _frost_and_problem(client.get(f"{STA}/Things(999999)"), 404)
    _frost_and_problem(client.post(f"{STA}/Things", content=b"{", headers={"content-type": "application/json"}),
                       400)
    # the rest of the app keeps plain problem+json
    other = client.get("/api/v1/nosuch-route-for-sure")
    assert other.status_code == 404 and "code" not in other.json()
    # a path segment naming nothing of the entity: 404 (not 400), naming what exists
    body = _frost_and_problem(client.get(f"{STA}/Things({ids['thing']})/nosuch"), 404)
    assert "nosuch" in body["detail"] and "Datastreams" in body["detail"]
    _frost_and_problem(client.get(f"{STA}/Things({ids['thing']})/Datastreams/nosuch"), 400)


def test_batch_sub_responses_have_the_same_shape(client):
    r = client.post(f"{STA}/$batch", json={"requests": [
        {"id": "a", "method": "get", "url": "Things(999999)"},
        {"id": "b", "method": "get", "url": "Things?$top=x"}]})
    assert r.status_code == 200, r.text
    by_id = {x["id"]: x for x in r.json()["responses"]}
    for rid, status in (("a", 404), ("b", 400)):
        body = by_id[rid]["body"]
        assert by_id[rid]["status"] == body["status"] == body["code"] == status
        assert body["type"] == "error" and body["message"] == body["detail"]


def test_conformance_lists_the_granular_requirements(client):
    conf = get(client, "")["serverSettings"]["conformance"]
    assert len(conf) == len(set(conf))
    for uri in ("create-update-delete/update-entity-jsonpatch", "create-update-delete/deep-insert",
                "datamodel/thing/properties", "datamodel/observation/relations", "request-data/expand",
                "request-data/status-code", "resource-path/resource-path-to-entities",
                "batch-request/batch-request", "data-array/data-array"):
        assert SPEC + uri in conf, uri


def test_json_patch_that_the_conformance_announces_works(client):
    ids = new_thing(client)
    r = client.patch(f"{STA}/Things({ids['thing']})", json=[{"op": "replace", "path": "/name", "value": "p"}],
                     headers={"content-type": "application/json-patch+json"})
    assert r.status_code == 200, r.text
    assert get(client, f"Things({ids['thing']})")["name"] == "p"


def test_string_functions_count_from_zero_like_frost(client):
    """``indexof('Meetkast', 'kast')`` is 4 and ``substring('Meetkast', 4)`` is 'kast' (zero-based)."""
    t = post(client, "Things", thing(name="Meetkast"))["@iot.id"]
    post(client, "Things", thing(name="Anders"))

    def names(flt: str) -> set[int]:
        return {x["@iot.id"] for x in get(client, "Things", **{"$filter": flt})["value"]}

    assert t in names("indexof(name, 'kast') eq 4")
    assert t in names("indexof(name, 'Meet') eq 0")
    assert t not in names("indexof(name, 'kast') eq 5")
    assert t in names("substring(name, 4) eq 'kast'")
    assert t in names("substring(name, 0, 4) eq 'Meet'")
    assert t in names("substring(name, 1, 3) eq 'eet'")


def test_patch_with_a_new_inline_entity_says_so(client):
    ids = new_thing(client)
    for body, field in (({"Locations": [{"name": "x", "description": "y", "encodingType": "application/geo+json",
                                         "location": {"type": "Point", "coordinates": [4, 52]}}]}, "Locations"),):
        r = client.patch(f"{STA}/Things({ids['thing']})", json=body)
        b = _frost_and_problem(r, 400)
        assert "cannot create a new related" in b["detail"] or "cannot create new related" in b["detail"]
        assert b["errors"][0]["field"] == field
    r = client.patch(f"{STA}/Datastreams({ids['datastream']})", json={"Sensor": {"name": "new", "description": "d",
                                                                              "encodingType": "text/plain",
                                                                              "metadata": "m"}})
    b = _frost_and_problem(r, 400)
    assert "inline" in b["detail"] and b["errors"][0]["field"] == "Sensor"
