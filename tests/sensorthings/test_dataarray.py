"""DataArray extension (OGC 18-088 A.6): CreateObservations and $resultFormat=dataArray."""

from __future__ import annotations

import pytest

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import COMPLEX, MEASUREMENT, STA, counts, get, new_thing, observed_property, post, sensor, thing


def _create(client, body):
    return client.post(f"{STA}/CreateObservations", json=body)


def test_create_observations_returns_self_links_and_errors(client):
    ids = new_thing(client, n_obs=0)
    r = _create(client, [{"Datastream": {"@iot.id": ids["datastream"]},
                          "components": ["phenomenonTime", "result", "resultTime"],
                          "dataArray": [["2024-06-01T10:00:00Z", 20, "2024-06-01T10:00:05Z"],
                                        ["not a time", 21, None],
                                        ["2024-06-01T10:10:00Z", 22],
                                        ["2024-06-01T10:20:00Z", 23, None]]}])
    assert r.status_code == 201
    links = r.json()
    assert links[1] == "error" and links[2] == "error"
    assert links[0].startswith(f"http://testserver{STA}/Observations(") and links[3].startswith("http://")
    stored = get(client, f"Datastreams({ids['datastream']})/Observations", **{"$orderby": "phenomenonTime"})["value"]
    assert [(o["result"], o["resultTime"]) for o in stored] == [(20, "2024-06-01T10:00:05Z"), (23, None)]
    assert stored[0]["@iot.selfLink"] == links[0]
    assert get(client, f"Datastreams({ids['datastream']})")["phenomenonTime"] == \
        "2024-06-01T10:00:00Z/2024-06-01T10:20:00Z"


def test_feature_of_interest_component_and_generated_feature(client):
    ids = new_thing(client, n_obs=0)
    foi = post(client, "FeaturesOfInterest", {"name": "kruispunt", "description": "d",
                                              "encodingType": "application/geo+json",
                                              "feature": {"type": "Point", "coordinates": [5, 52]}})
    r = _create(client, [
        {"Datastream": {"@iot.id": ids["datastream"]}, "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
         "dataArray": [["2024-06-01T10:00:00Z", 1, foi["@iot.id"]], ["2024-06-01T11:00:00Z", 2, 99999]]},
        {"Datastream": {"@iot.id": ids["datastream"]}, "components": ["result"], "dataArray": [[3], [4]]}])
    assert r.status_code == 201
    links = r.json()
    assert links[1] == "error" and all(l.startswith("http") for l in (links[0], links[2], links[3]))
    fois = {get(client, f"Observations({l.rsplit('(', 1)[1][:-1]})/FeatureOfInterest")["@iot.id"]
            for l in (links[2], links[3])}
    assert len(fois) == 1 and foi["@iot.id"] not in fois  # generated from the Thing's Location


def test_structural_errors_create_nothing(client):
    ids = new_thing(client, n_obs=0)
    before = counts(client)
    good = {"Datastream": {"@iot.id": ids["datastream"]}, "components": ["phenomenonTime", "result"],
            "dataArray": [["2024-06-01T10:00:00Z", 1]]}
    bad_bodies = [
        ({**good, "components": ["phenomenonTime", "colour"]}, 400, "components"),
        ({**good, "components": ["phenomenonTime"]}, 400, "result"),
        ({**good, "Datastream": {"@iot.id": 424242}}, 404, "424242"),
        ({**good, "dataArray": "1,2"}, 400, "dataArray"),
        ({"components": ["result"], "dataArray": [[1]]}, 400, "Datastream"),
    ]
    for bad, status, word in bad_bodies:
        r = _create(client, [good, bad])
        assert r.status_code == status, (bad, r.text)
        assert word in r.text
    assert _create(client, {"not": "a list"}).status_code == 400
    assert counts(client) == before


def test_multi_datastream_rows(client):
    t = post(client, "Things", thing(Locations=[{"name": "l", "description": "d", "encodingType": "application/geo+json",
                                                 "location": {"type": "Point", "coordinates": [4, 52]}}]))
    md = post(client, "MultiDatastreams", {
        "name": "wind", "description": "d", "observationType": COMPLEX,
        "unitOfMeasurements": [{"name": "m/s"}, {"name": "deg"}], "multiObservationDataTypes": [MEASUREMENT] * 2,
        "Thing": {"@iot.id": t["@iot.id"]}, "Sensor": sensor(),
        "ObservedProperties": [observed_property("v"), observed_property("r")]})
    r = _create(client, [{"MultiDatastream": {"@iot.id": md["@iot.id"]}, "components": ["phenomenonTime", "result"],
                          "dataArray": [["2024-01-01T00:00:00Z", [3, 180]], ["2024-01-01T00:01:00Z", [3]]]}])
    assert r.status_code == 201
    assert r.json()[1] == "error"
    body = get(client, f"MultiDatastreams({md['@iot.id']})/Observations", **{"$resultFormat": "dataArray"})
    assert body["value"][0]["MultiDatastream@iot.navigationLink"].endswith(f"MultiDatastreams({md['@iot.id']})")
    assert body["value"][0]["dataArray"][0][-1] == [3, 180]


