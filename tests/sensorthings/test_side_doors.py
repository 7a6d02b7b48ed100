"""Side doors: routes outside /sta that take or emit Datastream ids follow the Datastream's own
access class (and its Thing's), and answer a hidden one exactly like one that never existed.

World: an open Thing of organisation A with an open, a network and a restricted Datastream. Viewers:
anonymous, a member of another organisation, a member of A.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.governance.factories import auth_headers, make_organisation, make_token, make_user

from .helpers import STA, datastream, location, observed_property, thing

UNKNOWN = 987654
SEES = {"anonymous": {"open"}, "member-other": {"open", "network"},
        "member-owner": {"open", "network", "restricted"}}


@dataclass
class World:
    owner: int
    headers: dict[str, dict[str, str]]
    streams: dict[str, int]
    hidden_thing: int


@pytest.fixture
def world(db, admin_client) -> World:
    with db.session() as s:
        owner, other = make_organisation(s), make_organisation(s)
        headers = {"anonymous": {}}
        for name, org in (("member-other", other), ("member-owner", owner)):
            headers[name] = auth_headers(make_token(s, make_user(s, "member", org, password=None)))
    streams = [datastream(name=f"{cls}-ds", properties={"access_class": cls},
                          ObservedProperty=observed_property(f"grootheid-{cls}"),
                          Observations=[{"phenomenonTime": "2024-05-01T10:00:00Z", "result": 42}])
               for cls in SEES["member-owner"]]
    r = admin_client.post(f"{STA}/Things", json=thing(
        name="open-thing", properties={"register": {"access_class": "open", "owner": {"organisation_id": owner.id}}},
        Locations=[location()], Datastreams=streams))
    assert r.status_code == 201, r.text
    rows = admin_client.get(f"{STA}/Things({r.json()['@iot.id']})/Datastreams").json()["value"]
    hidden = admin_client.post(f"{STA}/Things", json=thing(
        name="besloten-kast", properties={"register": {"access_class": "restricted",
                                                       "owner": {"organisation_id": owner.id}}},
        Locations=[location()], Datastreams=[datastream(ObservedProperty=observed_property("grootheid-besloten"))]))
    assert hidden.status_code == 201, hidden.text
    return World(owner.id, headers, {d["name"].removesuffix("-ds"): d["@iot.id"] for d in rows},
                 hidden.json()["@iot.id"])


def _same_as_unknown(client, url: str, hidden: int, headers: dict) -> None:
    a = client.get(url.format(hidden), headers=headers)
    b = client.get(url.format(UNKNOWN), headers=headers)
    assert a.status_code == b.status_code == 404, (url, hidden, a.text)
    assert a.headers["content-type"] == b.headers["content-type"]
    assert a.json()["detail"].replace(str(hidden), "N") == b.json()["detail"].replace(str(UNKNOWN), "N")
    assert a.json()["title"] == b.json()["title"]


def test_observations_csv_follows_the_datastreams_own_access_class(client, world):
    url = "/api/v1/datastreams/{}/observations.csv"
    for who, headers in world.headers.items():
        for cls, ds in world.streams.items():
            if cls in SEES[who]:
                r = client.get(url.format(ds), headers=headers)
                assert r.status_code == 200, (who, cls, r.text)
                assert "42" in r.text
            else:
                _same_as_unknown(client, url, ds, headers)


def test_register_shows_only_visible_things_and_measures(client, world):
    for who, headers in world.headers.items():
        body = client.get("/api/v1/sensor-register", headers=headers).json()
        names = {it["name"] for it in body["items"]}
        assert ("besloten-kast" in names) == (who == "member-owner"), who
        [open_thing] = [it for it in body["items"] if it["name"] == "open-thing"]
        assert set(open_thing["measures"]) == {f"grootheid-{c}" for c in SEES[who]}, who
        for path in ("/api/v1/sensor-register.csv", "/api/v1/sensor-register.geojson"):
            text = client.get(path, headers=headers).text
            for cls in {"network", "restricted"} - SEES[who]:
                assert f"grootheid-{cls}" not in text, (who, path)
            assert ("besloten" in text) == (who == "member-owner"), (who, path)


def test_ogc_api_items_and_sensor_pages_answer_a_hidden_thing_like_an_unknown_one(client, world):
    for who in ("anonymous", "member-other"):
        headers = world.headers[who]
        _same_as_unknown(client, "/ogcapi/collections/sensors/items/{}", world.hidden_thing, headers)
        a = client.get(f"/sensoren/{world.hidden_thing}", headers=headers)
        b = client.get(f"/sensoren/{UNKNOWN}", headers=headers)
        assert a.status_code == b.status_code == 404
        assert a.text.replace(str(world.hidden_thing), "N") == b.text.replace(str(UNKNOWN), "N")
