"""Interoperability: the FROST Python client (frost-sta-client) against the hub over real HTTP.

The application runs under uvicorn on a free loopback port; the client talks
to it exactly as it would to a FROST-Server. Writes need an API token: the client's
``AuthHandler`` hook is given one that sends ``Authorization: Bearer <token>``
(the client itself only knows HTTP Basic).
"""

from __future__ import annotations

import threading
import time

import pytest
from tests.support.processes import free_port as _free_port

frost = pytest.importorskip("frost_sta_client")
geojson = pytest.importorskip("geojson")
uvicorn = pytest.importorskip("uvicorn")

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


class BearerAuth(frost.service.auth_handler.AuthHandler):
    """frost-sta-client asks its AuthHandler for a ``requests`` auth object per request."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def add_auth_header(self):
        import requests

        token = self.token

        class _Bearer(requests.auth.AuthBase):
            def __call__(self, r):
                r.headers["Authorization"] = f"Bearer {token}"
                return r

        return _Bearer()


@pytest.fixture
def service(app, admin_headers):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        token = admin_headers["Authorization"].split(" ", 1)[1]
        yield frost.SensorThingsService(f"http://127.0.0.1:{port}/sta/v1.1", auth_handler=BearerAuth(token))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_create_query_update_delete_with_frost_client(service):
    location = frost.Location(name="Dam", description="meetpunt", encoding_type="application/geo+json",
                              location=geojson.Point((4.8926, 52.3731)))
    thing = frost.Thing(name="Luchtmeetkast Dam", description="fijnstof", properties={"wijk": "Centrum"},
                        locations=[location])
    service.create(thing)
    assert isinstance(thing.id, int)

    sensor = frost.Sensor(name="SDS011", description="laser", encoding_type="application/pdf",
                          metadata="https://example.org/sds011.pdf")
    prop = frost.ObservedProperty(name="PM10", definition="https://example.org/pm10", description="fijnstof")
    ds = frost.Datastream(name="PM10 Dam", description="PM10", observation_type=MEASUREMENT,
                          unit_of_measurement=frost.UnitOfMeasurement(name="microgram per m3", symbol="ug/m3",
                                                                      definition="https://qudt.org"),
                          thing=thing, sensor=sensor, observed_property=prop)
    service.create(ds)
    for i, value in enumerate((12.5, 18.0, 31.2)):
        service.create(frost.Observation(result=value, phenomenon_time=f"2024-05-01T1{i}:00:00Z", datastream=ds))

    found = service.things().query().filter("name eq 'Luchtmeetkast Dam'").expand("Datastreams").list()
    things = list(found)
    assert [t.id for t in things] == [thing.id]
    assert [d.name for d in things[0].datastreams] == ["PM10 Dam"]

    high = list(service.observations().query().filter("result gt 15").orderby("phenomenonTime", "ASC").list())
    assert [o.result for o in high] == [18.0, 31.2]

    fetched = service.things().find(thing.id)
    assert fetched.properties == {"wijk": "Centrum"}
    service.patch(fetched, [{"op": "replace", "path": "/properties/wijk", "value": "Oost"}])
    assert service.things().find(thing.id).properties == {"wijk": "Oost"}

    fetched_ds = service.datastreams().find(ds.id)
    fetched_ds.description = "PM10 bij de Dam"
    service.update(fetched_ds)
    assert service.datastreams().find(ds.id).description == "PM10 bij de Dam"

    service.delete(service.things().find(thing.id))
    assert list(service.things().query().list()) == []
    assert list(service.observations().query().list()) == []
