"""The single-Observation fast path (``observation_post``) against the general writer.

The fast path must be indistinguishable from the general writer: same answer, same
stored row, same stream summary, same audit event; and whatever it does not take
must still be answered (errors included) by the general writer. Each test sends the
same request in the fast shape and in a shape only the general writer takes (the
generated FeatureOfInterest linked explicitly), and compares.
"""

from __future__ import annotations

from sqlalchemy import event, select

from stadslab.governance.models import AuditEvent

from .helpers import STA, client, datastream, get, location, new_thing, post, thing  # noqa: F401



def _counting(db):
    seen: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda _c, _cur, stmt, *_a: seen.append(stmt))
    return seen


def _stable(obs: dict) -> dict:
    return {k: v for k, v in obs.items() if not k.startswith("@iot.") and not k.endswith("@iot.navigationLink")}


def _foi(client, obs_id: int) -> int:
    return get(client, f"Observations({obs_id})/FeatureOfInterest")["@iot.id"]


def test_fast_and_general_paths_answer_and_store_the_same(client, db):
    ids = new_thing(client)
    ds = ids["datastream"]
    body = {"phenomenonTime": "2025-01-02T03:04:05Z", "resultTime": "2025-01-02T03:04:06Z", "result": 7.25,
            "parameters": {"battery": 81}, "resultQuality": {"flag": "ok"}}
    statements = _counting(db)
    fast = post(client, f"Datastreams({ds})/Observations", body)
    fast_statements = len(statements)
    foi = _foi(client, fast["@iot.id"])
    statements.clear()
    general = post(client, f"Datastreams({ds})/Observations", {**body, "FeatureOfInterest": {"@iot.id": foi}})
    general_statements = len(statements)

    assert _stable(fast) == _stable(general)
    assert fast["@iot.selfLink"].endswith(f"/Observations({fast['@iot.id']})")
    assert get(client, f"Observations({fast['@iot.id']})") == fast  # the answer is what is stored
    assert _foi(client, general["@iot.id"]) == foi  # the generated FeatureOfInterest is reused
    # the point of the fast path: far fewer statements than the general writer
    assert fast_statements < general_statements


def test_linking_the_datastream_in_the_body_takes_the_fast_path_too(client, db):
    ds = new_thing(client)["datastream"]
    r = client.post(f"{STA}/Observations", json={"result": "hoog", "Datastream": {"@iot.id": ds}})
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith(f"/Observations({r.json()['@iot.id']})")
    assert get(client, f"Observations({r.json()['@iot.id']})/Datastream")["@iot.id"] == ds
    assert r.json()["result"] == "hoog"


def test_stream_summary_grows_with_each_observation(client):
    ds = new_thing(client, n_obs=0)["datastream"]
    post(client, f"Datastreams({ds})/Observations", {"phenomenonTime": "2025-03-01T00:00:00Z", "result": 1})
    post(client, f"Datastreams({ds})/Observations", {"phenomenonTime": "2024-12-01T00:00:00Z", "result": 2})
    post(client, f"Datastreams({ds})/Observations",
         {"phenomenonTime": "2025-05-01T00:00:00Z/2025-05-02T00:00:00Z", "result": 3})
    stream = get(client, f"Datastreams({ds})")
    assert stream["phenomenonTime"] == "2024-12-01T00:00:00Z/2025-05-02T00:00:00Z"
    assert stream["observedArea"]["type"] == "Point"  # the Thing's Location, via its FeatureOfInterest


def test_a_moved_thing_gets_a_new_feature_of_interest(client):
    ids = new_thing(client)
    ds = ids["datastream"]
    first = post(client, f"Datastreams({ds})/Observations", {"result": 1})
    moved = post(client, "Locations", location(lon=5.1, lat=52.1))
    r = client.patch(f"{STA}/Things({ids['thing']})", json={"Locations": [{"@iot.id": moved["@iot.id"]}]})
    assert r.status_code == 200, r.text
    second = post(client, f"Datastreams({ds})/Observations", {"result": 2})
    assert _foi(client, first["@iot.id"]) != _foi(client, second["@iot.id"])
    area = get(client, f"Datastreams({ds})")["observedArea"]
    assert area["type"] in ("LineString", "Polygon")  # both places are inside it now


