"""CSV/Excel/GeoJSON exports: same rows and filters as the list API, streamed, formula-safe."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.factories import create, lab_payload, organisation_payload, project_payload, solution_payload
from tests.interop.conftest import call_payload, event_payload

NAMES = ("projects", "living-labs", "solutions", "adoptions", "organisations", "coalitions", "events",
         "funding-calls")


def _csv(client, path: str) -> list[dict]:
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def _xlsx(client, path: str) -> list[dict]:
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(r.content), read_only=True).active
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


@pytest.fixture
def registry(admin_client, programme):
    org = create(admin_client, "organisations", organisation_payload(name="=cmd|' /C calc'!A0"))
    lab = create(admin_client, "living-labs", lab_payload(themes=["mobility"]))
    p1 = create(admin_client, "projects", project_payload(title="+SUM(1,2) fietsen", themes=["mobility"],
                                                          living_lab_id=lab["id"]))
    p2 = create(admin_client, "projects", project_payload(title="Warmte", themes=["energy-transition"],
                                                          city="GM0599"))
    sol = create(admin_client, "solutions", solution_payload(themes=["mobility"], origin_project_id=p1["id"]))
    create(admin_client, "adoptions", {"solution_id": sol["id"], "city": "GM0363", "status": "adopted"})
    create(admin_client, "coalitions", {"title": "Coalitie slimme mobiliteit", "lead_city": "GM0344",
                                        "cities": ["GM0363"], "themes": ["mobility"]})
    create(admin_client, "events", event_payload(title="@SUM(A1) expo"))
    create(admin_client, "funding-calls", call_payload(title="-1+1 call"))
    return {"org": org, "lab": lab, "p1": p1, "p2": p2}


def test_every_list_exports_csv_and_xlsx(admin_client, registry):
    for name in NAMES:
        listed = admin_client.get(f"/api/v1/{name}?limit=500").json()
        total = listed["total"] if isinstance(listed, dict) else len(listed)
        rows = _csv(admin_client, f"/api/v1/{name}.csv")
        assert len(rows) == total >= 1, name
        assert len(_xlsx(admin_client, f"/api/v1/{name}.xlsx")) == total, name


@pytest.mark.parametrize("query", ["theme=mobility", "city=GM0599", "status=pilot", "q=fiets", "theme=energy-transition"])
def test_project_filters_match_the_api(admin_client, registry, query):
    api = [p["id"] for p in admin_client.get(f"/api/v1/projects?{query}&limit=500").json()["items"]]
    rows = _csv(admin_client, f"/api/v1/projects.csv?{query}")
    assert [int(r["id"]) for r in rows] == api


def test_unknown_theme_or_city_is_422_before_streaming(admin_client, registry):
    for name in ("projects", "living-labs", "events", "funding-calls"):
        r = admin_client.get(f"/api/v1/{name}.csv?theme=quantum")
        assert r.status_code == 422, (name, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert admin_client.get("/api/v1/projects.xlsx?city=Atlantis").status_code == 422
    assert admin_client.get("/api/v1/projects.pdf").status_code == 422


def test_formula_injection_is_defused(admin_client, registry):
    titles = [r["title"] for r in _csv(admin_client, "/api/v1/projects.csv")]
    assert "'+SUM(1,2) fietsen" in titles
    orgs = [r["name"] for r in _csv(admin_client, "/api/v1/organisations.csv")]
    assert "'=cmd|' /C calc'!A0" in orgs
    assert _csv(admin_client, "/api/v1/events.csv")[0]["title"] == "'@SUM(A1) expo"
    assert _csv(admin_client, "/api/v1/funding-calls.csv")[0]["title"] == "'-1+1 call"
    r = admin_client.get("/api/v1/projects.xlsx")
    ws = load_workbook(io.BytesIO(r.content)).active
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "SUM" in c.value]
    assert cells and all(c.data_type == "s" and c.value.startswith("'") for c in cells)
    # numbers stay numbers
    budget_col = [c.value for c in ws[1]].index("budget_eur")
    assert isinstance(ws.cell(row=2, column=budget_col + 1).value, (int, float))


def test_geojson_exports(admin_client, registry):
    r = admin_client.get("/api/v1/living-labs.geojson")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["features"][0]["geometry"]["type"] == "Point"
    projects = admin_client.get("/api/v1/projects.geojson").json()["features"]
    by_id = {f["id"]: f for f in projects}
    # project in a lab: the lab's point; otherwise the municipality centroid
    assert by_id[registry["p1"]["id"]]["geometry"]["coordinates"] == pytest.approx([5.4697, 51.4416])
    assert by_id[registry["p2"]["id"]]["properties"]["geometry_source"] == "municipality centroid"
    only = admin_client.get("/api/v1/projects.geojson?city=GM0599").json()["features"]
    assert [f["id"] for f in only] == [registry["p2"]["id"]]


def test_streamed_in_batches_without_buffering(admin_client, db, monkeypatch):
    """More rows than one batch and than one chunk: the CSV arrives in several chunks, all rows present."""
    from stadslab.interop import exports
    from stadslab.network.models import Organisation

    monkeypatch.setattr(exports, "BATCH", 50)
    with db.session() as s:
        s.add_all([Organisation(name=f"Org {i:04d}", description="x" * 300, kind="company") for i in range(600)])
        s.commit()
    with admin_client.stream("GET", "/api/v1/organisations.csv") as r:
        chunks = list(r.iter_bytes())
    assert len(chunks) > 1
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    assert len(rows) == 600 and rows[0]["name"].startswith("Org 0000")


def test_observations_csv_respects_access_class(client, db):
    from tests.interop.conftest import make_thing
    from stadslab.sensorthings.model.tables import Datastream

    with db.session() as s:
        open_id = make_thing(s, name="Open", observations=3)
        closed_id = make_thing(s, name="Closed", access_class="restricted", observations=2)
        ds_open = s.query(Datastream).filter_by(thing_id=open_id).one().id
        ds_closed = s.query(Datastream).filter_by(thing_id=closed_id).one().id
    rows = _csv(client, f"/api/v1/datastreams/{ds_open}/observations.csv")
    assert len(rows) == 3 and rows[0]["result"].startswith("'=")
    assert client.get(f"/api/v1/datastreams/{ds_closed}/observations.csv").status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/projects.csv?living_lab=-84829887716502",
                                  "/api/v1/projects.csv?living_lab=2147483648",
                                  "/api/v1/adoptions.xlsx?solution=28629071636",
                                  "/api/v1/projects.geojson?living_lab=0"])
def test_an_id_out_of_range_is_a_422_before_streaming(client, path):
    """Found by the role fuzzer: on PostgreSQL such an id failed only after the 200 went out,
    so the client got a cut-off file. Now it is refused at the door, naming the parameter."""
    r = client.get(path)
    assert r.status_code == 422, r.text
    assert path.split("?")[1].split("=")[0] in r.text


@pytest.mark.parametrize("path", ["/api/v1/living-labs.csv", "/api/v1/living-labs.xlsx",
                                  "/api/v1/living-labs.geojson"])
def test_lab_exports_refuse_an_unknown_infrastructure_filter(client, path):
    """The exports filter as the lab list does: an unknown value is a 400 naming it, never ignored."""
    r = client.get(path, params={"infrastructure": ["5g", "glasvezel-x"]})
    assert r.status_code == 400, r.text
    assert "glasvezel-x" in r.text and "infrastructure" in r.text and "5g" in r.json()["detail"]
    assert client.get(path, params={"infrastructure": "5g"}).status_code == 200
