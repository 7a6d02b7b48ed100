"""Sensing core conformance class (OGC 18-088 A.1) plus the request-data options except $filter."""

from __future__ import annotations

import pytest

from stadslab.app import create_app
from stadslab.core.config import Settings
from fastapi.testclient import TestClient

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import SETS, STA, datastream, get, location, new_thing, post, thing


def test_service_root_lists_sets_and_conformance(client):
    body = get(client, "")
    assert [v["name"] for v in body["value"]] == list(SETS)
    assert {v["url"] for v in body["value"]} == {f"http://testserver{STA}/{s}" for s in SETS}
    conf = body["serverSettings"]["conformance"]
    base = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
    for cls in ("datamodel", "resource-path/resource-path-to-entities", "request-data", "create-update-delete",
                "data-array/data-array", "batch-request/batch-request", "multi-datastream"):
        assert base + cls in conf
    assert not any("mqtt" in c for c in conf), "MQTT is not implemented by the hub core"


def test_links_honour_forwarded_headers(client):
    ids = new_thing(client)
    r = client.get(f"{STA}/Things({ids['thing']})", headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "data.stad.nl", "X-Forwarded-Prefix": "/hub"})
    body = r.json()
    assert body["@iot.selfLink"] == f"https://data.stad.nl/hub/sta/v1.1/Things({ids['thing']})"
    assert body["Datastreams@iot.navigationLink"].startswith("https://data.stad.nl/hub/sta/v1.1/")


def test_links_use_external_base_url(db, admin_headers):
    app = create_app(Settings(database_url=db.url, external_base_url="https://stadslab.example.nl/"), db=db)
    with TestClient(app, headers=admin_headers) as c:
        t = c.post(f"{STA}/Things", json=thing()).json()
        assert t["@iot.selfLink"] == f"https://stadslab.example.nl/sta/v1.1/Things({t['@iot.id']})"
        assert c.get(f"{STA}/Things").json()["value"][0]["@iot.selfLink"].startswith("https://stadslab.example.nl/")


def test_every_entity_type_has_id_selflink_and_navigation_links(client):
    new_thing(client)
    post(client, "MultiDatastreams", {
        "name": "md", "description": "d", "observationType":
            "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
        "unitOfMeasurements": [{"name": "a", "symbol": "a", "definition": "a"}],
        "multiObservationDataTypes": ["http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"],
        "Thing": {"@iot.id": 1}, "Sensor": {"@iot.id": 1}, "ObservedProperties": [{"@iot.id": 1}]})
    expected_navs = {"Things": ["Locations", "HistoricalLocations", "Datastreams", "MultiDatastreams"],
                     "Observations": ["Datastream", "MultiDatastream", "FeatureOfInterest"],
                     "MultiDatastreams": ["Thing", "Sensor", "ObservedProperties", "Observations"],
                     "FeaturesOfInterest": ["Observations"], "HistoricalLocations": ["Thing", "Locations"]}
    for name in SETS:
        items = get(client, name)["value"]
        assert items, f"no {name} created"
        for item in items:
            assert isinstance(item["@iot.id"], int)
            assert item["@iot.selfLink"].endswith(f"/{name}({item['@iot.id']})")
            for nav in expected_navs.get(name, []):
                assert item[f"{nav}@iot.navigationLink"] == f"{item['@iot.selfLink']}/{nav}"


def test_navigation_paths_several_levels_deep(client):
    a = new_thing(client)
    b = new_thing(client)
    obs = get(client, f"Things({a['thing']})/Datastreams({a['datastream']})/Observations")["value"]
    assert len(obs) == 3
    assert all(o["@iot.selfLink"].startswith("http://testserver/sta/v1.1/Observations(") for o in obs)
    sensor = get(client, f"Things({a['thing']})/Datastreams({a['datastream']})/Sensor")
    assert sensor["name"].startswith("Sensor")
    thing_name = get(client, f"Observations({obs[0]['@iot.id']})/Datastream/Thing/name")
    assert thing_name["name"].startswith("Meetkast")
    locs = get(client, f"Datastreams({a['datastream']})/Thing/Locations")["value"]
    assert [l["@iot.id"] for l in locs] == [a["location"]]
    # the Datastream of another Thing is not reachable below this Thing
    r = client.get(f"{STA}/Things({a['thing']})/Datastreams({b['datastream']})/Observations")
    assert r.status_code == 404
    assert f"Datastreams({b['datastream']})" in r.json()["detail"]
    assert client.get(f"{STA}/Things(999)").status_code == 404


