"""Public location precision (register ``locationPrecision``): owners and administrators see exact
positions, everyone else the grid cell's centre, in every output and in every query.

One Thing of organisation "owner" at EXACT with a 1000 m precision, a Location, a HistoricalLocation,
a Datastream with Observations (so a generated FeatureOfInterest and an observedArea). Viewers:
anonymous, a member and an editor of another organisation, a member of the owner and an administrator.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import pytest

from stadslab.sensorthings.access.precision import snap_point
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user

from .helpers import STA, datastream, location, thing

EXACT = [4.8951234, 52.3704567]
COARSE = snap_point(*EXACT, 1000)
EXACT_VIEWERS = ("member-owner", "admin")
COARSE_VIEWERS = ("anonymous", "member-other", "editor-other")
VIEWERS = EXACT_VIEWERS + COARSE_VIEWERS


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    thing: int
    location: int
    datastream: int
    feature: int
    owner: int


def _ok(r):
    assert r.status_code == 200, r.text
    return r.json()


def _register(owner: int, **extra) -> dict:
    return {"register": {"owner": {"organisation_id": owner}, "purpose": "fijnstof meten", **extra}}


@pytest.fixture
def world(db, admin_client) -> World:
    with db.session() as s:
        owner, other = make_organisation(s), make_organisation(s)
        headers = {"anonymous": {}, "admin": dict(admin_client.headers)}
        for name, role, org in (("member-other", "member", other), ("editor-other", "editor", other),
                                ("member-owner", "member", owner)):
            headers[name] = auth_headers(make_token(s, make_user(s, role, org, password=None)))
    obs = [{"phenomenonTime": f"2024-05-01T1{i}:00:00Z", "result": i} for i in range(3)]
    r = admin_client.post(f"{STA}/Things", json=thing(
        properties=_register(owner.id, locationPrecision=1000),
        Locations=[location(*EXACT)], Datastreams=[datastream(Observations=obs)]))
    assert r.status_code == 201, r.text
    t = r.json()["@iot.id"]
    loc = _ok(admin_client.get(f"{STA}/Things({t})/Locations"))["value"][0]["@iot.id"]
    ds = _ok(admin_client.get(f"{STA}/Things({t})/Datastreams"))["value"][0]["@iot.id"]
    first = _ok(admin_client.get(f"{STA}/Datastreams({ds})/Observations"))["value"][0]["@iot.id"]
    foi = _ok(admin_client.get(f"{STA}/Observations({first})/FeatureOfInterest"))["@iot.id"]
    return World(headers, t, loc, ds, foi, owner.id)


@pytest.fixture
def viewers(client, world):
    def each(names=VIEWERS):
        for who in names:
            client.headers.clear()
            client.headers.update(world.headers[who])
            yield who, client
    return each


def _expected(who: str) -> list[float]:
    return EXACT if who in EXACT_VIEWERS else COARSE


def _coords(geometry) -> list[float]:
    if geometry.get("type") == "Feature":
        geometry = geometry["geometry"]
    assert geometry["type"] == "Point", geometry
    return geometry["coordinates"]


def test_the_grid_is_deterministic_and_about_the_chosen_size():
    assert snap_point(*EXACT, 1000) == snap_point(EXACT[0] + 0.001, EXACT[1] + 0.001, 1000)
    lon, lat = COARSE
    assert abs(lat - EXACT[1]) * 111_320 <= 500 and abs(lon - EXACT[0]) * 111_320 * math.cos(math.radians(lat)) <= 500
    assert COARSE != EXACT


def test_every_sta_output_is_exact_for_owners_and_coarse_for_others(viewers, world):
    for who, c in viewers():
        want = _expected(who)
        t, loc, ds, foi = world.thing, world.location, world.datastream, world.feature
        assert _coords(_ok(c.get(f"{STA}/Locations({loc})"))["location"]) == want, who
        assert _coords(_ok(c.get(f"{STA}/Locations({loc})/location"))["location"]) == want, who
        assert _coords(_ok(c.get(f"{STA}/Locations({loc})", params={"$select": "location"}))["location"]) == want
        [listed] = [v for v in _ok(c.get(f"{STA}/Locations"))["value"] if v["@iot.id"] == loc]
        assert _coords(listed["location"]) == want, who
        expanded = _ok(c.get(f"{STA}/Things({t})", params={"$expand": "Locations($select=location)"}))
        assert _coords(expanded["Locations"][0]["location"]) == want, who
        hist = _ok(c.get(f"{STA}/Things({t})/HistoricalLocations", params={"$expand": "Locations"}))["value"]
        assert hist and all(_coords(h["Locations"][0]["location"]) == want for h in hist), who
        assert _coords(_ok(c.get(f"{STA}/FeaturesOfInterest({foi})"))["feature"]) == want, who
        via_obs = _ok(c.get(f"{STA}/Datastreams({ds})/Observations", params={"$expand": "FeatureOfInterest"}))
        assert all(_coords(o["FeatureOfInterest"]["feature"]) == want for o in via_obs["value"]), who
        area = _ok(c.get(f"{STA}/Datastreams({ds})/observedArea"))["observedArea"]
        assert _coords(area) == want, who


def test_register_json_geojson_and_csv(viewers, world):
    for who, c in viewers():
        want = _expected(who)
        [item] = [i for i in _ok(c.get("/api/v1/sensor-register"))["items"] if i["id"] == world.thing]
        assert item["geometry"]["coordinates"] == want and item["location_precision_m"] == 1000, who
        [feature] = [f for f in _ok(c.get("/api/v1/sensor-register.geojson"))["features"] if f["id"] == world.thing]
        assert feature["geometry"]["coordinates"] == want, who
        rows = list(csv.DictReader(io.StringIO(c.get("/api/v1/sensor-register.csv").text)))
        [row] = [r for r in rows if r["id"] == str(world.thing)]
        assert [float(row["longitude"]), float(row["latitude"])] == want, who
        assert row["location_precision_m"] == "1000"


def test_ogc_api_and_web_pages_never_carry_the_exact_position(viewers, world):
    exact_text = str(EXACT[0])
    for who, c in viewers(COARSE_VIEWERS):
        item = _ok(c.get(f"/ogcapi/collections/sensors/items/{world.thing}"))
        assert item["geometry"]["coordinates"] == COARSE, who
        items = _ok(c.get("/ogcapi/collections/sensors/items"))
        assert exact_text not in str(items)
    page = viewers(["anonymous"])
    _, c = next(page)
    for path in ("/sensoren", f"/sensoren/{world.thing}"):
        html = c.get(path, headers={"Accept": "text/html"})
        assert html.status_code == 200, path
        assert exact_text not in html.text and str(COARSE[0]) in html.text, path


def _probe(c, path: str, condition: str) -> bool:
    return bool(_ok(c.get(f"{STA}/{path}", params={"$filter": condition}))["value"])


def _bisect(test, low: float, high: float, steps: int = 40) -> float:
    """The boundary where ``test`` switches from False (below) to True."""
    for _ in range(steps):
        mid = (low + high) / 2
        low, high = (low, mid) if test(mid) else (mid, high)
    return high


def _box(x0: float, x1: float) -> str:
    return f"geography'POLYGON(({x0} 50, {x1} 50, {x1} 54, {x0} 54, {x0} 50))'"


def test_filters_cannot_recover_the_exact_position(viewers, world):
    """Binary search with geo.distance, st_within and geo.intersects, through every path a
    geometry is reachable by: only owners and administrators get below the grid."""
    here = f"geography'POINT({EXACT[0]} {EXACT[1]})'"
    for who, c in viewers():
        exact = who in EXACT_VIEWERS
        # how far is the stored position from the true one? (0 for owners)
        distance = _bisect(lambda r: _probe(c, "Locations", f"geo.distance(location, {here}) lt {r}"), 0, 1)
        coarse_gap = math.dist(EXACT, COARSE)
        assert (distance < 1e-9) if exact else abs(distance - coarse_gap) < 1e-9, (who, distance)
        # the western edge of the position, by shrinking boxes
        west = _bisect(lambda x: _probe(c, "Locations", f"st_within(location, {_box(4.0, x)})"), 4.0, 6.0)
        assert abs(west - (EXACT[0] if exact else COARSE[0])) < 1e-9, (who, west)
        for path, condition in (
                ("Things", f"Locations/any(l: geo.intersects(l/location, {here}))"),
                ("Things", f"HistoricalLocations/any(h: h/Locations/any(l: geo.distance(l/location, {here}) lt 1e-9))"),
                ("FeaturesOfInterest", f"geo.distance(feature, {here}) lt 1e-9"),
                ("Observations", f"geo.distance(FeatureOfInterest/feature, {here}) lt 1e-9"),
                ("Datastreams", f"geo.intersects(observedArea, {here})"),
                ("Locations", f"st_equals(location, {here})")):
            assert _probe(c, path, condition) is exact, (who, path, condition)


def test_precision_changes_apply_at_once_and_are_kept_when_omitted(viewers, world, admin_client):
    reg = _register(world.owner)
    r = admin_client.patch(f"{STA}/Things({world.thing})", json={"properties": reg})
    assert r.status_code == 200, r.text
    _, c = next(viewers(["anonymous"]))
    # omitted: still coarse (a PATCH of other register fields does not publish the exact position)
    assert _coords(_ok(c.get(f"{STA}/Locations({world.location})"))["location"]) == COARSE
    reg["register"]["locationPrecision"] = 0
    admin_client.patch(f"{STA}/Things({world.thing})", json={"properties": reg})
    assert _coords(_ok(c.get(f"{STA}/Locations({world.location})"))["location"]) == EXACT
    assert _probe(c, "Locations", f"st_equals(location, geography'POINT({EXACT[0]} {EXACT[1]})')")
    reg["register"]["locationPrecision"] = 100
    admin_client.patch(f"{STA}/Things({world.thing})", json={"properties": reg})
    assert _coords(_ok(c.get(f"{STA}/FeaturesOfInterest({world.feature})"))["feature"]) == snap_point(*EXACT, 100)
    moved = [5.1214, 52.0907]
    admin_client.patch(f"{STA}/Locations({world.location})", json={"location": {"type": "Point", "coordinates": moved}})
    assert _coords(_ok(c.get(f"{STA}/Locations({world.location})"))["location"]) == snap_point(*moved, 100)


@pytest.mark.parametrize("value", [37, -10, "100", True, 1.5])
def test_bad_precision_is_a_400_naming_the_field(admin_client, value):
    r = admin_client.post(f"{STA}/Things", json=thing(properties={"register": {"locationPrecision": value}}))
    assert r.status_code == 400, r.text
    assert "locationPrecision" in r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_defaults_coarsen_mobile_and_personal_data_sensors_only(client, admin_client):
    made = {}
    for name, extra in (("fixed", {"placement": "fixed"}), ("mobile", {"placement": "mobile"}),
                        ("personal", {"processes_personal_data": True, "legal_ground": "publieke taak",
                                      "purpose": "drukte", "retention": "1 dag"})):
        r = admin_client.post(f"{STA}/Things", json=thing(properties={"register": extra},
                                                          Locations=[location(*EXACT)]))
        assert r.status_code == 201, r.text
        made[name] = _ok(admin_client.get(f"{STA}/Things({r.json()['@iot.id']})/Locations"))["value"][0]["@iot.id"]
    seen = {k: _coords(_ok(client.get(f"{STA}/Locations({v})"))["location"]) for k, v in made.items()}
    assert seen == {"fixed": EXACT, "mobile": snap_point(*EXACT, 100), "personal": snap_point(*EXACT, 100)}
    # a Location no Thing claims has no owner to decide: the sensitive default
    r = admin_client.post(f"{STA}/Locations", json=location(*EXACT))
    assert _coords(_ok(client.get(r.headers["location"]))["location"]) == snap_point(*EXACT, 100)


def test_other_defaults_recompute_the_public_copies(db, client, admin_client):
    from fastapi.testclient import TestClient

    from stadslab.app import create_app
    from stadslab.core.config import Settings

    r = admin_client.post(f"{STA}/Things", json=thing(Locations=[location(*EXACT)]))  # fixed: default exact
    loc = _ok(admin_client.get(f"{STA}/Things({r.json()['@iot.id']})/Locations"))["value"][0]["@iot.id"]
    assert _coords(_ok(client.get(f"{STA}/Locations({loc})"))["location"]) == EXACT  # copy made and stored
    here = f"geography'POINT({EXACT[0]} {EXACT[1]})'"
    settings = Settings(database_url=db.url, public_location_precision_m=1000)
    with TestClient(create_app(settings, db=db)) as other:
        assert _coords(_ok(other.get(f"{STA}/Locations({loc})"))["location"]) == COARSE
        assert not _probe(other, "Locations", f"st_equals(location, {here})")


def test_anonymous_spatial_filter_uses_the_public_copy_index(db, world, client, session):
    """The coarsened copies have their own spatial index (migration 0013): a public map client's
    bbox query is an index scan, not a scan of every Location."""
    from stadslab.sensorthings.filter import index as filter_index

    from .test_performance_plans import analyze, captured, explain

    box = "geography'POLYGON((4 52, 6 52, 6 53, 4 53, 4 52))'"
    assert _ok(client.get(f"{STA}/Locations", params={"$filter": f"geo.intersects(location, {box})"}))["value"]
    filter_index.forget_capabilities(db.engine)
    assert {"sta_locations_public", "sta_features_of_interest_public"} <= filter_index.indexed_tables(session)
    analyze(db)
    with captured(db) as statements:
        found = _ok(client.get(f"{STA}/Locations", params={"$filter": f"geo.intersects(location, {box})"}))
    assert [_coords(v["location"]) for v in found["value"]] == [COARSE]
    statement, parameters = [(s, p) for s, p in statements if "FROM sta_locations" in s and "LIMIT" in s][-1]
    if db.dialect == "postgresql":
        # the indexed generated column, not GeoJSON parsed per row (on a table this small the planner
        # walks the primary key for ORDER BY id ... LIMIT, so the plan itself proves nothing here)
        assert "ST_Intersects(sta_locations.public_geom" in statement and "ST_GeomFromGeoJSON" not in statement
    else:
        plan = explain(db, statement, parameters, no_seqscan=True)
        assert any("sta_locations_public_rtree" in line and "VIRTUAL TABLE INDEX" in line for line in plan), plan
