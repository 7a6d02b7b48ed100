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


def test_admin_endpoints_are_for_administrators_and_editors_of_the_owner(client, db):
    """``client`` is an administrator's; the others send their own tokens."""
    from fastapi.testclient import TestClient

    from stadslab.governance import audit
    from tests.governance.factories import auth_headers, make_organisation, make_token, make_user

    with db.session() as s:
        own, other = make_organisation(s).id, make_organisation(s).id
        h = {name: auth_headers(make_token(s, make_user(s, role, org, password=None)))
             for name, role, org in (("editor", "editor", own), ("member", "member", own),
                                     ("other-editor", "editor", other))}
    anonymous = TestClient(client.app)
    owned = {"register": {"owner": {"organisation_id": own}, "access_class": "network"}}
    t = post(client, "Things", thing(properties=owned, Locations=[location()], Datastreams=[datastream()]))
    ds = client.get(f"/sta/v1.1/Things({t['@iot.id']})/Datastreams").json()["value"][0]["@iot.id"]
    hidden = post(client, "Things", thing(properties={"register": {"owner": {"organisation_id": own},
                                                                   "access_class": "restricted"}}))

    def integration(headers, name, **extra):
        return client.post(f"{API}/integrations", json={"name": name, "kind": "tts", **extra}, headers=headers)

    assert anonymous.post(f"{API}/integrations", json={"name": "a", "kind": "tts"}).status_code == 401
    assert integration(h["member"], "m").status_code == 403
    assert integration(h["editor"], "voor een ander", owner_organisation_id=other).status_code == 403
    mine = integration(h["editor"], "eigen")
    theirs = integration(h["other-editor"], "andere")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["owner_organisation_id"] == own and theirs.json()["owner_organisation_id"] == other
    assert integration(client.headers, "admin voor ander", owner_organisation_id=other).status_code == 201
    # listing: editors see their own organisation's integrations, administrators all
    assert [i["name"] for i in client.get(f"{API}/integrations", headers=h["editor"]).json()] == ["eigen"]
    assert len(client.get(f"{API}/integrations").json()) == 3
    assert client.get(f"{API}/integrations", headers=h["member"]).status_code == 403
    assert anonymous.get(f"{API}/integrations").status_code == 401
    # devices: the integration's owner decides, and the Thing must be visible and writable
    mine_id, theirs_id = mine.json()["id"], theirs.json()["id"]
    device = {"dev_eui": "70B3D57ED0051234", "thing_id": t["@iot.id"]}
    assert client.post(f"{API}/integrations/{mine_id}/devices", json=device,
                       headers=h["other-editor"]).status_code == 403
    assert client.post(f"{API}/integrations/{theirs_id}/devices", json=device,
                       headers=h["other-editor"]).status_code == 403  # someone else's (visible) Thing
    r = client.post(f"{API}/integrations/{theirs_id}/devices", headers=h["other-editor"],
                    json={"dev_eui": "70B3D57ED0051235", "thing_id": hidden["@iot.id"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "thing_id"  # as if it did not exist
    r = client.post(f"{API}/integrations/{mine_id}/devices", json=device, headers=h["editor"])
    assert r.status_code == 201, r.text
    dev = r.json()["id"]
    assert client.get(f"{API}/devices/{dev}", headers=h["other-editor"]).status_code == 403
    assert client.get(f"{API}/devices/{dev}", headers=h["editor"]).status_code == 200
    mapping = {"field": "temperature", "datastream_id": ds}
    assert client.post(f"{API}/devices/{dev}/mappings", json=mapping, headers=h["other-editor"]).status_code == 403
    assert client.post(f"{API}/devices/{dev}/mappings", json=mapping, headers=h["member"]).status_code == 403
    assert client.post(f"{API}/devices/{dev}/mappings", json=mapping, headers=h["editor"]).status_code == 201
    with db.session() as s:
        kinds = [e["entity_type"] for e in audit.iterate(s, audit.AuditFilter())
                 if e["entity_type"].startswith("lorawan")]
        created = [e["after"] for e in audit.iterate(s, audit.AuditFilter(entity_type="lorawan_integration"))]
    assert kinds.count("lorawan_integration") == 3 and kinds.count("lorawan_device") == 1
    assert kinds.count("lorawan_mapping") == 1
    assert all("secret_hash" not in a and "secret" not in a for a in created)
