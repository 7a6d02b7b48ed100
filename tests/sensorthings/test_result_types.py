"""Observation results of every JSON type filter by their own type, never by a lookalike."""

THING = {"name": "Meetpunt", "description": "Test",
         "Locations": [{"name": "Plein", "description": "p", "encodingType": "application/geo+json",
                        "location": {"type": "Point", "coordinates": [5.12, 52.09]}}],
         "Datastreams": [{
    "name": "Mixed", "description": "results of several types", "observationType": "OM_Observation",
    "unitOfMeasurement": {"name": "n/a", "symbol": "", "definition": "n/a"},
    "Sensor": {"name": "S", "description": "s", "encodingType": "text/plain", "metadata": "s"},
    "ObservedProperty": {"name": "P", "definition": "https://example.org/p", "description": "p"}}]}


def test_filter_on_result_respects_json_type(admin_client):
    r = admin_client.post("/sta/v1.1/Things", json=THING)
    assert r.status_code == 201, r.text
    ds = admin_client.get(r.headers["location"] + "/Datastreams").json()["value"][0]["@iot.id"]
    results = [True, 1, "1", 2.5, None, {"a": 1}]
    for i, value in enumerate(results):
        body = {"phenomenonTime": f"2024-01-01T00:0{i}:00Z", "result": value, "Datastream": {"@iot.id": ds}}
        r = admin_client.post("/sta/v1.1/Observations", json=body)
        assert r.status_code == 201, (value, r.text)

    def results_for(flt):
        r = admin_client.get("/sta/v1.1/Observations", params={"$filter": flt, "$orderby": "phenomenonTime"})
        assert r.status_code == 200, r.text
        return [o["result"] for o in r.json()["value"]]

    assert results_for("result eq 1") == [1]
    assert results_for("result eq true") == [True]
    assert results_for("result eq '1'") == ["1"]
    assert results_for("result gt 1") == [2.5]
