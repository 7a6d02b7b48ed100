"""OGC API – Features: read with OWSLib against a live server, plus parameters, errors and HTML."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import require_service
from tests.factories import create, lab_payload, project_payload
from tests.interop.conftest import make_thing


@pytest.fixture
def features(admin_client, db):
    utrecht_lab = create(admin_client, "living-labs", lab_payload(
        name="Lab Utrecht", city="GM0344", geometry={"type": "Point", "coordinates": [5.12, 52.09]}))
    create(admin_client, "living-labs", lab_payload(name="Lab Eindhoven"))
    create(admin_client, "projects", project_payload(title="In Utrecht lab", living_lab_id=utrecht_lab["id"],
                                                     start_date="2024-01-01", end_date="2024-12-31"))
    create(admin_client, "projects", project_payload(title="Rotterdam", city="GM0599", start_date="2026-01-01",
                                                     end_date="2026-06-30"))
    with db.session() as s:
        make_thing(s, name="Open Utrecht", lon=5.11, lat=52.1)
        make_thing(s, name="Besloten", access_class="restricted", lon=5.11, lat=52.1)
    return utrecht_lab


def test_owslib_reads_the_api(live_server, features):
    from owslib.ogcapi.features import Features

    api = Features(f"{live_server}/ogcapi")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    ids = [c["id"] for c in api.collections()["collections"]]
    assert ids == ["living-labs", "projects", "sensors", "infrastructure", "coverage-lorawan"]
    labs = api.collection_items("living-labs")
    assert labs["numberMatched"] == 2
    names = {f["properties"]["name"] for f in labs["features"]}
    assert names == {"Lab Utrecht", "Lab Eindhoven"}
    utrecht = api.collection_items("living-labs", bbox=[5.0, 52.0, 5.3, 52.2])
    assert [f["properties"]["name"] for f in utrecht["features"]] == ["Lab Utrecht"]
    sensors = api.collection_items("sensors")
    assert [f["properties"]["name"] for f in sensors["features"]] == ["Open Utrecht"]
    one = api.collection_item("living-labs", str(features["id"]))
    assert one["properties"]["name"] == "Lab Utrecht"
    meta = api.collection("projects")
    assert meta["extent"]["spatial"]["bbox"][0][0] < meta["extent"]["spatial"]["bbox"][0][2]


def test_paging_with_next_links(client, features):
    r = client.get("/ogcapi/collections/living-labs/items?limit=1")
    body = r.json()
    assert r.headers["content-type"] == "application/geo+json"
    assert body["numberReturned"] == 1 and body["numberMatched"] == 2
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    second = client.get(nxt.replace("http://testserver", "")).json()
    assert second["numberReturned"] == 1 and not any(link["rel"] == "next" for link in second["links"])
    assert {body["features"][0]["id"], second["features"][0]["id"]} == {f["id"] for f in
                                                                          client.get("/ogcapi/collections/living-labs/items").json()["features"]}
    assert client.get("/ogcapi/collections/living-labs/items?limit=100000").json()["numberReturned"] == 2


def test_datetime_intervals(client, features):
    def titles(q):
        r = client.get(f"/ogcapi/collections/projects/items?datetime={q}")
        assert r.status_code == 200, r.text
        return sorted(f["properties"]["title"] for f in r.json()["features"])

    assert titles("2024-06-01T00:00:00Z") == ["In Utrecht lab"]
    assert titles("2025-01-01T00:00:00Z/..") == ["Rotterdam"]
    assert titles("../2024-02-01T00:00:00Z") == ["In Utrecht lab"]
    assert titles("/2030-01-01") == ["In Utrecht lab", "Rotterdam"]
    assert titles("2025-01-01/2025-02-01") == []
    sensors = client.get("/ogcapi/collections/sensors/items?datetime=2030-01-01T00:00:00Z").json()
    assert sensors["numberMatched"] == 0  # active until 2025


@pytest.mark.parametrize("query,param", [
    ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=0,0,200,10", "bbox"), ("bbox=10,0,5,10", "bbox"),
    ("bbox=" + "1," * 500 + "1", "bbox"), ("bbox=0,0,0,1,1,1", "bbox"), ("bbox=nan,0,1,1", "bbox"),
    ("datetime=yesterday", "datetime"), ("datetime=2024-01-01T00:00:00", "datetime"),
    ("datetime=2025-01-01/2024-01-01", "datetime"), ("datetime=../..", "datetime"), ("datetime=a/b/c", "datetime"),
    ("datetime=" + "9" * 300, "datetime"), ("limit=0", "limit"), ("limit=abc", "limit"), ("offset=-1", "offset"),
    ("colour=red", "colour"), ("bbox-crs=EPSG:28992", "bbox-crs"), ("f=xml", "f"),
])
def test_bad_parameters_are_400_naming_them(client, features, query, param):
    r = client.get(f"/ogcapi/collections/living-labs/items?{query}")
    assert r.status_code == 400, (query, r.text)
    assert r.json()["errors"][0]["field"] == param


def test_unknown_collection_and_feature(client, features):
    assert client.get("/ogcapi/collections/unicorns").status_code == 404
    assert client.get("/ogcapi/collections/living-labs/items/999999").status_code == 404
    assert client.get("/ogcapi/collections/living-labs/items/abc").status_code == 404
    restricted = client.get("/ogcapi/collections/sensors/items").json()
    assert all(f["properties"]["access_class"] == "open" for f in restricted["features"])


def test_html_pages(client, features):
    for path in ("/ogcapi?f=html", "/ogcapi/collections?f=html", "/ogcapi/collections/living-labs/items?f=html",
                 f"/ogcapi/collections/living-labs/items/{features['id']}?f=html"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert '<html lang="' in r.text and "<main" in r.text and "Content-Security-Policy" in r.headers
    assert "Lab Utrecht" in client.get("/ogcapi/collections/living-labs/items?f=html").text
    assert client.get("/ogcapi", headers={"accept": "text/html"}).headers["content-type"].startswith("text/html")


def test_gdal_ogr_reads_the_api(live_server, features):
    """GDAL's OAPIF driver (ogrinfo, Debian's gdal-bin, installed by .ci/run) as a second client."""
    if shutil.which("ogrinfo") is None:
        require_service("ogrinfo (gdal-bin) not installed")
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-al", f"OAPIF:{live_server}/ogcapi", "living-labs"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Feature Count: 2" in out.stdout


def test_parameter_parsers_only_ever_say_400():
    """Whatever text arrives, bbox/datetime parsing gives a value or a BadRequest, never another error."""
    from hypothesis import given, settings, strategies as st

    from stadslab.core.errors import BadRequest
    from stadslab.interop.features import parse_bbox, parse_datetime

    alphabet = st.sampled_from(list("0123456789-+:.,/TZ ez.n") + ["..", "nan", "inf", "9999"])
    text = st.one_of(st.text(max_size=60), st.lists(alphabet, max_size=30).map("".join))

    @settings(max_examples=400, deadline=None)
    @given(text)
    def check(value):
        for parse in (parse_bbox, parse_datetime):
            try:
                parse(value)
            except BadRequest as exc:
                assert exc.errors and exc.errors[0]["field"] in ("bbox", "datetime")

    check()
