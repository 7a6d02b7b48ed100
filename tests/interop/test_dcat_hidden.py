"""The DCAT catalogue is public: it lists only what an anonymous caller may read in /sta, following
each Datastream's own access class (not only its Thing's) and the current class, not a past one."""

from __future__ import annotations

from tests.sensorthings.helpers import STA, datastream, location, observed_property, thing


def _open_thing_with_streams(admin_client) -> tuple[int, dict[str, int]]:
    streams = [datastream(name=f"{cls}-reeks", properties={"access_class": cls},
                          ObservedProperty=observed_property(f"grootheid-{cls}"),
                          Observations=[{"phenomenonTime": f"2024-0{i + 1}-01T10:00:00Z", "result": 1}])
               for i, cls in enumerate(("open", "network", "restricted"))]
    body = thing(name="Open kast", properties={"register": {"access_class": "open"}}, Locations=[location()],
                 Datastreams=streams)
    r = admin_client.post(f"{STA}/Things", json=body)
    assert r.status_code == 201, r.text
    rows = admin_client.get(f"{STA}/Things({r.json()['@iot.id']})/Datastreams").json()["value"]
    return r.json()["@iot.id"], {d["name"].removesuffix("-reeks"): d["@iot.id"] for d in rows}


def test_catalogue_leaves_out_hidden_datastreams_and_their_observed_properties(client, admin_client):
    thing_id, ids = _open_thing_with_streams(admin_client)
    for path in ("/api/v1/catalog.ttl", f"/api/v1/catalog/datasets/sensors-thing-{thing_id}"):
        text = client.get(path, headers={"accept": "text/turtle"}).text
        assert f"/datastreams/{ids['open']}/observations.csv" in text
        assert "grootheid-open" in text
        for hidden in ("network", "restricted"):
            assert f"/datastreams/{ids[hidden]}/" not in text and f"Datastreams({ids[hidden]})" not in text
            assert f"grootheid-{hidden}" not in text and f"{hidden}-reeks" not in text
        # the period of the dataset is that of the open Datastream alone (January)
        assert "2024-02-01" not in text and "2024-03-01" not in text


def test_a_thing_made_restricted_leaves_the_catalogue_like_one_that_never_was(client, admin_client):
    thing_id, _ = _open_thing_with_streams(admin_client)
    assert client.get(f"/api/v1/catalog/datasets/sensors-thing-{thing_id}").status_code == 200
    closed = {"properties": {"register": {"access_class": "restricted"}}}
    r = admin_client.patch(f"{STA}/Things({thing_id})", json=closed)
    assert r.status_code == 200, r.text
    a = client.get(f"/api/v1/catalog/datasets/sensors-thing-{thing_id}")
    b = client.get("/api/v1/catalog/datasets/sensors-thing-987654")
    assert a.status_code == b.status_code == 404
    assert a.json()["detail"].replace(str(thing_id), "N") == b.json()["detail"].replace("987654", "N")
    assert f"sensors-thing-{thing_id}" not in client.get("/api/v1/catalog.ttl").text