def test_property_value_and_ref(client):
    ids = new_thing(client, name="Kast Noord")
    assert get(client, f"Things({ids['thing']})/name") == {"name": "Kast Noord"}
    r = client.get(f"{STA}/Things({ids['thing']})/name/$value")
    assert r.status_code == 200 and r.text == "Kast Noord" and r.headers["content-type"].startswith("text/plain")
    assert get(client, f"Things({ids['thing']})/properties") == {"properties": {"wijk": "Centrum"}}
    ref = get(client, f"Things({ids['thing']})/Datastreams/$ref")
    assert ref["value"] == [{"@iot.selfLink": f"http://testserver/sta/v1.1/Datastreams({ids['datastream']})"}]
    assert get(client, f"Datastreams({ids['datastream']})/Thing/$ref") == {
        "@iot.selfLink": f"http://testserver/sta/v1.1/Things({ids['thing']})"}


def test_nested_expand_with_own_options(client):
    ids = new_thing(client)
    body = get(client, f"Things({ids['thing']})", **{
        "$expand": "Datastreams($select=name;$expand=Observations($top=2;$orderby=phenomenonTime desc)),Locations"})
    ds = body["Datastreams"][0]
    assert set(ds) == {"name", "Observations", "Observations@iot.nextLink"}
    times = [o["phenomenonTime"] for o in ds["Observations"]]
    assert times == ["2024-05-01T12:00:00Z", "2024-05-01T11:00:00Z"]
    assert "$skip=2" in ds["Observations@iot.nextLink"]
    assert body["Locations"][0]["location"]["type"] == "Point"
    # the same with path syntax and to-one expansion
    obs = get(client, "Observations", **{"$expand": "Datastream/Thing($select=name),FeatureOfInterest",
                                         "$top": "1"})["value"][0]
    assert obs["Datastream"]["Thing"] == {"name": body["name"]}
    assert obs["FeatureOfInterest"]["feature"]["type"] == "Point"


def test_expand_count_per_parent(client):
    new_thing(client, n_obs=2)
    new_thing(client, n_obs=5)
    items = get(client, "Datastreams", **{"$expand": "Observations($count=true;$top=1)"})["value"]
    assert sorted(i["Observations@iot.count"] for i in items) == [2, 5]
    assert all(len(i["Observations"]) == 1 for i in items)


def test_select_orderby_several_keys(client):
    for name, desc in (("B", "x"), ("A", "z"), ("A", "y")):
        post(client, "Things", thing(name=name, description=desc))
    body = get(client, "Things", **{"$orderby": "name asc,description desc", "$select": "name,description"})
    assert [(t["name"], t["description"]) for t in body["value"]] == [("A", "z"), ("A", "y"), ("B", "x")]
    assert all(set(t) == {"name", "description"} for t in body["value"])
    body = get(client, "Things", **{"$select": "id,Datastreams"})
    assert set(body["value"][0]) == {"@iot.id", "Datastreams@iot.navigationLink"}


def test_paging_is_stable_and_complete(client):
    for i in range(7):
        post(client, "Things", thing(name="zelfde"))  # equal sort keys: the id decides
    seen, url, pages = [], f"{STA}/Things?$orderby=name&$top=3&$count=true", 0
    while url:
        body = client.get(url).json()
        assert body["@iot.count"] == 7
        seen += [t["@iot.id"] for t in body["value"]]
        url = body.get("@iot.nextLink")
        pages += 1
    assert pages == 3
    assert seen == sorted(seen) and len(set(seen)) == 7


