"""Exact positions stay with their owner.

* Linking an existing Location or FeatureOfInterest needs write rights on it, as changing it does:
  otherwise another organisation's editor could link a coarsened Location to a Thing of their own,
  read it exactly, and lock the owner out of its own Location.
* A Location or FeatureOfInterest that no Thing reaches any more (the Thing moved, the Thing was
  deleted, retention removed the Observations) keeps its owner's access class and precision.

Organisation A owns an open Thing published at a 1000 m grid and a restricted Thing; B has an
editor and a Thing of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from stadslab.sensorthings.access.precision import snap_point
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user

from .helpers import STA, datastream, location, thing

EXACT = [4.8951234, 52.3704567]
SECRET = [5.1212345, 52.0901234]
UNKNOWN = 987654


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    coarse_thing: int
    coarse_location: int
    coarse_feature: int
    secret_thing: int
    secret_location: int
    secret_feature: int
    b_thing: int
    b_stream: int


def _ok(r, status: int = 200):
    assert r.status_code == status, r.text
    return r.json()


def _obs(n: int = 2) -> list[dict]:
    return [{"phenomenonTime": f"2024-05-01T1{i}:00:00Z", "result": i} for i in range(n)]


def _thing_of(client, owner: int, coords, **register) -> tuple[int, int, int]:
    body = thing(properties={"register": {"owner": {"organisation_id": owner}, **register}},
                 Locations=[location(*coords)], Datastreams=[datastream(Observations=_obs())])
    t = _ok(client.post(f"{STA}/Things", json=body), 201)["@iot.id"]
    loc = _ok(client.get(f"{STA}/Things({t})/Locations"))["value"][0]["@iot.id"]
    ds = _ok(client.get(f"{STA}/Things({t})/Datastreams"))["value"][0]["@iot.id"]
    first = _ok(client.get(f"{STA}/Datastreams({ds})/Observations"))["value"][0]["@iot.id"]
    foi = _ok(client.get(f"{STA}/Observations({first})/FeatureOfInterest"))["@iot.id"]
    return t, loc, foi


@pytest.fixture
def world(db, admin_client, client) -> World:
    with db.session() as s:
        a, b = make_organisation(s), make_organisation(s)
        headers = {"anonymous": {}, "admin": dict(admin_client.headers)}
        for name, role, org in (("editor-a", "editor", a), ("member-a", "member", a), ("editor-b", "editor", b),
                                ("member-b", "member", b)):
            headers[name] = auth_headers(make_token(s, make_user(s, role, org, password=None)))
    coarse = _thing_of(admin_client, a.id, EXACT, locationPrecision=1000)
    secret = _thing_of(admin_client, a.id, SECRET, access_class="restricted")
    b_thing = _ok(client.post(f"{STA}/Things", json=thing(Locations=[location(4.0, 52.0)],
                                                         Datastreams=[datastream()]),
                              headers=headers["editor-b"]), 201)["@iot.id"]
    b_stream = _ok(client.get(f"{STA}/Things({b_thing})/Datastreams", headers=headers["editor-b"]))["value"][0]
    return World(headers, *coarse, *secret, b_thing, b_stream["@iot.id"])


def _coords(doc: dict, key: str) -> list[float]:
    g = doc[key]
    return (g.get("geometry") or g)["coordinates"]


def _same_as_unknown(client, path: str, hidden: int, headers: dict, method: str = "get", **kw) -> None:
    a = client.request(method, f"{STA}/{path.format(hidden)}", headers=headers, **kw)
    b = client.request(method, f"{STA}/{path.format(UNKNOWN)}", headers=headers, **kw)
    assert a.status_code == b.status_code == 404, (path, a.text)
    assert a.json()["detail"].replace(str(hidden), "N") == b.json()["detail"].replace(str(UNKNOWN), "N")


def test_linking_another_organisations_location_or_feature_is_refused(client, world):
    b = world.headers["editor-b"]
    attempts = [
        ("post", "Things", thing(Locations=[{"@iot.id": world.coarse_location}])),
        ("patch", f"Things({world.b_thing})", {"Locations": [{"@iot.id": world.coarse_location}]}),
        ("post", f"Datastreams({world.b_stream})/Observations",
         {"result": 1, "FeatureOfInterest": {"@iot.id": world.coarse_feature}}),
        ("post", "CreateObservations", [{"Datastream": {"@iot.id": world.b_stream},
                                         "components": ["result", "FeatureOfInterest/id"],
                                         "dataArray": [[1, world.coarse_feature]]}]),
    ]
    for method, path, body in attempts:
        r = client.request(method, f"{STA}/{path}", json=body, headers=b)
        assert r.status_code == 403, (path, r.text)
    # still coarse for B, and the owner keeps changing its own Location
    got = _ok(client.get(f"{STA}/Locations({world.coarse_location})", headers=b))
    assert _coords(got, "location") == snap_point(*EXACT, 1000)
    assert _ok(client.get(f"{STA}/Things({world.b_thing})/Locations", headers=b))["value"][0]["@iot.id"] \
        != world.coarse_location
    r = client.patch(f"{STA}/Locations({world.coarse_location})", json={"description": "mast 2"},
                     headers=world.headers["editor-a"])
    assert r.status_code == 200, r.text
    # a hidden one (restricted Thing of A) is as unknown as ever
    body = {"Locations": [{"@iot.id": world.secret_location}]}
    a = client.patch(f"{STA}/Things({world.b_thing})", json=body, headers=b)
    c = client.patch(f"{STA}/Things({world.b_thing})", json={"Locations": [{"@iot.id": UNKNOWN}]}, headers=b)
    assert a.status_code == c.status_code == 404
    assert a.json()["detail"].replace(str(world.secret_location), "N") == c.json()["detail"].replace(str(UNKNOWN), "N")


def test_a_moved_restricted_thing_keeps_its_old_location_hidden(client, world):
    a = world.headers["editor-a"]
    new = _ok(client.post(f"{STA}/Locations", json=location(5.2, 52.1), headers=a), 201)["@iot.id"]
    r = client.patch(f"{STA}/Things({world.secret_thing})", json={"Locations": [{"@iot.id": new}]}, headers=a)
    assert r.status_code == 200, r.text
    for who in ("anonymous", "member-b", "editor-b"):
        h = world.headers[who]
        _same_as_unknown(client, "Locations({})", world.secret_location, h)
        ids = {x["@iot.id"] for x in _ok(client.get(f"{STA}/Locations", params={"$top": 1000}, headers=h))["value"]}
        assert world.secret_location not in ids
    got = _ok(client.get(f"{STA}/Locations({world.secret_location})", headers=world.headers["member-a"]))
    assert _coords(got, "location") == SECRET


def test_a_deleted_things_locations_and_features_keep_class_precision_and_owner(client, world):
    a = world.headers["editor-a"]
    for t in (world.secret_thing, world.coarse_thing):
        assert client.delete(f"{STA}/Things({t})", headers=a).status_code == 200
    for who in ("anonymous", "member-b", "editor-b"):
        h = world.headers[who]
        _same_as_unknown(client, "Locations({})", world.secret_location, h)
        _same_as_unknown(client, "FeaturesOfInterest({})", world.secret_feature, h)
        got = _ok(client.get(f"{STA}/Locations({world.coarse_location})", headers=h))
        assert _coords(got, "location") == snap_point(*EXACT, 1000)
        got = _ok(client.get(f"{STA}/FeaturesOfInterest({world.coarse_feature})", headers=h))
        assert _coords(got, "feature") == snap_point(*EXACT, 1000)
    # the owner still reads them exactly, and another organisation may not take them
    m = world.headers["member-a"]
    assert _coords(_ok(client.get(f"{STA}/Locations({world.secret_location})", headers=m)), "location") == SECRET
    assert _coords(_ok(client.get(f"{STA}/Locations({world.coarse_location})", headers=m)), "location") == EXACT
    r = client.patch(f"{STA}/Things({world.b_thing})", json={"Locations": [{"@iot.id": world.coarse_location}]},
                     headers=world.headers["editor-b"])
    assert r.status_code == 403, r.text


def test_features_of_a_restricted_thing_stay_hidden_after_retention(client, world, db):
    from stadslab.sensorthings.storage.retention import enforce_observation_retention

    with db.session() as s:
        report = enforce_observation_retention(s, days=1)
        s.commit()
    assert report.observations_removed >= 4
    for who in ("anonymous", "member-b"):
        h = world.headers[who]
        _same_as_unknown(client, "FeaturesOfInterest({})", world.secret_feature, h)
        got = _ok(client.get(f"{STA}/FeaturesOfInterest({world.coarse_feature})", headers=h))
        assert _coords(got, "feature") == snap_point(*EXACT, 1000)
    got = _ok(client.get(f"{STA}/FeaturesOfInterest({world.secret_feature})", headers=world.headers["member-a"]))
    assert _coords(got, "feature") == SECRET


def test_an_orphan_keeps_its_owners_precision_when_the_public_copies_are_recomputed(db, client, world):
    """Copies are recomputed when the configured defaults change; an orphan then has no Thing to
    take its precision from, and must not fall to the (finer) sensitive default."""
    from fastapi.testclient import TestClient

    from stadslab.app import create_app
    from stadslab.core.config import Settings

    assert client.delete(f"{STA}/Things({world.coarse_thing})", headers=world.headers["editor-a"]).status_code == 200
    settings = Settings(database_url=db.url, public_location_precision_sensitive_m=10)
    with TestClient(create_app(settings, db=db)) as other:
        for path, key in ((f"Locations({world.coarse_location})", "location"),
                          (f"FeaturesOfInterest({world.coarse_feature})", "feature")):
            assert _coords(_ok(other.get(f"{STA}/{path}")), key) == snap_point(*EXACT, 1000), path


def test_a_thing_made_restricted_later_passes_that_on_to_its_orphans(client, world):
    a = world.headers["editor-a"]
    register = _ok(client.get(f"{STA}/Things({world.coarse_thing})", headers=a))["properties"]["register"]
    closed = {"properties": {"register": {**register, "access_class": "restricted"}}}
    assert client.patch(f"{STA}/Things({world.coarse_thing})", json=closed, headers=a).status_code == 200
    assert client.delete(f"{STA}/Things({world.coarse_thing})", headers=a).status_code == 200
    for who in ("anonymous", "member-b"):
        _same_as_unknown(client, "Locations({})", world.coarse_location, world.headers[who])
        _same_as_unknown(client, "FeaturesOfInterest({})", world.coarse_feature, world.headers[who])
    assert _coords(_ok(client.get(f"{STA}/Locations({world.coarse_location})", headers=world.headers["member-a"])),
                   "location") == EXACT
