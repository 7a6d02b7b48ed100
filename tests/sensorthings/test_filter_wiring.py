"""$filter wired into collections, navigation paths, $expand and nextLinks (the language itself is
tested in tests/sensorthings/filter/)."""

from __future__ import annotations

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import STA, get, location, new_thing, post, thing


def _ids(body):
    return [v["@iot.id"] for v in body["value"]]


def test_filter_on_collections_and_paths(client):
    a = new_thing(client, n_obs=5, properties={"wijk": "Noord"})
    new_thing(client, n_obs=2, properties={"wijk": "Zuid"})
    obs = get(client, f"Datastreams({a['datastream']})/Observations", **{"$filter": "result ge 13",
                                                                         "$select": "result"})
    assert [o["result"] for o in obs["value"]] == [13, 14]
    things = get(client, "Things", **{"$filter": "properties/wijk eq 'Noord'"})
    assert _ids(things) == [a["thing"]]
    deep = get(client, "Things", **{"$filter": "Datastreams/any(d: d/Observations/any(o: o/result ge 14))"})
    assert _ids(deep) == [a["thing"]]
    via = get(client, "Observations", **{"$filter": f"Datastream/Thing/id eq {a['thing']}", "$count": "true"})
    assert via["@iot.count"] == 5


def test_filter_in_expand_and_next_link(client):
    a = new_thing(client, n_obs=5)
    ds = get(client, f"Things({a['thing']})", **{
        "$expand": "Datastreams($expand=Observations($filter=result lt 12;$orderby=result desc))"})
    assert [o["result"] for o in ds["Datastreams"][0]["Observations"]] == [11, 10]
    page = get(client, "Observations", **{"$filter": "result gt 10", "$top": "2"})
    assert len(page["value"]) == 2
    rest = client.get(page["@iot.nextLink"]).json()
    assert [o["result"] for o in rest["value"]] == [13, 14]


def test_spatial_filter_on_locations(client):
    post(client, "Things", thing(Locations=[location(4.9, 52.37)]))
    post(client, "Things", thing(Locations=[location(5.12, 52.09)]))
    inside = get(client, "Locations", **{
        "$filter": "st_within(location, geography'POLYGON((4.8 52.3, 5.0 52.3, 5.0 52.4, 4.8 52.4, 4.8 52.3))')"})
    assert [l["location"]["coordinates"] for l in inside["value"]] == [[4.9, 52.37]]


def test_filter_errors_name_their_place(client):
    new_thing(client)
    r = client.get(f"{STA}/Things", params={"$filter": "nme eq 'x'"})
    assert r.status_code == 400 and r.json()["detail"].startswith("$filter:") and "nme" in r.json()["detail"]
    r = client.get(f"{STA}/Things", params={"$expand": "Datastreams($filter=reslt gt 1)"})
    assert r.status_code == 400 and r.json()["detail"].startswith("$expand/Datastreams/$filter:")
