"""Uplinks of both formats from a moving device heard by two gateways: the register of observed
gateways, the coverage cells and the city figures, through the API and the OGC API."""

from __future__ import annotations

import h3
import pytest

from stadslab.sensorthings.access.precision import snap_point
from stadslab.sensorthings.lorawan.receptions import CELL_RESOLUTION
from tests.sensorthings.helpers import client, datastream, get, location, observed_property, post, thing  # noqa: F401
from tests.sensorthings.lorawan.conftest import register, send

from .uplinks import GW_A, GW_B, chirpstack_rx, chirpstack_up, tts_downlink, tts_join_accept, tts_rx, tts_uplink

DEV_TTS, DEV_CS = "70B3D57ED0059999", "0101010101019999"
PRECISION = 250
#: The device's route through Amsterdam (lat, lon): centre, east, north
P1, P2, P3 = (52.3702, 4.8952), (52.3600, 4.9400), (52.4000, 4.9300)


def public_cell(lat: float, lon: float) -> str:
    lon_s, lat_s = snap_point(lon, lat, PRECISION)
    return h3.latlng_to_cell(lat_s, lon_s, CELL_RESOLUTION)


@pytest.fixture
def tracker(client):
    t = post(client, "Things", thing(properties={"register": {"locationPrecision": PRECISION}},
                                     Locations=[location(4.9, 52.37)],
                                     Datastreams=[datastream(name="temperatuur",
                                                             ObservedProperty=observed_property("temperature"))]))
    stream = get(client, f"Things({t['@iot.id']})/Datastreams")["value"][0]["@iot.id"]
    tts = register(client, "tts", DEV_TTS, t["@iot.id"], {"temperature": stream}, name="tts-tracker")
    cs = register(client, "chirpstack", DEV_CS, t["@iot.id"], {"temperature": stream}, name="cs-tracker")
    return tts, cs


def _gateways(client) -> dict[str, dict]:
    r = client.get("/api/v1/infrastructure", params={"type": "lorawan-gateway"})
    assert r.status_code == 200, r.text
    return {a["gateway"]["eui"]: a for a in r.json()["items"]}


def test_uplinks_of_both_formats_make_gateways_coverage_and_figures(client, tracker):
    (tts_id, tts_secret, _), (cs_id, cs_secret, _) = tracker
    # TTS: the device at P1 then P2, heard by both gateways
    for n, ((lat, lon), rssi_a, rssi_b) in enumerate(((P1, -70, -101), (P2, -95, -88), (P1, -80, -105)), start=1):
        r = send(client, tts_id, tts_secret, tts_uplink(DEV_TTS, lat, lon, [tts_rx(GW_A, rssi_a, 9.5),
                                                                            tts_rx(GW_B, rssi_b, -3.0)], f_cnt=n))
        assert r.status_code == 200 and r.json()["status"] == "stored", r.text
        assert r.json()["receptions"] == 2
    # ChirpStack: the device at P3, heard by gateway B only
    r = send(client, cs_id, cs_secret, chirpstack_up(DEV_CS, *P3, [chirpstack_rx(GW_B, -112, -7.25)]),
             params={"event": "up"})
    assert r.status_code == 200 and r.json()["receptions"] == 1, r.text
    # an impossible reception is counted and reported, the possible one stored
    r = send(client, tts_id, tts_secret, tts_uplink(DEV_TTS, *P3, [tts_rx(GW_A, 5, 7.0), tts_rx(GW_B, -109, 60)],
                                                     f_cnt=9))
    assert r.status_code == 200 and r.json()["receptions"] == 0, r.text
    assert [m.split(":")[1].strip() for m in r.json()["rejected_receptions"]] == ["rssi", "snr"]

    # other TTS messages: acknowledged, nothing stored
    for body in (tts_join_accept(DEV_TTS), tts_downlink("downlink_sent"), tts_downlink("downlink_queued"),
                 {"end_device_ids": {"device_id": "x"}, "service_data": {"data": {}}}):
        r = send(client, tts_id, tts_secret, body)
        assert r.status_code == 200 and r.json()["status"] == "ignored", r.text

    gateways = _gateways(client)
    assert set(gateways) == {GW_A["eui"], GW_B["eui"]}
    a, b = gateways[GW_A["eui"]], gateways[GW_B["eui"]]
    assert a["observed"] is True and a["openness"] is None and a["owner_organisation_id"] is None
    assert a["gateway"]["gateway_id"] == "gw-stadhuis" and b["gateway"]["gateway_id"] == "gw-noord"
    assert a["gateway"]["uplinks_heard"] == 3 and b["gateway"]["uplinks_heard"] == 4
    assert a["gateway"]["rejected_receptions"] == 1 and b["gateway"]["rejected_receptions"] == 1
    assert a["geometry"] == {"type": "Point", "coordinates": [GW_A["lon"], GW_A["lat"]]}
    assert a["municipality_code"] == b["municipality_code"] == "GM0363"

    r = client.get("/api/v1/infrastructure/coverage")
    assert r.status_code == 200, r.text
    cells = {f["properties"]["cell"]: f["properties"] for f in r.json()["features"]}
    c1, c2, c3 = public_cell(*P1), public_cell(*P2), public_cell(*P3)
    assert set(cells) == {c1, c2, c3}
    assert cells[c1]["gateways"] == 2 and cells[c1]["receptions"] == 4
    assert cells[c1]["best_rssi"] == -70 and cells[c1]["median_rssi"] == pytest.approx((-80 - 101) / 2)
    assert cells[c1]["best_snr"] == 9.5
    assert cells[c3]["gateways"] == 1 and cells[c3]["best_rssi"] == -112 and cells[c3]["median_snr"] == -7.25
    assert all(p["municipality"] == "GM0363" for p in cells.values())
    share = {m["municipality"]: m for m in r.json()["municipalities"]}["GM0363"]
    assert share["covered_cells"] == 3 and share["cells"] > 100
    # months: the TTS uplinks in May 1st, ChirpStack's on May 2nd: one month
    assert {f["properties"]["cell"] for f in client.get(
        "/api/v1/infrastructure/coverage", params={"period": "2024-05"}).json()["features"]} == {c1, c2, c3}
    assert client.get("/api/v1/infrastructure/coverage", params={"period": "2024-06"}).json()["features"] == []

    # OGC API Features
    ogc = client.get("/ogcapi/collections/coverage-lorawan/items", params={"f": "json"})
    assert ogc.status_code == 200, ogc.text
    assert ogc.json()["numberMatched"] == 3
    assert {f["properties"]["cell"] for f in ogc.json()["features"]} == {c1, c2, c3}
    infra = client.get("/ogcapi/collections/infrastructure/items", params={"f": "json"}).json()
    assert {f["properties"]["gateway"]["eui"] for f in infra["features"]} == {GW_A["eui"], GW_B["eui"]}

    # no device identifier anywhere public
    for text in (r.text, ogc.text, client.get("/api/v1/infrastructure").text,
                 client.get("/api/v1/infrastructure.geojson").text):
        assert DEV_TTS not in text and DEV_CS not in text and "fietskoerier" not in text

    figures = client.get("/api/v1/infrastructure/figures/GM0363").json()
    assert figures["gateways"] == {"open": 0, "community": 0, "private": 0, "observed": 2}
    assert figures["coverage"]["covered_cells"] == 3 and 0 < figures["coverage"]["share"] < 1

    # a new uplink touches only its cell; the figures move with it
    r = send(client, tts_id, tts_secret, tts_uplink(DEV_TTS, *P3, [tts_rx(GW_A, -60, 11.0)], f_cnt=10))
    assert r.json()["receptions"] == 1
    cells = {f["properties"]["cell"]: f["properties"]
             for f in client.get("/api/v1/infrastructure/coverage").json()["features"]}
    assert cells[c3]["gateways"] == 2 and cells[c3]["best_rssi"] == -60 and cells[c1]["receptions"] == 4

    # an owner claims gateway A and describes it
    r = client.post("/api/v1/infrastructure", json={"name": "Gateway stadhuis", "type": "lorawan-gateway",
                                                    "openness": "open", "gateway": GW_A["eui"]})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == a["id"] and r.json()["observed"] is False and r.json()["openness"] == "open"
    assert client.get("/api/v1/infrastructure/figures/GM0363").json()["gateways"]["open"] == 1


