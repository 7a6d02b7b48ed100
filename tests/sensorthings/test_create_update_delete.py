"""Create-update-delete conformance class (OGC 18-088 A.2) and the integrity rules of §10."""

from __future__ import annotations

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import (COMPLEX, MEASUREMENT, STA, counts, datastream, full_thing, get, location, new_thing,
                      observed_property, post, sensor, thing)


def test_post_returns_201_location_and_entity(client):
    r = client.post(f"{STA}/Sensors", json=sensor(name="SDS011"))
    assert r.status_code == 201
    body = r.json()
    assert r.headers["location"] == body["@iot.selfLink"] == f"http://testserver{STA}/Sensors({body['@iot.id']})"
    assert get(client, f"Sensors({body['@iot.id']})")["name"] == "SDS011"


def test_deep_insert_creates_the_whole_graph(client):
    before = counts(client)
    post(client, "Things", full_thing(n_obs=2))
    after = counts(client)
    delta = {k: after[k] - before[k] for k in after}
    assert delta == {"Things": 1, "Locations": 1, "HistoricalLocations": 1, "Datastreams": 1,
                     "MultiDatastreams": 0, "Sensors": 1, "ObservedProperties": 1, "Observations": 2,
                     "FeaturesOfInterest": 1}


def test_link_existing_entities_by_id(client):
    s = post(client, "Sensors", sensor())
    op = post(client, "ObservedProperties", observed_property("NO2"))
    t = post(client, "Things", thing())
    ds = post(client, f"Things({t['@iot.id']})/Datastreams", datastream(
        Sensor={"@iot.id": s["@iot.id"]}, ObservedProperty={"@iot.id": op["@iot.id"]}))
    assert get(client, f"Datastreams({ds['@iot.id']})/Sensor")["@iot.id"] == s["@iot.id"]
    assert get(client, f"Datastreams({ds['@iot.id']})/Thing")["@iot.id"] == t["@iot.id"]
    r = client.post(f"{STA}/Datastreams", json=datastream(Thing={"@iot.id": 999}))
    assert r.status_code == 404
    assert "Things(999)" in r.json()["detail"]


def test_patch_put_and_json_patch(client):
    t = post(client, "Things", thing(name="oud", properties={"a": 1, "b": 2}))
    url = f"{STA}/Things({t['@iot.id']})"
    r = client.patch(url, json={"name": "nieuw"})
    assert r.status_code == 200 and r.json()["name"] == "nieuw" and r.json()["description"] == "luchtkwaliteit"
    r = client.patch(url, content=b'[{"op": "replace", "path": "/properties/a", "value": 5},'
                                  b' {"op": "remove", "path": "/properties/b"}]',
                     headers={"content-type": "application/json-patch+json"})
    assert r.status_code == 200, r.text
    assert get(client, f"Things({t['@iot.id']})")["properties"] == {"a": 5}
    r = client.patch(url, content=b'[{"op": "test", "path": "/name", "value": "fout"}]',
                     headers={"content-type": "application/json-patch+json"})
    assert r.status_code == 400
    r = client.put(url, json={"name": "vervangen"})
    assert r.status_code == 400 and "description" in r.json()["detail"]
    r = client.put(url, json={"name": "vervangen", "description": "nieuw"})
    assert r.status_code == 200
    assert get(client, f"Things({t['@iot.id']})")["properties"] is None  # PUT replaces: omitted → null


def test_delete_thing_cascades(client):
    ids = new_thing(client)
    before = counts(client)
    assert client.delete(f"{STA}/Things({ids['thing']})").status_code == 200
    after = counts(client)
    assert after["Things"] == before["Things"] - 1
    assert after["Datastreams"] == before["Datastreams"] - 1
    assert after["HistoricalLocations"] == before["HistoricalLocations"] - 1
    assert after["Observations"] == before["Observations"] - 3
    # Sensors, ObservedProperties, Locations and FeaturesOfInterest live on
    for kept in ("Sensors", "ObservedProperties", "Locations", "FeaturesOfInterest"):
        assert after[kept] == before[kept]
    assert client.get(f"{STA}/Datastreams({ids['datastream']})").status_code == 404
    assert client.delete(f"{STA}/Things({ids['thing']})").status_code == 404