def test_read_as_data_array_grouped_per_datastream(client):
    a, b = new_thing(client, n_obs=2), new_thing(client, n_obs=3)
    body = get(client, "Observations", **{"$resultFormat": "dataArray", "$select": "result,phenomenonTime",
                                          "$count": "true"})
    assert body["@iot.count"] == 5
    groups = {g["Datastream@iot.navigationLink"].rsplit("(", 1)[1][:-1]: g for g in body["value"]}
    assert set(groups) == {str(a["datastream"]), str(b["datastream"])}
    g = groups[str(b["datastream"])]
    assert g["components"] == ["result", "phenomenonTime"]
    assert g["dataArray@iot.count"] == 3
    assert g["dataArray"][0] == [10, "2024-05-01T10:00:00Z"]
    paged = get(client, "Observations", **{"$resultFormat": "dataArray", "$top": "2"})
    assert "@iot.nextLink" in paged and "dataArray" in paged["@iot.nextLink"]
    r = client.get(f"{STA}/Things", params={"$resultFormat": "dataArray"})
    assert r.status_code == 400


@pytest.fixture
def pg_client(_databases):
    """PostgreSQL only: row locks held to the commit are what deadlock there (SQLite has one writer
    at a time, and a second concurrent writer gets "database is locked", answered as 503 + Retry-After)."""
    from fastapi.testclient import TestClient

    from stadslab.app import create_app
    from stadslab.core.config import Settings
    from tests.conftest import PG_URL, empty_tables, require_service
    from tests.governance.factories import auth_headers, make_token, make_user

    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set: this deadlock exists on PostgreSQL only")
    database = _databases.get("postgresql")
    try:
        with database.session() as s:
            user = make_user(s, "admin")
            headers = auth_headers(make_token(s, user))
            from stadslab.governance.authn import principal_for_user
            principal = principal_for_user(user, "token")
        with TestClient(create_app(Settings(database_url=database.url), db=database), headers=headers) as c:
            yield c, database, principal
    finally:
        empty_tables(database)


def test_concurrent_requests_naming_streams_in_opposite_orders_do_not_deadlock(pg_client):
    """Each request locks the stream rows it summarises until it commits; taken in request order,
    [A, B] and [B, A] at once deadlock on PostgreSQL. They are taken in id order."""
    import threading

    from stadslab.sensorthings.write import dataarray
    from stadslab.sensorthings.read.serialize import Links

    client, db, admin_principal = pg_client

    streams = [new_thing(client, n_obs=0)["datastream"] for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(2, timeout=60)

    def body(order: list[int], n: int) -> list[dict]:
        return [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
                 "dataArray": [[f"2024-07-0{1 + n % 9}T{h:02d}:00:00Z", h] for h in range(20)]} for ds in order]

    def writer(order: list[int]) -> None:
        try:
            start.wait()
            for n in range(8):
                with db.session() as s:
                    out = dataarray.create(s, body(order, n), Links("http://x/sta/v1.1"), principal=admin_principal)
                    assert "error" not in out
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(o,)) for o in (streams, streams[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for ds in streams:
        assert get(client, f"Datastreams({ds})/Observations", **{"$count": "true", "$top": "0"})["@iot.count"] == 320


def test_gateway_body_costs_per_row_not_per_item(client, db):
    """Issue #18: a gateway's body (many Datastreams, a few rows each) is one insert of all its
    rows, and the per-item look-ups (stream, Thing) are one statement per request, not per item."""

    from .helpers import datastream, location
    from .test_performance_plans import captured

    t = post(client, "Things", thing(Locations=[location()]))["@iot.id"]
    streams = [post(client, f"Things({t})/Datastreams", datastream())["@iot.id"] for _ in range(20)]
    other = post(client, "Things", thing(Locations=[location(5.0, 52.0)]))["@iot.id"]
    streams.append(post(client, f"Things({other})/Datastreams", datastream())["@iot.id"])

    def body(hour: int) -> list[dict]:
        return [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
                 "dataArray": [[f"2024-06-01T{hour:02d}:{m:02d}:00Z", ds * 100 + m] for m in range(3)]}
                for ds in streams]

    assert client.post(f"{STA}/CreateObservations", json=body(0)).status_code == 201  # FoIs made
    with captured(db) as statements:
        r = client.post(f"{STA}/CreateObservations", json=body(1))
    assert r.status_code == 201
    links = r.json()
    assert len(links) == 63 and all(link.startswith("http") for link in links)
    # SQLite: the INSERT executemany; PostgreSQL: the ids drawn for the COPY (which the driver sends)
    inserts = [s for s, _ in statements if "INSERT INTO sta_observations" in s
               or "nextval(pg_get_serial_sequence('sta_observations'" in s]
    assert len(inserts) == 1, inserts
    per_item = [s for s, _ in statements if s.lstrip().startswith("SELECT sta_datastreams.thing_id")
                or (s.lstrip().startswith("SELECT sta_datastreams.id") and "IN (" not in s)]
    assert per_item == [], per_item[:3]
    # every row got its own id, in body order, and reads back with its stream
    ids = [int(link.rsplit("(", 1)[1].rstrip(")")) for link in links]
    assert ids == sorted(ids) and len(set(ids)) == 63
    for n, ds in enumerate(streams):
        got = get(client, f"Datastreams({ds})/Observations", **{"$filter": "phenomenonTime ge 2024-06-01T01:00:00Z",
                                                                 "$orderby": "phenomenonTime"})["value"]
        assert [o["result"] for o in got] == [ds * 100 + m for m in range(3)]
        assert [o["@iot.id"] for o in got] == ids[3 * n:3 * n + 3]
