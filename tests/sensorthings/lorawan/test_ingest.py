"""LoRaWAN webhooks → Observations, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from stadslab.sensorthings.lorawan.models import LorawanReceived

from .conftest import API, observations, register, send
from .messages import DEV_EUI, chirpstack_up, tts_uplink


def received_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(LorawanReceived))


def test_tts_uplink_becomes_observations(client, station):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing,
                              {"temperature": station.temperature, "humidity": station.humidity})
    r = send(client, iid, secret, tts_uplink())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "stored" and len(body["observations"]) == 2
    [temp] = observations(client, station.temperature)
    [hum] = observations(client, station.humidity)
    assert temp["result"] == 21.5 and hum["result"] == 61
    # phenomenonTime is when the network server received the uplink (to the microsecond).
    assert temp["phenomenonTime"].startswith("2024-05-01T10:00:05.123")
    assert temp["parameters"] == {"lorawan": {"fPort": 2, "fCnt": 42}}


def test_chirpstack_up_event_becomes_observations(client, station):
    iid, secret, _ = register(client, "chirpstack", "0101010101010101", station.thing,
                              {"co2": station.co2, "temperature": station.temperature})
    r = send(client, iid, secret, chirpstack_up(), bearer=True, params={"event": "up"})
    assert r.status_code == 200, r.text
    assert r.json()["unmapped"] == ["humidity"]
    [co2] = observations(client, station.co2)
    assert co2["result"] == 612
    assert co2["phenomenonTime"].startswith("2024-05-01T08:00:05.775")  # +02:00 converted to UTC


def test_chirpstack_events_other_than_up_are_acknowledged_without_storing(client, station, db):
    iid, secret, _ = register(client, "chirpstack", "0101010101010101", station.thing, {"co2": station.co2})
    r = send(client, iid, secret, {"deduplicationId": "x", "deviceInfo": {}}, params={"event": "join"})
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    assert observations(client, station.co2) == [] and received_count(db) == 0


@pytest.mark.parametrize("kind", ["tts", "chirpstack"])
def test_redelivered_uplink_is_stored_once(client, station, db, kind):
    eui = DEV_EUI if kind == "tts" else "0101010101010101"
    iid, secret, _ = register(client, kind, eui, station.thing, {"temperature": station.temperature})
    message = tts_uplink() if kind == "tts" else chirpstack_up()
    first = send(client, iid, secret, message)
    again = send(client, iid, secret, message)
    assert first.json()["status"] == "stored"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert "nothing stored again" in again.json()["note"]
    assert len(observations(client, station.temperature)) == 1 and received_count(db) == 1
    # A new message from the same device is of course stored.
    other = tts_uplink(f_cnt=43) if kind == "tts" else chirpstack_up()
    assert send(client, iid, secret, other).json()["status"] == "stored"
    assert len(observations(client, station.temperature)) == 2


def test_tts_without_correlation_id_is_keyed_on_device_counter_and_time(client, station):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing, {"temperature": station.temperature})
    message = tts_uplink()
    message["correlation_ids"] = []
    assert send(client, iid, secret, message).json()["status"] == "stored"
    assert send(client, iid, secret, message).json()["status"] == "duplicate"
    rejoined = tts_uplink(received_at="2024-05-02T09:00:00Z")  # same f_cnt after a rejoin
    rejoined["correlation_ids"] = []
    assert send(client, iid, secret, rejoined).json()["status"] == "stored"


def test_wrong_or_missing_secret_is_one_uninformative_401(client, station, db):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing, {"temperature": station.temperature})
    other_iid, other_secret, _ = register(client, "tts", "0000000000000001", station.thing, {}, name="other")
    answers = [send(client, iid, "wrong-" + secret, tts_uplink()),
               send(client, iid, None, tts_uplink()),
               send(client, iid, other_secret, tts_uplink()),  # another integration's secret
               send(client, 999999, secret, tts_uplink()),  # no such integration
               send(client, iid, secret[:-1], tts_uplink(), bearer=True)]
    assert [a.status_code for a in answers] == [401] * 5
    assert len({a.json()["detail"] for a in answers}) == 1
    assert "secret" not in answers[0].json()["detail"].lower()
    assert observations(client, station.temperature) == [] and received_count(db) == 0
    assert other_iid != iid


def test_unknown_device_is_404_and_can_be_retried_after_registration(client, station, db):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing, {"temperature": station.temperature})
    message = tts_uplink(dev_eui="70B3D57ED0FFFFFF")
    r = send(client, iid, secret, message)
    assert r.status_code == 404
    assert "70B3D57ED0FFFFFF" in r.json()["detail"] and "not registered" in r.json()["detail"]
    assert received_count(db) == 0
    r = client.post(f"{API}/integrations/{iid}/devices", json={"dev_eui": "70-b3-d5-7e-d0-ff-ff-ff",
                                                                "thing_id": station.thing})
    assert r.status_code == 201 and r.json()["dev_eui"] == "70B3D57ED0FFFFFF"
    client.post(f"{API}/devices/{r.json()['id']}/mappings", json={"field": "humidity",
                                                                  "datastream_id": station.humidity})
    assert send(client, iid, secret, message).json()["status"] == "stored"


def test_malformed_messages_get_4xx_naming_the_field(client, station, db):
    iid, secret, _ = register(client, "chirpstack", "0101010101010101", station.thing,
                              {"temperature": station.temperature})
    url = f"{API}/{iid}/uplink"
    r = client.post(url, content=b'{"deduplicationId": ', headers={"X-Stadslab-Secret": secret,
                                                                   "content-type": "application/json"})
    assert r.status_code == 400 and "Malformed JSON" in r.json()["detail"]
    no_eui = chirpstack_up()
    del no_eui["deviceInfo"]["devEui"]
    bad_time = chirpstack_up(time="yesterday")
    bad_eui = chirpstack_up(dev_eui="not-an-eui")
    for message, field in ((no_eui, "deviceInfo.devEui"), (bad_time, "time"), (bad_eui, "deviceInfo.devEui"),
                           ([1, 2], "body")):
        r = send(client, iid, secret, message)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field
    r = client.post(url, content=b"\x0a\x10", headers={"X-Stadslab-Secret": secret,
                                                       "content-type": "application/octet-stream"})
    assert r.status_code == 415 and "JSON marshaler" in r.json()["detail"]
    assert observations(client, station.temperature) == [] and received_count(db) == 0


def test_scale_and_offset_and_nested_fields(client, station):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing, {
        "air.temperature": {"datastream_id": station.temperature, "scale": 0.1, "offset": -0.5},
        "air.humidity": {"datastream_id": station.humidity, "scale": 0.5},
        "co2": station.co2})
    r = send(client, iid, secret, tts_uplink({"air": {"temperature": 215, "humidity": 122}}))
    assert r.status_code == 200, r.text
    assert r.json()["missing"] == ["co2"]
    assert observations(client, station.temperature)[0]["result"] == pytest.approx(21.0)
    assert observations(client, station.humidity)[0]["result"] == pytest.approx(61.0)
    assert observations(client, station.co2) == []


def test_scaling_a_non_number_rejects_the_whole_message(client, station, db):
    iid, secret, _ = register(client, "tts", DEV_EUI, station.thing, {
        "humidity": station.humidity,
        "temperature": {"datastream_id": station.temperature, "scale": 0.1}})
    r = send(client, iid, secret, tts_uplink({"humidity": 50, "temperature": "warm"}))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "decoded.temperature"
    # All or nothing: the humidity was not stored and the message can be retried.
    assert observations(client, station.humidity) == [] and received_count(db) == 0


def test_the_things_stack_documentation_example(client, station, shared_dir, db):
    examples = shared_dir / "data" / "lorawan-examples"
    iid, secret, _ = register(client, "tts", "0004A30B001C0530", station.thing, {
        "temperature": station.temperature, "luminosity": {"datastream_id": station.co2, "scale": 100}})
    uplink = json.loads((examples / "tts-v3_uplink-message.json").read_text())
    r = send(client, iid, secret, uplink)
    assert r.status_code == 200 and r.json()["status"] == "stored", r.text
    assert r.json()["message_id"] == "tts:as:up:01E0WZGT6Y7657CPFPE5WEYDSQ"
    [temp] = observations(client, station.temperature)
    assert temp["result"] == 1.0 and temp["phenomenonTime"].startswith("2020-02-12T15:15:45.789")
    assert observations(client, station.co2)[0]["result"] == pytest.approx(64.0)
    assert r.json()["receptions"] == 1  # gateway gtw1 heard it (infrastructure: observed gateways)
    assert send(client, iid, secret, uplink).json()["status"] == "duplicate"
    # join-accept and downlink messages are acknowledged like ChirpStack's other events, storing nothing
    for name in ("tts-v3_join-accept.json", "tts-v3_downlink-queued.json", "tts-v3_downlink-sent.json"):
        r = send(client, iid, secret, json.loads((examples / name).read_text()))
        assert r.status_code == 200 and r.json()["status"] == "ignored", name
    assert received_count(db) == 1
    # a message that is none of them is still refused, naming what is missing
    r = send(client, iid, secret, {"end_device_ids": {"device_id": "dev1"}, "something_else": {}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "uplink_message"
