"""The public sensor register at /api/v1/sensor-register (JSON, GeoJSON, CSV)."""

from __future__ import annotations

import csv
import io

import pytest

from stadslab.labs.models import LivingLab
from stadslab.network.models import Organisation

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import location, post, thing

REGISTER = "/api/v1/sensor-register"


@pytest.fixture
def places(session):
    """A living lab in Eindhoven and an owner organisation in Rotterdam."""
    lab = LivingLab(name="Strijp-S sensorlab", municipality_code="GM0772", description="proeftuin")
    org = Organisation(name="Gemeente Rotterdam (test)", kind="municipality", municipality_code="GM0599")
    session.add_all([lab, org])
    session.commit()
    return {"lab": lab.id, "org": org.id}


def _sensor(client, name, register, lon=4.9, lat=52.37):
    return post(client, "Things", thing(name=name, properties={"register": register},
                                        Locations=[location(lon, lat)]))["@iot.id"]


@pytest.fixture
def sensors(client, places):
    return {
        "camera": _sensor(client, "Slimme camera", {
            "purpose": "Drukte meten op het plein", "sensor_type": "camera", "processes_personal_data": True,
            "legal_ground": "publieke taak", "retention": "24 uur", "living_lab_id": places["lab"],
            "privacy_statement_url": "https://example.org/privacy", "placement": "fixed",
            "owner": {"organisation": "Gemeente Eindhoven", "contact": "sensoren@example.org"},
            "active_from": "2024-01-01", "measures": ["drukte"]}, 5.45, 51.44),
        "lucht": _sensor(client, "Luchtmeetkast", {
            "purpose": "Luchtkwaliteit in de wijk", "sensor_type": "luchtkwaliteit",
            "owner": {"organisation_id": places["org"], "contact": "lucht@example.org"},
            "access_class": "network"}, 4.48, 51.92),
        "wifi": _sensor(client, "=HYPERLINK(\"http://evil\")", {
            "purpose": "Passanten tellen", "sensor_type": "wifi-teller", "processes_personal_data": True,
            "legal_ground": "gerechtvaardigd belang", "retention": "7 dagen"}),
    }


def _names(r):
    assert r.status_code == 200, r.text
    return sorted(i["name"] for i in r.json()["items"])


def test_register_lists_every_thing_with_metadata(client, sensors):
    body = client.get(REGISTER).json()
    assert body["total"] == 3
    cam = next(i for i in body["items"] if i["id"] == sensors["camera"])
    assert cam["processes_personal_data"] is True and cam["legal_ground"] == "publieke taak"
    assert cam["living_lab"]["name"] == "Strijp-S sensorlab" and cam["municipality_code"] == "GM0772"
    assert cam["owner"] == {"organisation": "Gemeente Eindhoven", "organisation_id": None,
                            "contact": "sensoren@example.org"}
    assert cam["geometry"] == {"type": "Point", "coordinates": [5.45, 51.44]}
    assert cam["url"].endswith(f"/sta/v1.1/Things({sensors['camera']})")
    lucht = next(i for i in body["items"] if i["id"] == sensors["lucht"])
    assert lucht["owner"]["organisation"] == "Gemeente Rotterdam (test)"
    assert lucht["access_class"] == "network"
    assert "PM2.5" not in lucht["measures"]  # no Datastreams yet


def test_register_filters(client, sensors):
    assert _names(client.get(REGISTER, params={"city": "Eindhoven"})) == ["Slimme camera"]
    assert _names(client.get(REGISTER, params={"city": "GM0599"})) == ["Luchtmeetkast"]  # via the owner
    assert _names(client.get(REGISTER, params={"purpose": "LUCHT"})) == ["Luchtmeetkast"]
    assert _names(client.get(REGISTER, params={"legal_ground": "gerechtvaardigd belang"})) == \
        ['=HYPERLINK("http://evil")']
    assert len(_names(client.get(REGISTER, params={"personal_data": "true"}))) == 2
    assert _names(client.get(REGISTER, params={"personal_data": "false"})) == ["Luchtmeetkast"]
    assert _names(client.get(REGISTER, params={"sensor_type": "Camera"})) == ["Slimme camera"]
    assert _names(client.get(REGISTER, params={"purpose": "%"})) == []  # LIKE wildcards are literal
    assert client.get(REGISTER, params={"city": "Atlantis"}).status_code == 400
    assert client.get(REGISTER, params={"legal_ground": "omdat het kan"}).status_code == 400
    page = client.get(REGISTER, params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3 and len(page["items"]) == 1


def test_register_geojson(client, sensors):
    r = client.get(f"{REGISTER}.geojson", params={"personal_data": "true"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    cam = next(f for f in fc["features"] if f["id"] == sensors["camera"])
    assert cam["geometry"]["coordinates"] == [5.45, 51.44]
    assert cam["properties"]["purpose"] == "Drukte meten op het plein"


def test_register_csv_is_spreadsheet_safe(client, sensors):
    r = client.get(f"{REGISTER}.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 3
    cam = next(row for row in rows if row["id"] == str(sensors["camera"]))
    assert cam["processes_personal_data"] == "ja" and cam["latitude"] == "51.44" and cam["living_lab"]
    evil = next(row for row in rows if row["id"] == str(sensors["wifi"]))
    assert evil["name"].startswith("'=")