def test_delete_sensor_observed_property_foi_and_location_cascade(client):
    a, b, c = new_thing(client), new_thing(client), new_thing(client)
    sensor_id = get(client, f"Datastreams({a['datastream']})/Sensor")["@iot.id"]
    client.delete(f"{STA}/Sensors({sensor_id})")
    assert client.get(f"{STA}/Datastreams({a['datastream']})").status_code == 404
    op_id = get(client, f"Datastreams({b['datastream']})/ObservedProperty")["@iot.id"]
    client.delete(f"{STA}/ObservedProperties({op_id})")
    assert client.get(f"{STA}/Datastreams({b['datastream']})").status_code == 404
    foi = get(client, f"Datastreams({c['datastream']})/Observations", **{"$top": "1"})["value"][0]
    foi_id = get(client, f"Observations({foi['@iot.id']})/FeatureOfInterest")["@iot.id"]
    client.delete(f"{STA}/FeaturesOfInterest({foi_id})")
    assert get(client, f"Datastreams({c['datastream']})/Observations")["value"] == []
    assert get(client, f"Datastreams({c['datastream']})")["phenomenonTime"] is None
    client.delete(f"{STA}/Locations({c['location']})")
    assert get(client, f"Things({c['thing']})/Locations")["value"] == []
    assert get(client, f"Things({c['thing']})")["@iot.id"] == c["thing"]


def test_delete_observed_property_removes_its_multi_datastreams(client):
    t = post(client, "Things", thing(Locations=[location()]))
    md = post(client, "MultiDatastreams", {
        "name": "wind", "description": "d", "observationType": COMPLEX,
        "unitOfMeasurements": [{"name": "m/s"}, {"name": "graden"}],
        "multiObservationDataTypes": [MEASUREMENT, MEASUREMENT], "Thing": {"@iot.id": t["@iot.id"]},
        "Sensor": sensor(), "ObservedProperties": [observed_property("snelheid"), observed_property("richting")]})
    ops = get(client, f"MultiDatastreams({md['@iot.id']})/ObservedProperties")["value"]
    assert [o["name"] for o in ops] == ["snelheid", "richting"]
    o = post(client, f"MultiDatastreams({md['@iot.id']})/Observations",
             {"phenomenonTime": "2024-01-01T00:00:00Z", "result": [3.5, 270]})
    assert get(client, f"Observations({o['@iot.id']})")["result"] == [3.5, 270]
    r = client.post(f"{STA}/MultiDatastreams({md['@iot.id']})/Observations", json={"result": [1]})
    assert r.status_code == 400 and "result" in r.json()["detail"]
    client.delete(f"{STA}/ObservedProperties({ops[1]['@iot.id']})")
    assert client.get(f"{STA}/MultiDatastreams({md['@iot.id']})").status_code == 404


def test_multi_datastream_lengths_must_agree(client):
    t = post(client, "Things", thing())
    before = counts(client)
    r = client.post(f"{STA}/MultiDatastreams", json={
        "name": "x", "description": "d", "observationType": COMPLEX, "unitOfMeasurements": [{"name": "a"}],
        "multiObservationDataTypes": [MEASUREMENT, MEASUREMENT], "Thing": {"@iot.id": t["@iot.id"]},
        "Sensor": sensor(), "ObservedProperties": [observed_property("a"), observed_property("b")]})
    assert r.status_code == 400 and "unitOfMeasurements" in r.json()["detail"]
    assert counts(client) == before


def test_feature_of_interest_generated_reused_and_renewed(client):
    ids = new_thing(client, n_obs=2)
    obs_url = f"Datastreams({ids['datastream']})/Observations"

    def foi_of(obs_id):
        return get(client, f"Observations({obs_id})/FeatureOfInterest")

    first = [foi_of(o["@iot.id"])["@iot.id"] for o in get(client, obs_url)["value"]]
    assert len(set(first)) == 1  # reused while the Thing stays put
    assert foi_of(get(client, obs_url)["value"][0]["@iot.id"])["feature"]["coordinates"] == [4.9, 52.37]
    # the Thing moves: new Location → new HistoricalLocation and a new FeatureOfInterest
    new_loc = post(client, "Locations", location(5.12, 52.09))
    r = client.patch(f"{STA}/Things({ids['thing']})", json={"Locations": [{"@iot.id": new_loc["@iot.id"]}]})
    assert r.status_code == 200
    hist = get(client, f"Things({ids['thing']})/HistoricalLocations", **{"$expand": "Locations"})["value"]
    assert len(hist) == 2
    assert {tuple(h["Locations"][0]["location"]["coordinates"]) for h in hist} == {(4.9, 52.37), (5.12, 52.09)}
    moved = post(client, obs_url, {"result": 1})
    second = foi_of(moved["@iot.id"])
    assert second["@iot.id"] not in first and second["feature"]["coordinates"] == [5.12, 52.09]
    # moving the Location itself renews the FeatureOfInterest too
    client.patch(f"{STA}/Locations({new_loc['@iot.id']})",
                 json={"location": {"type": "Point", "coordinates": [5.2, 52.2]}})
    third = foi_of(post(client, obs_url, {"result": 2})["@iot.id"])
    assert third["@iot.id"] != second["@iot.id"] and third["feature"]["coordinates"] == [5.2, 52.2]