def test_redelivery_and_failed_uplink_store_no_receptions(client, tracker, db):
    (tts_id, tts_secret, _), _ = tracker
    body = tts_uplink(DEV_TTS, *P1, [tts_rx(GW_A, -70, 9.5)])
    assert send(client, tts_id, tts_secret, body).json()["status"] == "stored"
    assert send(client, tts_id, tts_secret, body).json()["status"] == "duplicate"
    assert _gateways(client)[GW_A["eui"]]["gateway"]["uplinks_heard"] == 1
    # the Observation cannot be stored (not a number for a mapped result with a scale): nothing of it stays
    with db.session() as s:
        from sqlalchemy import update

        from stadslab.sensorthings.lorawan.models import LorawanFieldMapping
        s.execute(update(LorawanFieldMapping).values(scale=2.0))
        s.commit()
    bad = tts_uplink(DEV_TTS, *P2, [tts_rx(GW_A, -70, 9.5), tts_rx(GW_B, -90, 1.0)], f_cnt=2)
    bad["uplink_message"]["decoded_payload"]["temperature"] = "warm"
    r = send(client, tts_id, tts_secret, bad)
    assert r.status_code == 422, r.text
    gateways = _gateways(client)
    assert set(gateways) == {GW_A["eui"]} and gateways[GW_A["eui"]]["gateway"]["uplinks_heard"] == 1


def test_gateway_without_position_and_filters(client, tracker):
    (tts_id, tts_secret, _), _ = tracker
    r = send(client, tts_id, tts_secret, tts_uplink(DEV_TTS, *P1, [tts_rx(GW_A, -70, 9.5, position=False)]))
    assert r.json()["receptions"] == 1
    a = _gateways(client)[GW_A["eui"]]
    assert a["geometry"] is None and a["gateway"]["reported_position"] is None
    for param, value in (("type", "satellite"), ("openness", "half"), ("status", "dreaming")):
        r = client.get("/api/v1/infrastructure", params={param: value})
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["field"] == param and "allowed" in r.json()["detail"]
    assert client.get("/api/v1/infrastructure", params={"municipality": "GM9999"}).status_code == 400
    assert client.get("/api/v1/infrastructure/coverage", params={"period": "mei"}).status_code == 400