def test_each_post_is_one_audit_event_with_the_governed_columns(client, db):
    ds = new_thing(client)["datastream"]
    obs = post(client, f"Datastreams({ds})/Observations", {"result": 4.5, "parameters": {"person": "x"}})
    with db.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.entity_type == "sta.Observation",
                                                    AuditEvent.entity_id == str(obs["@iot.id"]))).all()
    assert len(events) == 1
    after = events[0].after
    assert after["datastream_id"] == ds and after["feature_of_interest_id"] is not None
    assert "result" not in after and "parameters" not in after  # measurement data stays out
    r = client.get("/api/v1/audit/verify")
    assert r.status_code == 200 and r.json()["ok"] is True


def test_requests_the_fast_path_declines_are_still_answered_correctly(client):
    ds = new_thing(client)["datastream"]
    # a wrong value: the general writer's 400, naming the field
    r = client.post(f"{STA}/Datastreams({ds})/Observations", json={"result": 1, "phenomenonTime": "gisteren"})
    assert r.status_code == 400 and "phenomenonTime" in r.text
    # an unknown property
    r = client.post(f"{STA}/Datastreams({ds})/Observations", json={"result": 1, "colour": "red"})
    assert r.status_code == 400 and "colour" in r.text
    # an unknown Datastream
    r = client.post(f"{STA}/Datastreams(999999)/Observations", json={"result": 1})
    assert r.status_code == 404
    r = client.post(f"{STA}/Observations", json={"result": 1, "Datastream": {"@iot.id": 999999}})
    assert r.status_code == 404 and "Datastream" in r.text
    # the Datastream given twice
    r = client.post(f"{STA}/Datastreams({ds})/Observations", json={"result": 1, "Datastream": {"@iot.id": ds}})
    assert r.status_code == 400
    # a missing result
    r = client.post(f"{STA}/Datastreams({ds})/Observations", json={"phenomenonTime": "2025-01-01T00:00:00Z"})
    assert r.status_code == 400 and "result" in r.text
    # an inline FeatureOfInterest: deep insert by the general writer
    foi = {"name": "tuin", "description": "d", "encodingType": "application/geo+json",
           "feature": {"type": "Point", "coordinates": [4.5, 52.0]}}
    created = post(client, f"Datastreams({ds})/Observations", {"result": 1, "FeatureOfInterest": foi})
    assert get(client, f"Observations({created['@iot.id']})/FeatureOfInterest")["name"] == "tuin"
    assert get(client, f"Datastreams({ds})/Observations", **{"$count": "true"})["@iot.count"] == 4


def test_a_thing_without_location_gets_the_general_writers_error(client):
    t = post(client, "Things", thing(Datastreams=[datastream()]))
    ds = get(client, f"Things({t['@iot.id']})/Datastreams")["value"][0]["@iot.id"]
    r = client.post(f"{STA}/Datastreams({ds})/Observations", json={"result": 1})
    assert r.status_code == 400 and "FeatureOfInterest" in r.text


def test_observed_area_grows_by_this_things_position_only(client):
    """The fast path reads the FeatureOfInterest of *this* Datastream's Thing (a regression: its
    nested subquery once lost its correlation and took the Thing with the newest Location)."""
    def placed(lon: float, lat: float) -> int:
        obs = [{"phenomenonTime": "2024-05-01T10:00:00Z", "result": 0}]
        t = post(client, "Things", thing(Locations=[location(lon=lon, lat=lat)],
                                         Datastreams=[datastream(Observations=obs)]))
        return get(client, f"Things({t['@iot.id']})/Datastreams")["value"][0]["@iot.id"]

    here = placed(4.9, 52.37)
    placed(6.57, 53.22)  # a newer Location, far away, with its generated FeatureOfInterest
    post(client, f"Datastreams({here})/Observations", {"result": 1})
    assert get(client, f"Datastreams({here})")["observedArea"] == {"type": "Point", "coordinates": [4.9, 52.37]}
