"""Payload builders and small helpers for the SensorThings tests (HTTP only, no ORM)."""

from __future__ import annotations

import itertools

import pytest

STA = "/sta/v1.1"
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
COMPLEX = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation"
SETS = ("Things", "Locations", "HistoricalLocations", "Datastreams", "MultiDatastreams", "Sensors",
        "ObservedProperties", "Observations", "FeaturesOfInterest")
_seq = itertools.count(1)


def location(lon: float = 4.9, lat: float = 52.37, **over) -> dict:
    return {"name": f"Locatie {next(_seq)}", "description": "mast", "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [lon, lat]}, **over}


def sensor(**over) -> dict:
    return {"name": f"Sensor {next(_seq)}", "description": "fijnstofsensor", "encodingType": "application/pdf",
            "metadata": "https://example.org/datasheet.pdf", **over}


def observed_property(name: str = "PM2.5", **over) -> dict:
    return {"name": name, "definition": f"https://example.org/def/{name}", "description": name, **over}


def datastream(**over) -> dict:
    return {"name": f"Datastream {next(_seq)}", "description": "meetreeks", "observationType": MEASUREMENT,
            "unitOfMeasurement": {"name": "microgram per m3", "symbol": "ug/m3", "definition": "https://qudt.org"},
            "Sensor": sensor(), "ObservedProperty": observed_property(), **over}


def thing(**over) -> dict:
    return {"name": f"Meetkast {next(_seq)}", "description": "luchtkwaliteit", "properties": {"wijk": "Centrum"},
            **over}


def full_thing(n_obs: int = 3, **over) -> dict:
    obs = [{"phenomenonTime": f"2024-05-01T{10 + i:02d}:00:00Z", "result": 10 + i} for i in range(n_obs)]
    return thing(Locations=[location()], Datastreams=[datastream(Observations=obs)], **over)


def post(client, path: str, body) -> dict:
    r = client.post(f"{STA}/{path}", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def get(client, path: str, **params) -> dict:
    r = client.get(f"{STA}/{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def counts(client) -> dict[str, int]:
    return {s: get(client, s, **{"$count": "true", "$top": "0"})["@iot.count"] for s in SETS}


def new_thing(client, **over) -> dict:
    """Creates a Thing with a Location, one Datastream and three Observations; returns ids."""
    t = post(client, "Things", full_thing(**over))
    ds = get(client, f"Things({t['@iot.id']})/Datastreams")["value"][0]
    return {"thing": t["@iot.id"], "datastream": ds["@iot.id"],
            "location": get(client, f"Things({t['@iot.id']})/Locations")["value"][0]["@iot.id"]}


@pytest.fixture
def client(admin_client):
    """For test modules that write but are not about authorization: ``from .helpers import client``
    makes their ``client`` send a network administrator's token (writes need ``sta:write``; who
    may do what is tested in test_authz.py, who sees what in test_access_classes.py)."""
    return admin_client
