"""Registering integrations, devices and mappings; secrets never stored or shown twice."""

from __future__ import annotations

from datetime import timezone

import pytest
from sqlalchemy import select

from stadslab.sensorthings.lorawan.formats.base import timestamp
from stadslab.sensorthings.lorawan.models import LorawanIntegration
from tests.sensorthings.helpers import datastream, location, post, thing

from .conftest import API, register, send
from .messages import DEV_EUI, tts_uplink


def test_generated_secret_is_shown_once_and_stored_only_as_a_hash(client, db):
    r = client.post(f"{API}/integrations", json={"name": "TTN gemeente", "kind": "tts"})
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["secret"]
    assert len(secret) >= 40 and created["webhook_path"] == f"/api/v1/lorawan/{created['id']}/uplink"
    listed = client.get(f"{API}/integrations").json()
    assert [i["name"] for i in listed] == ["TTN gemeente"] and "secret" not in listed[0]
    with db.session() as s:
        stored = s.scalar(select(LorawanIntegration.secret_hash))
    assert stored.startswith("scrypt$") and secret not in stored


def test_own_secret_can_be_given_and_works(client, station):
    r = client.post(f"{API}/integrations", json={"name": "cs", "kind": "chirpstack",
                                                 "secret": "een-lang-genoeg-geheim-2024"})
    assert r.status_code == 201 and r.json()["secret"] is None


def test_bad_admin_input_gets_clear_4xx(client, station):
    iid, _, device = register(client, "tts", DEV_EUI, station.thing, {})
    other = post(client, "Things", thing(Locations=[location()], Datastreams=[datastream()]))
    other_ds = client.get(f"/sta/v1.1/Things({other['@iot.id']})/Datastreams").json()["value"][0]["@iot.id"]
    cases = [
        (f"{API}/integrations", {"name": f"tts-{DEV_EUI}", "kind": "tts"}, 409, None),
        (f"{API}/integrations", {"name": "x", "kind": "sigfox"}, 422, "body.kind"),
        (f"{API}/integrations", {"name": "x", "kind": "tts", "secret": "kort"}, 422, "body.secret"),
        (f"{API}/integrations/{iid}/devices", {"dev_eui": DEV_EUI, "thing_id": station.thing}, 409, None),
        (f"{API}/integrations/{iid}/devices", {"dev_eui": "ZZZZZZZZZZZZZZZZ", "thing_id": station.thing}, 422,
         "dev_eui"),
        (f"{API}/integrations/{iid}/devices", {"dev_eui": "0000000000000009", "thing_id": 999999}, 422, "thing_id"),
        (f"{API}/integrations/999999/devices", {"dev_eui": "0000000000000009", "thing_id": station.thing}, 404,
         None),
        (f"{API}/devices/{device}/mappings", {"field": "t", "datastream_id": other_ds}, 422, "datastream_id"),
        (f"{API}/devices/{device}/mappings", {"field": "t", "datastream_id": 999999}, 422, "datastream_id"),
        (f"{API}/devices/{device}/mappings", {"field": "t", "datastream_id": station.co2, "scale": "x"}, 422,
         "body.scale"),
    ]
    for url, payload, status, field in cases:
        r = client.post(url, json=payload)
        assert r.status_code == status, (payload, r.text)
        if field:
            assert field in [e["field"] for e in r.json()["errors"]], r.text
    r = client.post(f"{API}/devices/{device}/mappings", json={"field": "t", "datastream_id": station.co2})
    assert r.status_code == 201
    assert client.post(f"{API}/devices/{device}/mappings",
                       json={"field": "t", "datastream_id": station.co2}).status_code == 409
    shown = client.get(f"{API}/devices/{device}").json()
    assert [m["field"] for m in shown["mappings"]] == ["t"]


def test_inactive_integration_is_refused(client, station, db):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing, {"temperature": station.temperature})
    with db.session() as s:
        s.get(LorawanIntegration, iid).active = False
        s.commit()
    assert send(client, iid, secret, tts_uplink()).status_code == 401


@pytest.mark.parametrize("text, expected", [
    ("2020-02-12T15:15:46.014773143Z", "2020-02-12T15:15:46.014773+00:00"),
    ("2022-07-18T09:34:15.775023242+02:00", "2022-07-18T07:34:15.775023+00:00"),
    ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00"),
    ("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.500000+00:00"),
])
def test_network_server_timestamps(text, expected):
    parsed = timestamp(text, ["time"])
    assert parsed.tzinfo == timezone.utc and parsed.isoformat() == expected
