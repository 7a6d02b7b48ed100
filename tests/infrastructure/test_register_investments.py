"""The infrastructure register (assets, filters, exports, catalogue), the investment agenda
(totals, gap, bad amounts, exports) and the neighbourhood import with coverage next to income."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from typer.testing import CliRunner

from tests.factories import AMSTERDAM, UTRECHT, create, lab_payload

from .uplinks import GW_A, tts_rx, tts_uplink


def asset(client, **over) -> dict:
    body = {"name": "5G-mast Zuidas", "type": "5g-site", "openness": "private", "status": "live",
            "geometry": {"type": "Point", "coordinates": [4.873, 52.338]}, **over}
    r = client.post("/api/v1/infrastructure", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_register_filters_exports_and_lab_links(admin_client):
    lab = create(admin_client, "living-labs", lab_payload())
    mast = asset(admin_client, living_lab_ids=[lab["id"]])
    assert mast["municipality_code"] == AMSTERDAM  # found from the position
    fibre = asset(admin_client, name="Glasvezel Utrecht-Oost", type="fibre", openness="open", status="building",
                  municipality_code=UTRECHT, geometry={"type": "Polygon", "coordinates": [[
                      [5.12, 52.08], [5.15, 52.08], [5.15, 52.10], [5.12, 52.10], [5.12, 52.08]]]})
    asset(admin_client, name="Wifi stadhuis", type="public-wifi", openness="open", status="planned", geometry=None)
    ids = lambda **p: [a["id"] for a in admin_client.get("/api/v1/infrastructure", params=p).json()["items"]]  # noqa
    assert ids(type="fibre") == [fibre["id"]]
    assert ids(municipality=AMSTERDAM) == [mast["id"]]
    assert ids(openness="open", status="building") == [fibre["id"]]
    assert len(ids(openness=["open", "private"])) == 3
    assert admin_client.get(f"/api/v1/infrastructure/{mast['id']}").json()["living_lab_ids"] == [lab["id"]]
    assert ids(living_lab=lab["id"]) == [mast["id"]]

    geo = admin_client.get("/api/v1/infrastructure.geojson", params={"type": "fibre"})
    assert geo.headers["content-type"].startswith("application/geo+json")
    assert [f["geometry"]["type"] for f in geo.json()["features"]] == ["Polygon"]
    rows = list(csv.DictReader(io.StringIO(admin_client.get("/api/v1/infrastructure.csv").text.lstrip("\ufeff"))))
    assert {r["name"] for r in rows} == {"5G-mast Zuidas", "Glasvezel Utrecht-Oost", "Wifi stadhuis"}
    assert admin_client.get("/api/v1/infrastructure.xlsx").status_code == 200
    assert admin_client.get("/api/v1/infrastructure.csv", params={"status": "gone"}).status_code == 400
    ogc = admin_client.get("/ogcapi/collections/infrastructure/items", params={"f": "json", "bbox": "5,52,5.2,52.2"})
    assert [f["id"] for f in ogc.json()["features"]] == [fibre["id"]]
    catalog = admin_client.get("/api/v1/catalog.jsonld").text
    assert "/api/v1/infrastructure.csv" in catalog and "/ogcapi/collections/infrastructure/items" in catalog

    # bad input names the field
    r = admin_client.post("/api/v1/infrastructure", json={"name": "x", "type": "satellite", "openness": "open"})
    assert r.status_code == 422 and "type" in r.text
    r = admin_client.post("/api/v1/infrastructure", json={"name": "x", "type": "other", "openness": "open",
                                                          "geometry": {"type": "Point", "coordinates": [400, 95]}})
    assert r.status_code == 422 and "geometry" in r.text
    r = admin_client.post("/api/v1/infrastructure", json={"name": "x", "type": "other", "openness": "open",
                                                          "living_lab_ids": [999999]})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-2] == "living_lab_ids"
    r = admin_client.post("/api/v1/infrastructure", json={"name": "x", "type": "lorawan-gateway",
                                                          "openness": "open", "gateway": "AA555A00000000FF"})
    assert r.status_code == 422 and "gateway" in r.text
    assert admin_client.patch(f"/api/v1/infrastructure/{mast['id']}", json={"status": "retired"}).json()[
        "status"] == "retired"
    assert admin_client.delete(f"/api/v1/infrastructure/{mast['id']}").status_code == 204
    assert admin_client.get(f"/api/v1/infrastructure/{mast['id']}").status_code == 404


def investment(**over) -> dict:
    return {"title": "LoRaWAN-netwerk Amsterdam-Noord", "technology": "lorawan-gateway", "phase": "committed",
            "cost_eur": 400000, "municipalities": [AMSTERDAM], "description": "Open LoRaWAN-gateways voor sensoren",
            "contributions": [{"party_type": "local", "party": "Gemeente Amsterdam", "amount_eur": 150000},
                              {"party_type": "state", "party": "BZK", "amount_eur": 100000},
                              {"party_type": "market", "party": "KPN", "amount_eur": 50000, "committed": False}],
            **over}


def test_investments_totals_gap_and_bad_amounts(admin_client):
    first = admin_client.post("/api/v1/investments", json=investment())
    assert first.status_code == 201, first.text
    assert first.json()["committed_eur"] == 250000 and first.json()["gap_eur"] == 150000
    second = admin_client.post("/api/v1/investments", json=investment(
        title="Glasvezel Utrecht", technology="fibre", cost_eur=1000000, municipalities=[UTRECHT, AMSTERDAM],
        contributions=[{"party_type": "eu", "amount_eur": 600000}, {"party_type": "regional", "amount_eur": 400000}]))
    assert second.status_code == 201 and second.json()["gap_eur"] == 0
    body = admin_client.get("/api/v1/investments").json()
    totals = body["totals"]
    assert totals["total"] == {"cost_eur": 1400000, "committed_eur": 1250000, "gap_eur": 150000, "investments": 2}
    assert totals["per_municipality"][AMSTERDAM]["investments"] == 2
    assert totals["per_municipality"][UTRECHT]["cost_eur"] == 1000000
    assert totals["per_technology"]["lorawan-gateway"]["gap_eur"] == 150000
    assert totals["per_party_type"]["market"] == {"committed_eur": 0, "pledged_eur": 50000}
    assert totals["per_party_type"]["eu"]["committed_eur"] == 600000
    assert [i["title"] for i in admin_client.get("/api/v1/investments", params={"technology": "fibre"})
            .json()["items"]] == ["Glasvezel Utrecht"]
    assert admin_client.get("/api/v1/investments", params={"phase": "dreaming"}).status_code == 400

    too_much = admin_client.post("/api/v1/investments", json=investment(cost_eur=100))
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"].endswith("contributions")
    negative = investment()
    negative["contributions"][1]["amount_eur"] = -5
    r = admin_client.post("/api/v1/investments", json=negative)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.contributions.1.amount_eur"
    r = admin_client.post("/api/v1/investments", json=investment(municipalities=["GM9999"]))
    assert r.status_code == 422 and "municipalit" in r.json()["errors"][0]["field"]
    assert len(admin_client.get("/api/v1/investments").json()["items"]) == 2  # nothing half-stored

    rows = list(csv.DictReader(io.StringIO(admin_client.get("/api/v1/investments.csv").text.lstrip("\ufeff"))))
    assert [(r["title"], r["gap_eur"], r["state_eur"]) for r in rows][0] == (
        "LoRaWAN-netwerk Amsterdam-Noord", "150000.0", "100000.0")
    wb = openpyxl.load_workbook(io.BytesIO(admin_client.get("/api/v1/investments.xlsx").content))
    assert wb.active.max_row == 3
    assert admin_client.get(f"/api/v1/investments/{first.json()['id']}/funding-matches").status_code == 200
    figures = admin_client.get(f"/api/v1/infrastructure/figures/{AMSTERDAM}").json()["investment"]
    assert figures == {"cost_eur": 1400000, "committed_eur": 1250000, "gap_eur": 150000, "investments": 2}


def _square(lon: float, lat: float, d: float) -> str:
    return json.dumps({"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d],
                                                            [lon, lat + d], [lon, lat]]]})


def neighbourhood_table(extra: str = "") -> str:
    rows = [("BU03630001", "Centrum-Oost", AMSTERDAM, 1200, 41.5, _square(4.890, 52.365, 0.01)),
            ("BU03630002", "Noord-West", AMSTERDAM, 900, 27.0, _square(4.880, 52.400, 0.01)),
            ("BU03630003", "Nieuw-West", AMSTERDAM, 1500, 24.2, _square(4.800, 52.360, 0.01))]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["code", "name", "municipality", "households", "average_income", "outline"])
    w.writerows(rows)
    return buf.getvalue() + extra


@pytest.fixture
def cli_db(db, monkeypatch):
    from stadslab.core.config import get_settings

    monkeypatch.setenv("STADSLAB_DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def _cli(db, args):
    from stadslab.cli import app

    return CliRunner().invoke(app, args)


def test_neighbourhood_import_and_coverage_next_to_income(cli_db, admin_client, tmp_path):
    db = cli_db
    bad = tmp_path / "bad.csv"
    bad.write_text(neighbourhood_table("BU99990001,Nergens,GM9999,10,20.0,\"{}\"\n"), encoding="utf-8")
    r = _cli(db, ["infrastructure", "import-neighbourhoods", str(bad)])
    assert r.exit_code == 2 and "line 5" in r.output and "GM9999" in r.output, r.output
    bad.write_text(neighbourhood_table("XX1,Geen buurt,GM0363,10,20.0,\"{}\"\n"), encoding="utf-8")
    r = _cli(db, ["infrastructure", "import-neighbourhoods", str(bad)])
    assert r.exit_code == 2 and "line 5" in r.output and "neighbourhood code" in r.output, r.output
    assert admin_client.get("/api/v1/infrastructure/neighbourhoods").json()["neighbourhoods"] == []  # nothing

    good = tmp_path / "buurten.csv"
    good.write_text(neighbourhood_table(), encoding="utf-8")
    r = _cli(db, ["infrastructure", "import-neighbourhoods", str(good)])
    assert r.exit_code == 0 and "3 neighbourhood" in r.output, r.output

    # a device with its Thing exactly inside Centrum-Oost reports through one gateway
    from tests.sensorthings.helpers import datastream, location, post, thing
    from tests.sensorthings.lorawan.conftest import register, send

    t = post(admin_client, "Things", thing(properties={"register": {"locationPrecision": 0}},
                                           Locations=[location(4.895, 52.370)], Datastreams=[datastream()]))
    iid, secret, _ = register(admin_client, "tts", "70B3D57ED0050001", t["@iot.id"], {}, name="buurt")
    up = tts_uplink("70B3D57ED0050001", 0, 0, [tts_rx(GW_A, -90, 3.0)])
    del up["uplink_message"]["decoded_payload"]["latitude"], up["uplink_message"]["decoded_payload"]["longitude"]
    assert send(admin_client, iid, secret, up).json()["receptions"] == 1

    body = admin_client.get("/api/v1/infrastructure/neighbourhoods", params={"municipality": AMSTERDAM}).json()
    by_code = {n["code"]: n for n in body["neighbourhoods"]}
    assert by_code["BU03630001"]["covered_cells"] >= 1 and by_code["BU03630001"]["average_income"] == 41.5
    assert by_code["BU03630002"]["covered_cells"] == 0
    assert [n["code"] for n in body["without_coverage"]] == ["BU03630003", "BU03630002"]  # lowest income first


@pytest.mark.parametrize("period", ["2024-13", "x"])
def test_bad_period(admin_client, period):
    assert admin_client.get("/api/v1/infrastructure/coverage", params={"period": period}).status_code == 400


def test_loket_requests_of_an_investment_stay_hidden(client, admin_client, db):
    """Only whoever may see a loket request may link it, and only they see its id on the investment."""
    from tests.governance.factories import auth_headers, make_organisation, make_token, make_user

    with db.session() as s:
        own, other = make_organisation(s, municipality_code=AMSTERDAM), make_organisation(s)
        editor = auth_headers(make_token(s, make_user(s, "editor", own)))
        stranger = auth_headers(make_token(s, make_user(s, "editor", other)))
        own_id = own.id
    r = admin_client.post("/api/v1/loket/requests", json={"type": "experiment", "topic": "digital",
                                                          "title": "Ruimte voor een LoRaWAN-proef",
                                                          "organisation_id": own_id})
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    r = client.post("/api/v1/investments", json=investment(loket_request_ids=[request_id]), headers=stranger)
    assert r.status_code == 422 and "loket_request_ids" in r.json()["errors"][0]["field"]
    r = client.post("/api/v1/investments", json=investment(loket_request_ids=[request_id]), headers=editor)
    assert r.status_code == 201, r.text
    inv = r.json()["id"]
    assert client.get(f"/api/v1/investments/{inv}", headers=editor).json()["loket_request_ids"] == [request_id]
    assert client.get(f"/api/v1/investments/{inv}").json()["loket_request_ids"] == []
    assert client.get("/api/v1/investments", headers=stranger).json()["items"][0]["loket_request_ids"] == []


def test_a_labs_facilities_link_to_its_assets(admin_client):
    lab = create(admin_client, "living-labs", lab_payload(infrastructure=["5g", "lorawan"]))
    asset(admin_client, name="5G-mast Lab", living_lab_ids=[lab["id"]])
    page = admin_client.get(f"/labs/{lab['id']}")
    assert page.status_code == 200
    assert '<a class="utrecht-link utrecht-link--html-a" href="/infrastructuur?type=5g-site">5G-mast Lab</a>' \
        in page.text
    assert "5G-mast Lab</a>, lorawan" in page.text  # the free code without an asset stays