def test_default_page_size_and_maximum(client, settings):
    rows = [[f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z", i] for i in range(120)]
    ids = new_thing(client, n_obs=0)
    r = client.post(f"{STA}/CreateObservations", json=[
        {"Datastream": {"@iot.id": ids["datastream"]}, "components": ["phenomenonTime", "result"],
         "dataArray": rows}])
    assert r.status_code == 201
    body = get(client, "Observations")
    assert len(body["value"]) == settings.sta_page_size_default == 100
    assert "@iot.nextLink" in body
    r = client.get(f"{STA}/Observations", params={"$top": settings.sta_page_size_max + 1})
    assert r.status_code == 200  # clamped to the maximum (paged: see test_top_above_the_maximum_pages)


def test_top_above_the_maximum_pages(db, admin_headers):
    """Issue #18: ``$top`` above the server's maximum is the maximum with an ``@iot.nextLink``
    (FROST-Server), also for ``$resultFormat=dataArray`` and inside ``$expand``."""
    from fastapi.testclient import TestClient

    from stadslab.app import create_app
    from stadslab.core.config import Settings

    with TestClient(create_app(Settings(database_url=db.url, sta_page_size_max=50), db=db),
                    headers=admin_headers) as c:
        ids = new_thing(c, n_obs=0)
        rows = [[f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z", i] for i in range(120)]
        r = c.post(f"{STA}/CreateObservations", json=[
            {"Datastream": {"@iot.id": ids["datastream"]}, "components": ["phenomenonTime", "result"],
             "dataArray": rows}])
        assert r.status_code == 201
        seen, url, params = [], f"{STA}/Observations", {"$top": "100000", "$orderby": "id"}
        while url:
            page = c.get(url, params=params)
            assert page.status_code == 200, page.text
            body, params = page.json(), None
            assert len(body["value"]) <= 50
            seen += [o["result"] for o in body["value"]]
            url = body.get("@iot.nextLink")
        assert seen == list(range(120))
        arrays = c.get(f"{STA}/Datastreams({ids['datastream']})/Observations",
                       params={"$resultFormat": "dataArray", "$top": "100000"}).json()
        assert len(arrays["value"][0]["dataArray"]) == 50 and "$top=50" in arrays["@iot.nextLink"]
        expanded = c.get(f"{STA}/Datastreams({ids['datastream']})",
                         params={"$expand": "Observations($top=100000)"}).json()
        assert len(expanded["Observations"]) == 50 and "Observations@iot.nextLink" in expanded


def test_expand_depth_is_limited(client):
    r = client.get(f"{STA}/Things", params={"$expand": "Datastreams/Thing/Datastreams/Thing/Datastreams/Thing"})
    assert r.status_code == 400
    assert "levels" in r.json()["detail"]
    ok = client.get(f"{STA}/Things", params={"$expand": "Datastreams/Thing/Datastreams/Thing/Datastreams"})
    assert ok.status_code == 200


def test_count_modes(db, admin_headers):
    for mode, threshold in (("exact", 0), ("estimate", 10**9), ("estimate", 0)):
        app = create_app(Settings(database_url=db.url, sta_count_mode=mode,
                                  sta_count_estimate_threshold=threshold), db=db)
        with TestClient(app, headers=admin_headers) as c:
            if not c.get(f"{STA}/Things").json()["value"]:
                for _ in range(3):
                    c.post(f"{STA}/Things", json=thing())
            count = c.get(f"{STA}/Things", params={"$count": "true"}).json()["@iot.count"]
            if mode == "exact" or threshold > 0 or db.dialect == "sqlite":
                assert count == 3
            else:  # PostgreSQL planner estimate: a number, not necessarily exact
                assert isinstance(count, int) and count >= 0


@pytest.mark.parametrize("path", ["Datastreams(1)/phenomenonTime", "Datastreams(1)/observedArea"])
def test_server_maintained_summaries(client, path):
    ids = new_thing(client)
    assert ids["datastream"] == 1
    value = get(client, path)
    if "phenomenonTime" in path:
        assert value["phenomenonTime"] == "2024-05-01T10:00:00Z/2024-05-01T12:00:00Z"
    else:
        assert value["observedArea"] == {"type": "Point", "coordinates": [4.9, 52.37]}


def test_locations_and_datastreams_can_be_listed_per_thing(client):
    t = post(client, "Things", thing(Locations=[location(), location(5.1, 52.1)], Datastreams=[datastream()]))
    assert len(get(client, f"Things({t['@iot.id']})/Locations")["value"]) == 2
    assert get(client, f"Things({t['@iot.id']})/HistoricalLocations/$ref")["value"]


def test_service_root_announces_mqtt_without_credentials():
    from stadslab.sensorthings.read.serialize import Links
    from stadslab.sensorthings.write.service import MQTT_CLASSES, service_root

    plain = service_root(Links("https://x/sta/v1.1"))
    assert not set(MQTT_CLASSES) & set(plain["serverSettings"]["conformance"])
    root = service_root(Links("https://x/sta/v1.1"), "mqtts://hub:geheim@broker.example.nl:8883")
    assert set(MQTT_CLASSES) <= set(root["serverSettings"]["conformance"])
    assert root["serverSettings"][MQTT_CLASSES[1]] == {"endpoints": ["mqtts://broker.example.nl:8883"]}
    assert "geheim" not in str(root)


def test_next_link_repeats_nested_options(client):
    for _ in range(2):
        new_thing(client, n_obs=4)
    first = get(client, "Things", **{"$top": "1", "$select": "name",
                                     "$expand": "Datastreams($select=name;$expand=Observations($top=2;"
                                                "$orderby=phenomenonTime desc;$select=result))"})
    r = client.get(first["@iot.nextLink"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert "@iot.nextLink" not in second
    for page in (first, second):
        item = page["value"][0]
        assert set(item) == {"name", "Datastreams"}
        assert [o["result"] for o in item["Datastreams"][0]["Observations"]] == [13, 12]
