"""A Thing with a Location and three Datastreams, and helpers to register integrations."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.sensorthings.helpers import datastream, get, location, observed_property, post, thing
from tests.sensorthings.helpers import client  # noqa: F401  (an administrator's: the admin API needs one)

API = "/api/v1/lorawan"


@dataclass
class Station:
    thing: int
    temperature: int
    humidity: int
    co2: int


@pytest.fixture
def station(client) -> Station:
    t = post(client, "Things", thing(Locations=[location()], Datastreams=[
        datastream(name="temperatuur", ObservedProperty=observed_property("temperature")),
        datastream(name="vochtigheid", ObservedProperty=observed_property("humidity")),
        datastream(name="co2", ObservedProperty=observed_property("co2"))]))
    streams = {d["name"]: d["@iot.id"] for d in get(client, f"Things({t['@iot.id']})/Datastreams")["value"]}
    return Station(t["@iot.id"], streams["temperatuur"], streams["vochtigheid"], streams["co2"])


def register(client, kind: str, dev_eui: str, thing_id: int, mappings: dict[str, dict | int],
             name: str | None = None) -> tuple[int, str, int]:
    """Integration + device + mappings through the admin API; returns (integration id, secret, device id)."""
    r = client.post(f"{API}/integrations", json={"name": name or f"{kind}-{dev_eui}", "kind": kind})
    assert r.status_code == 201, r.text
    integration = r.json()
    r = client.post(f"{API}/integrations/{integration['id']}/devices", json={"dev_eui": dev_eui, "thing_id": thing_id})
    assert r.status_code == 201, r.text
    device = r.json()["id"]
    for field, target in mappings.items():
        spec = {"datastream_id": target} if isinstance(target, int) else target
        r = client.post(f"{API}/devices/{device}/mappings", json={"field": field, **spec})
        assert r.status_code == 201, r.text
    return integration["id"], integration["secret"], device


def send(client, integration_id: int, secret: str | None, body, *, bearer: bool = False, params=None):
    headers = {}
    if secret is not None:
        headers = {"Authorization": f"Bearer {secret}"} if bearer else {"X-Stadslab-Secret": secret}
    return client.post(f"{API}/{integration_id}/uplink", json=body, headers=headers, params=params)


def observations(client, datastream_id: int) -> list[dict]:
    return get(client, f"Datastreams({datastream_id})/Observations", **{"$orderby": "id"})["value"]
