"""Leak tests: what anonymous callers, members of another organisation, members of the owner
organisation and administrators see of open, network and restricted data, on every read path.

One open, one network and one restricted Thing, all owned by the same organisation, each with a
Location, a Datastream and Observations. The open Thing has a second, restricted Datastream
("secret"), and the restricted Thing a MultiDatastream. Every read path must show exactly the
visible ids: a hidden entity is a 404 worded like an unknown id, and no filter, count, link or
format can reveal it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from stadslab.app import create_app
from stadslab.core.config import Settings
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user

from .helpers import COMPLEX, STA, datastream, location, observed_property, sensor, thing

VIEWERS = ("anonymous", "member-other", "member-owner", "admin")
CLASSES = ("open", "network", "restricted")
#: Datastream keys: the three Things' own, plus the restricted one inside the open Thing.
STREAMS = ("open", "network", "restricted", "secret")
SEES_THINGS = {"anonymous": {"open"}, "member-other": {"open", "network"},
               "member-owner": set(CLASSES), "admin": set(CLASSES)}
SEES_STREAMS = {"anonymous": {"open"}, "member-other": {"open", "network"},
                "member-owner": set(STREAMS), "admin": set(STREAMS)}


@dataclass
class World:
    owner: int
    headers: dict[str, dict[str, str]]
    things: dict[str, int] = field(default_factory=dict)
    datastreams: dict[str, int] = field(default_factory=dict)
    observations: dict[str, list[int]] = field(default_factory=dict)  # per Datastream key, "multi"
    locations: dict[str, int] = field(default_factory=dict)
    features: dict[str, int] = field(default_factory=dict)
    sensors: dict[str, int] = field(default_factory=dict)  # per Datastream key, "multi"
    observed_properties: dict[str, int] = field(default_factory=dict)
    multi: int = 0

    def things_seen(self, viewer: str) -> set[int]:
        return {self.things[c] for c in SEES_THINGS[viewer]}

    def streams_seen(self, viewer: str) -> set[int]:
        return {self.datastreams[k] for k in SEES_STREAMS[viewer]}

    def observations_seen(self, viewer: str) -> set[int]:
        out = {o for k in SEES_STREAMS[viewer] for o in self.observations[k]}
        if "restricted" in SEES_THINGS[viewer]:
            out |= set(self.observations["multi"])
        return out

    def hidden_things(self, viewer: str) -> set[int]:
        return set(self.things.values()) - self.things_seen(viewer)

    def hidden_streams(self, viewer: str) -> set[int]:
        return set(self.datastreams.values()) - self.streams_seen(viewer)


def _ok(r):
    assert r.status_code == 200, r.text
    return r.json()


def _ids(r) -> set[int]:
    return {e["@iot.id"] for e in _ok(r)["value"]}


def _post(client, path: str, body) -> dict:
    r = client.post(f"{STA}/{path}", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _observations(n: int, base: float) -> list[dict]:
    return [{"phenomenonTime": f"2024-05-01T1{i}:00:00Z", "result": base + i} for i in range(n)]


@pytest.fixture
def world(db, admin_client) -> World:
    with db.session() as s:
        owner, other = make_organisation(s), make_organisation(s)
        headers = {"anonymous": {}, "admin": dict(admin_client.headers)}
        for name, role, org in (("member-other", "member", other), ("member-owner", "member", owner)):
            headers[name] = auth_headers(make_token(s, make_user(s, role, org, password=None)))
    w = World(owner.id, headers)
    for cls in CLASSES:
        streams = [datastream(name=f"{cls}-ds", Observations=_observations(3, 10))]
        if cls == "open":
            streams.append(datastream(name="secret-ds", properties={"access_class": "restricted"},
                                      ObservedProperty=observed_property("geheime grootheid"),
                                      Observations=_observations(2, 50)))
        register = {"access_class": cls, "sensor_type": f"{cls}-type", "purpose": "meten",
                    "owner": {"organisation_id": w.owner}}
        t = _post(admin_client, "Things", thing(name=f"{cls}-thing", properties={"register": register},
                                                Locations=[location(name=f"{cls}-place")], Datastreams=streams))
        w.things[cls] = t["@iot.id"]
        for ds in _ok(admin_client.get(f"{STA}/Things({t['@iot.id']})/Datastreams",
                                       params={"$expand": "Sensor,ObservedProperty"}))["value"]:
            key = "secret" if ds["name"] == "secret-ds" else cls
            w.datastreams[key] = ds["@iot.id"]
            w.sensors[key] = ds["Sensor"]["@iot.id"]
            w.observed_properties[key] = ds["ObservedProperty"]["@iot.id"]
            w.observations[key] = sorted(_ids(admin_client.get(f"{STA}/Datastreams({ds['@iot.id']})/Observations")))
        [loc] = _ok(admin_client.get(f"{STA}/Things({t['@iot.id']})/Locations"))["value"]
        w.locations[cls] = loc["@iot.id"]
        first = w.observations[cls][0]
        w.features[cls] = _ok(admin_client.get(f"{STA}/Observations({first})/FeatureOfInterest"))["@iot.id"]
    multi = _post(admin_client, "MultiDatastreams", {
        "name": "multi-restricted", "description": "wind", "observationType": COMPLEX,
        "multiObservationDataTypes": ["OM_Measurement"], "unitOfMeasurements": [{"name": "m/s"}],
        "Thing": {"@iot.id": w.things["restricted"]}, "Sensor": sensor(name="multi-sensor"),
        "ObservedProperties": [observed_property("wind")]})
    w.multi = multi["@iot.id"]
    w.sensors["multi"] = _ok(admin_client.get(f"{STA}/MultiDatastreams({w.multi})/Sensor"))["@iot.id"]
    w.observations["multi"] = [_post(admin_client, f"MultiDatastreams({w.multi})/Observations",
                                     {"result": [3.5], "phenomenonTime": "2024-05-01T10:00:00Z"})["@iot.id"]]
    return w


@pytest.fixture
def viewers(client, world):
    """Each viewer in turn, with the one client carrying that viewer's credentials (the world is
    built once per test: building it per viewer would quadruple the run time)."""
    def each():
        for who in VIEWERS:
            client.headers.clear()
            client.headers.update(world.headers[who])
            yield who, client
    return each


def _not_found_like_unknown(client, path: str, hidden_id: int) -> None:
    """A hidden entity answers exactly what an id that never existed answers."""
    hidden = client.get(f"{STA}/{path.format(hidden_id)}")
    unknown = client.get(f"{STA}/{path.format(987654)}")
    assert hidden.status_code == unknown.status_code == 404, (path, hidden.text)
    assert hidden.json()["detail"].replace(str(hidden_id), "N") == unknown.json()["detail"].replace("987654", "N")


# --- collections and single entities --------------------------------------------------------------

def test_collections_show_exactly_the_visible_rows(viewers, world):
    for who, c in viewers():
        top = {"$top": "1000"}
        assert _ids(c.get(f"{STA}/Things", params=top)) == world.things_seen(who)
        assert _ids(c.get(f"{STA}/Datastreams", params=top)) == world.streams_seen(who)
        assert _ids(c.get(f"{STA}/Observations", params=top)) == world.observations_seen(who)
        assert _ids(c.get(f"{STA}/MultiDatastreams", params=top)) == (
            {world.multi} if "restricted" in SEES_THINGS[who] else set())
        assert _ids(c.get(f"{STA}/Locations", params=top)) == {world.locations[k] for k in SEES_THINGS[who]}
        assert len(_ids(c.get(f"{STA}/HistoricalLocations", params=top))) == len(SEES_THINGS[who])
        assert _ids(c.get(f"{STA}/FeaturesOfInterest", params=top)) == {world.features[k] for k in SEES_THINGS[who]}
        # metadata stays visible to everybody
        assert _ids(c.get(f"{STA}/Sensors", params=top)) == set(world.sensors.values())
        assert _ids(c.get(f"{STA}/ObservedProperties", params=top)) >= set(world.observed_properties.values())


def test_single_entities_hidden_are_404_like_unknown_ids(viewers, world):
    for who, c in viewers():
        for cls, tid in world.things.items():
            if tid in world.hidden_things(who):
                _not_found_like_unknown(c, "Things({})", tid)
            else:
                assert _ok(c.get(f"{STA}/Things({tid})"))["name"] == f"{cls}-thing"
        for key, ds in world.datastreams.items():
            obs = world.observations[key][0]
            if ds in world.hidden_streams(who):
                _not_found_like_unknown(c, "Datastreams({})", ds)
                _not_found_like_unknown(c, "Observations({})", obs)
                _not_found_like_unknown(c, "Observations({})/result", obs)
            else:
                assert _ok(c.get(f"{STA}/Observations({obs})"))["@iot.id"] == obs
        if "restricted" not in SEES_THINGS[who]:
            _not_found_like_unknown(c, "MultiDatastreams({})", world.multi)
            _not_found_like_unknown(c, "Locations({})", world.locations["restricted"])
            _not_found_like_unknown(c, "FeaturesOfInterest({})", world.features["restricted"])
        # metadata of a hidden Datastream: the Sensor itself is visible
        assert c.get(f"{STA}/Sensors({world.sensors['restricted']})").status_code == 200


def test_deep_navigation(viewers, world):
    for who, c in viewers():
        open_thing, secret = world.things["open"], world.datastreams["secret"]
        assert _ids(c.get(f"{STA}/Things({open_thing})/Datastreams")) == (
            world.streams_seen(who) & {world.datastreams["open"], secret})
        path = f"Things({open_thing})/Datastreams({secret})/Observations"
        if secret in world.hidden_streams(who):
            assert c.get(f"{STA}/{path}").status_code == 404
            assert c.get(f"{STA}/Things({open_thing})/Datastreams({secret})/Thing").status_code == 404
        else:
            assert _ids(c.get(f"{STA}/{path}")) == set(world.observations["secret"])
        restricted = world.things["restricted"]
        for sub in ("Datastreams", "Locations", "HistoricalLocations", "MultiDatastreams",
                    f"Datastreams({world.datastreams['restricted']})/Observations", "Datastreams/$ref"):
            r = c.get(f"{STA}/Things({restricted})/{sub}")
            assert r.status_code == (200 if "restricted" in SEES_THINGS[who] else 404), (sub, r.text)
        # metadata navigation is filtered, not refused
        for key, sensor_id in world.sensors.items():
            if key == "multi":
                continue
            expected = {world.datastreams[key]} & world.streams_seen(who)
            assert _ids(c.get(f"{STA}/Sensors({sensor_id})/Datastreams")) == expected
            op = world.observed_properties[key]
            assert world.datastreams[key] not in _ids(c.get(f"{STA}/ObservedProperties({op})/Datastreams")) or \
                world.datastreams[key] in world.streams_seen(who)
        # to-one navigation from a visible Observation reaches visible entities only
        first = world.observations["open"][0]
        assert _ok(c.get(f"{STA}/Observations({first})/Datastream/Thing"))["@iot.id"] == open_thing
        assert _ok(c.get(f"{STA}/Observations({first})/FeatureOfInterest"))["@iot.id"] == world.features["open"]
        # a visible FeatureOfInterest lists only the visible ones of its Observations
        foi = world.features["open"]
        assert _ids(c.get(f"{STA}/FeaturesOfInterest({foi})/Observations", params={"$top": "1000"})) == (
            world.observations_seen(who) & set(world.observations["open"] + world.observations["secret"]))


def test_expand_at_any_depth(viewers, world):
    for who, c in viewers():
        body = _ok(c.get(f"{STA}/Things", params={"$expand": "Datastreams($expand=Observations($top=100))"}))
        streams = {d["@iot.id"] for t in body["value"] for d in t["Datastreams"]}
        obs = {o["@iot.id"] for t in body["value"] for d in t["Datastreams"] for o in d["Observations"]}
        assert streams == world.streams_seen(who)
        assert obs == {o for k in SEES_STREAMS[who] for o in world.observations[k]}
        sensors = _ok(c.get(f"{STA}/Sensors", params={"$expand": "Datastreams/Thing,MultiDatastreams",
                                                       "$top": "1000"}))["value"]
        assert {d["@iot.id"] for s in sensors for d in s["Datastreams"]} == world.streams_seen(who)
        assert {d["Thing"]["@iot.id"] for s in sensors for d in s["Datastreams"]} <= world.things_seen(who)
        assert {m["@iot.id"] for s in sensors for m in s["MultiDatastreams"]} == (
            {world.multi} if "restricted" in SEES_THINGS[who] else set())
        counted = _ok(c.get(f"{STA}/Things({world.things['open']})",
                            params={"$expand": "Datastreams($count=true)"}))
        assert counted["Datastreams@iot.count"] == len({"open", "secret"} & SEES_STREAMS[who])
        locs = _ok(c.get(f"{STA}/Locations", params={"$expand": "Things,HistoricalLocations/Thing"}))["value"]
        assert {t["@iot.id"] for loc in locs for t in loc["Things"]} == world.things_seen(who)
        first = world.observations["open"][0]
        expanded = _ok(c.get(f"{STA}/Observations({first})", params={"$expand": "FeatureOfInterest/Observations"}))
        assert {o["@iot.id"] for o in expanded["FeatureOfInterest"]["Observations"]} == (
            world.observations_seen(who) & set(world.observations["open"] + world.observations["secret"]))


def test_filters_cannot_probe_hidden_rows(viewers, world):
    for who, c in viewers():
        sees_secret = "secret" in SEES_STREAMS[who]

        def things(f: str) -> set[int]:
            return _ids(c.get(f"{STA}/Things", params={"$filter": f}))

        # the visible open Thing must not match through its hidden Datastream
        assert things("Datastreams/any(d: d/name eq 'secret-ds')") == ({world.things["open"]} if sees_secret else set())
        assert things("Datastreams/any(d: d/Observations/any(o: o/result ge 50))") == (
            {world.things["open"]} if sees_secret else set())
        assert things("Datastreams/Observations/any(o: o/result ge 50)") == (
            {world.things["open"]} if sees_secret else set())
        assert _ids(c.get(f"{STA}/Sensors", params={"$filter": "Datastreams/any(d: d/name eq 'restricted-ds')"})) == (
            {world.sensors["restricted"]} if "restricted" in SEES_STREAMS[who] else set())
        assert _ids(c.get(f"{STA}/Locations", params={"$filter": "Things/any(t: t/name eq 'network-thing')"})) == (
            {world.locations["network"]} if "network" in SEES_THINGS[who] else set())
        assert _ids(c.get(f"{STA}/ObservedProperties", params={
            "$filter": "Datastreams/any(d: d/Thing/name eq 'restricted-thing')"})) == (
            {world.observed_properties["restricted"]} if "restricted" in SEES_THINGS[who] else set())
        # navigation paths inside filters
        seen = _ids(c.get(f"{STA}/Observations", params={"$filter": "Datastream/Thing/name eq 'restricted-thing'"}))
        assert seen == (set(world.observations["restricted"]) if "restricted" in SEES_THINGS[who] else set())
        fois = _ids(c.get(f"{STA}/FeaturesOfInterest", params={"$filter": "Observations/any(o: o/result ge 50)"}))
        assert fois == ({world.features["open"]} if sees_secret else set())
        # a filter on a single hidden entity is still a 404, not a "no match"
        if world.things["restricted"] in world.hidden_things(who):
            r = c.get(f"{STA}/Things({world.things['restricted']})", params={"$filter": "name eq 'x'"})
            assert r.status_code == 404


def test_counts_refs_values_and_next_links(viewers, world):
    for who, c in viewers():
        for name, expected in (("Things", world.things_seen(who)), ("Datastreams", world.streams_seen(who)),
                               ("Observations", world.observations_seen(who))):
            assert _ok(c.get(f"{STA}/{name}", params={"$count": "true", "$top": "0"}))["@iot.count"] == len(expected)
            refs = _ok(c.get(f"{STA}/{name}/$ref", params={"$count": "true", "$top": "1000"}))
            assert {int(re.search(r"\((\d+)\)$", r["@iot.selfLink"]).group(1)) for r in refs["value"]} == expected
            assert refs["@iot.count"] == len(expected)
            # page through with $top=1: the nextLinks visit exactly the visible rows
            seen, url, params = [], f"{STA}/{name}", {"$top": "1", "$count": "true"}
            while url:
                page = _ok(c.get(url, params=params))
                assert page["@iot.count"] == len(expected)
                seen += [e["@iot.id"] for e in page["value"]]
                url, params = page.get("@iot.nextLink"), None
            assert sorted(seen) == sorted(expected)
        restricted = world.things["restricted"]
        if restricted in world.hidden_things(who):
            _not_found_like_unknown(c, "Things({})/$ref", restricted)
            _not_found_like_unknown(c, "Things({})/name/$value", restricted)
            _not_found_like_unknown(c, "Things({})/name", restricted)
        else:
            assert c.get(f"{STA}/Things({restricted})/name/$value").text == "restricted-thing"
        assert c.get(f"{STA}/Things({world.things['open']})/name/$value").text == "open-thing"


def test_estimated_counts_do_not_leak(db, world):
    """With planner estimates on (threshold 0), a count under a visibility rule is still exact."""
    app = create_app(Settings(database_url=db.url, sta_count_mode="estimate", sta_count_estimate_threshold=0),
                     db=db)
    with TestClient(app) as c:
        for who in VIEWERS:
            c.headers.clear()
            c.headers.update(world.headers[who])
            count = _ok(c.get(f"{STA}/Observations", params={"$count": "true", "$top": "0"}))["@iot.count"]
            if who != "admin":
                assert count == len(world.observations_seen(who)), who


def test_aggregate_and_data_array(viewers, world):
    for who, c in viewers():
        for key, ds in world.datastreams.items():
            r = c.get(f"{STA}/Datastreams({ds})/Observations/$aggregate", params={"interval": "1d"})
            if ds in world.hidden_streams(who):
                _not_found_like_unknown(c, "Datastreams({})/Observations/$aggregate", ds)
            else:
                assert _ok(r)["value"][0]["count"] == len(world.observations[key])
        body = _ok(c.get(f"{STA}/Observations", params={"$resultFormat": "dataArray", "$top": "1000"}))
        ids = {row[0] for group in body["value"] for row in group["dataArray"]}
        assert ids == world.observations_seen(who)
        links = {g.get("Datastream@iot.navigationLink") for g in body["value"]} - {None}
        assert links == {f"http://testserver{STA}/Datastreams({d})" for d in world.streams_seen(who)}


def test_batch_requests_run_as_the_caller(viewers, world):
    for who, c in viewers():
        restricted = world.things["restricted"]
        body = {"requests": [
            {"id": "all", "method": "GET", "url": "Things?$top=1000"},
            {"id": "one", "method": "GET", "url": f"Things({restricted})"},
            {"id": "nav", "method": "GET", "url": f"Things({world.things['open']})/Datastreams"},
            {"id": "obs", "method": "GET", "url": "Observations?$count=true&$top=0"},
            # a request's own headers cannot lend it other credentials
            {"id": "hdr", "method": "GET", "url": f"Things({restricted})",
             "headers": {"authorization": world.headers["admin"]["authorization"]}},
        ]}
        answers = {a["id"]: a for a in _ok(c.post(f"{STA}/$batch", json=body))["responses"]}
        assert {t["@iot.id"] for t in answers["all"]["body"]["value"]} == world.things_seen(who)
        hidden = restricted in world.hidden_things(who)
        assert answers["one"]["status"] == answers["hdr"]["status"] == (404 if hidden else 200)
        assert {d["@iot.id"] for d in answers["nav"]["body"]["value"]} == (
            world.streams_seen(who) & {world.datastreams["open"], world.datastreams["secret"]})
        assert answers["obs"]["body"]["@iot.count"] == len(world.observations_seen(who))


def test_sensor_register_in_every_format(viewers, world):
    for who, c in viewers():
        expected = world.things_seen(who)
        body = _ok(c.get("/api/v1/sensor-register"))
        assert {i["id"] for i in body["items"]} == expected and body["total"] == len(expected)
        geo = _ok(c.get("/api/v1/sensor-register.geojson"))
        assert {f["id"] for f in geo["features"]} == expected
        rows = list(csv.DictReader(io.StringIO(c.get("/api/v1/sensor-register.csv").text)))
        assert {int(r["id"]) for r in rows} == expected
        # filters and totals count visible Things only
        filtered = _ok(c.get("/api/v1/sensor-register", params={"sensor_type": "restricted-type"}))
        assert filtered["total"] == (1 if "restricted" in SEES_THINGS[who] else 0)
        assert _ok(c.get("/api/v1/sensor-register", params={"purpose": "meten", "limit": 1}))["total"] == len(expected)
        # measures come from visible Datastreams only: the open Thing's hidden "secret" one adds nothing
        open_entry = next(i for i in body["items"] if i["id"] == world.things["open"])
        assert open_entry["owner"]["organisation_id"] == world.owner
        assert len(open_entry["measures"]) == (2 if "secret" in SEES_STREAMS[who] else 1)


@pytest.mark.mqtt
def test_mqtt_notifications_carry_open_data_only(db, world, mqtt_url, admin_headers):
    """The broker hands a message to every subscriber: only what anonymous callers may read goes out."""
    import uuid

    from tests.sensorthings.mqtt.conftest import Listener, wait_until

    prefix = f"test-{uuid.uuid4().hex[:10]}/v1.1"
    settings = Settings(database_url=db.url, mqtt_url=mqtt_url, mqtt_topic_prefix=prefix)
    listener = Listener(mqtt_url).subscribe(f"{prefix}/#")
    listener.bus.start()
    try:
        assert listener.bus.wait_ready(15)
        app = create_app(settings, db=db)
        with TestClient(app, headers=admin_headers) as c:
            created = {}
            for key in STREAMS:
                created[key] = _post(c, f"Datastreams({world.datastreams[key]})/Observations",
                                     {"result": 99, "phenomenonTime": "2024-06-01T00:00:00Z"})["@iot.id"]
            for cls in CLASSES:
                r = c.patch(f"{STA}/Things({world.things[cls]})", json={"description": f"{cls} bijgewerkt"})
                assert r.status_code == 200, r.text
            assert wait_until(lambda: listener.on(f"{prefix}/Observations({created['open']})"))
            assert wait_until(lambda: listener.on(f"{prefix}/Things({world.things['open']})/description"))
            assert app.state.mqtt.notifier.drain()
        topics = [m.topic for m in listener.messages]
        payloads = b"\n".join(m.payload for m in listener.messages)
        for key in ("network", "restricted", "secret"):
            assert not [t for t in topics if f"Observations({created[key]})" in t], key
            assert not [t for t in topics if f"Datastreams({world.datastreams[key]})" in t], key
        for cls in ("network", "restricted"):
            assert not [t for t in topics if f"Things({world.things[cls]})" in t], cls
            assert f"{cls} bijgewerkt".encode() not in payloads
        assert f"{prefix}/Datastreams({world.datastreams['open']})/Observations" in topics
        assert b"open bijgewerkt" in payloads
    finally:
        listener.bus.stop()