def test_posting_location_to_thing_records_history(client):
    t = post(client, "Things", thing(Locations=[location()]))
    post(client, f"Things({t['@iot.id']})/Locations", location(6.0, 52.0))
    locs = get(client, f"Things({t['@iot.id']})/Locations")["value"]
    assert [l["location"]["coordinates"] for l in locs] == [[6.0, 52.0]]
    assert len(get(client, f"Things({t['@iot.id']})/HistoricalLocations")["value"]) == 2


def test_observation_needs_a_datastream_and_a_place(client):
    before = counts(client)
    r = client.post(f"{STA}/Observations", json={"result": 1})
    assert r.status_code == 400 and "Datastream" in r.json()["detail"]
    t = post(client, "Things", thing(Datastreams=[datastream()]))  # a Thing without a Location
    ds = get(client, f"Things({t['@iot.id']})/Datastreams")["value"][0]["@iot.id"]
    r = client.post(f"{STA}/Datastreams({ds})/Observations", json={"result": 1})
    assert r.status_code == 400 and "FeatureOfInterest" in r.json()["detail"]
    r = client.post(f"{STA}/Datastreams({ds})/Observations", json={
        "result": 1, "FeatureOfInterest": {"name": "f", "description": "d", "encodingType": "application/geo+json",
                                           "feature": {"type": "Point", "coordinates": [1, 2]}}})
    assert r.status_code == 201
    assert counts(client)["Observations"] == before["Observations"] + 1


def test_invalid_deep_insert_creates_nothing(client):
    before = counts(client)
    body = full_thing()
    body["Datastreams"][0]["Observations"][2]["phenomenonTime"] = "gisteren"
    r = client.post(f"{STA}/Things", json=body)
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "Datastreams.0.Observations.2.phenomenonTime"
    assert counts(client) == before


def test_observation_update_and_delete_refresh_summary(client):
    ids = new_thing(client)
    obs = get(client, f"Datastreams({ids['datastream']})/Observations", **{"$orderby": "phenomenonTime"})["value"]
    client.patch(f"{STA}/Observations({obs[0]['@iot.id']})", json={"phenomenonTime": "2024-04-01T00:00:00Z"})
    assert get(client, f"Datastreams({ids['datastream']})")["phenomenonTime"].startswith("2024-04-01T00:00:00Z/")
    client.delete(f"{STA}/Observations({obs[2]['@iot.id']})")
    assert get(client, f"Datastreams({ids['datastream']})")["phenomenonTime"] == \
        "2024-04-01T00:00:00Z/2024-05-01T11:00:00Z"
    # server-maintained properties are ignored when a client echoes them back
    r = client.patch(f"{STA}/Datastreams({ids['datastream']})", json={"phenomenonTime": "2024-01-01T00:00:00Z/"
                                                                                           "2024-01-02T00:00:00Z"})
    assert r.status_code == 200
    assert r.json()["phenomenonTime"] == "2024-04-01T00:00:00Z/2024-05-01T11:00:00Z"


def test_result_types_round_trip(client):
    ids = new_thing(client, n_obs=0)
    url = f"Datastreams({ids['datastream']})/Observations"
    for value in (1, 2.5, "hoog", True, None, {"a": [1, 2]}, [1, "x"]):
        o = post(client, url, {"phenomenonTime": "2024-01-01T00:00:00Z", "result": value,
                               "parameters": {"k": "v"}, "validTime": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"})
        got = get(client, f"Observations({o['@iot.id']})")
        assert got["result"] == value and got["parameters"] == {"k": "v"}
        assert got["validTime"] == "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"
    o = post(client, url, {"phenomenonTime": "2024-01-01T00:00:00+02:00/2024-01-01T01:00:00+02:00", "result": 1,
                           "resultTime": "2024-01-01T03:00:00.250+02:00"})
    got = get(client, f"Observations({o['@iot.id']})")
    assert got["phenomenonTime"] == "2023-12-31T22:00:00Z/2023-12-31T23:00:00Z"
    assert got["resultTime"] == "2024-01-01T01:00:00.250Z"


def test_register_metadata_rules(client):
    reg = {"purpose": "tellen van passanten", "processes_personal_data": True, "retention": "30 dagen"}
    r = client.post(f"{STA}/Things", json=thing(properties={"register": reg}))
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "properties.register.legal_ground"
    reg["legal_ground"] = "publieke taak"
    t = post(client, "Things", thing(properties={"register": reg}))
    r = client.patch(f"{STA}/Things({t['@iot.id']})", json={"properties": {"register": {**reg, "retention": None}}})
    assert r.status_code == 400 and "retention" in r.json()["detail"]
    r = client.patch(f"{STA}/Things({t['@iot.id']})", json={"properties": {"register": {**reg, "access_class": "geheim"}}})
    assert r.status_code == 400 and "access_class" in r.json()["detail"]
    r = client.patch(f"{STA}/Things({t['@iot.id']})", json={"properties": {"register": {**reg, "living_lab_id": 424242}}})
    assert r.status_code == 400 and "living_lab_id" in r.json()["detail"]
