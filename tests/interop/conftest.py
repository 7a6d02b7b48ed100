"""Helpers for interop tests: payloads, a funding programme, open and closed sensors, a live server."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import date

import pytest

from stadslab.core.auth import SYSTEM
from tests.support.processes import free_port as _free_port

_seq = itertools.count(1)


def event_payload(**over) -> dict:
    n = next(_seq)
    return {"kind": "conference", "title": f"Smart City Expo {n}", "description": "Holland paviljoen",
            "start": "2026-11-03T09:00:00", "end": "2026-11-03T18:00:00", "timezone": "Europe/Madrid",
            "location": {"name": "Fira Gran Via", "city": "Barcelona", "country": "ES", "latitude": 41.35,
                         "longitude": 2.13},
            "themes": ["mobility"], "representatives": [{"role": "wethouder", "city": "GM0363"}], **over}


def call_payload(**over) -> dict:
    n = next(_seq)
    return {"programme": "horizon-europe", "title": f"Call {n}: smart mobility hubs",
            "description": "Fietsen, deelmobiliteit en sensoren voor verkeersstromen in de stad.",
            "themes": ["mobility"], "deadline": "2099-03-01T17:00:00", "deadline_timezone": "Europe/Brussels",
            "budget_eur": 1_000_000, "status": "open", **over}


@pytest.fixture
def programme(db):
    from stadslab.interop.funding import create_programme
    from stadslab.interop.schemas import ProgrammeIn

    with db.session() as s:
        p = create_programme(s, ProgrammeIn(code="horizon-europe", name="Horizon Europe"), actor=SYSTEM)
        return p.id


def make_thing(session, *, name: str, access_class: str = "open", lon: float = 5.1, lat: float = 52.09,
               lab_id: int | None = None, observations: int = 0) -> int:
    """A Thing with one Location, one Datastream and some Observations, written through the ORM."""
    from datetime import datetime, timedelta, timezone

    from stadslab.sensorthings.model import tables as m

    thing = m.Thing(name=name, description=f"{name} meet luchtkwaliteit", access_class=access_class,
                    sensor_type="luchtkwaliteit", purpose="Luchtkwaliteit meten", living_lab_id=lab_id,
                    owner_name="Gemeente Utrecht", active_from=date(2024, 1, 1), active_until=date(2025, 12, 31))
    loc = m.Location(name=f"{name} plek", encoding_type="application/geo+json",
                     location={"type": "Point", "coordinates": [lon, lat]})
    sensor = m.Sensor(name="SDS011", encoding_type="text/html", metadata_="https://example.org/sds011")
    prop = m.ObservedProperty(name="PM2.5", definition="https://example.org/pm25")
    session.add_all([thing, loc, sensor, prop])
    session.flush()
    session.execute(m.thing_locations.insert().values(thing_id=thing.id, location_id=loc.id))
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    ds = m.Datastream(name=f"{name} PM2.5", observation_type="OM_Measurement",
                      unit_of_measurement={"name": "µg/m³", "symbol": "µg/m³", "definition": "x"},
                      thing_id=thing.id, sensor_id=sensor.id, observed_property_id=prop.id,
                      phenomenon_time_start=start if observations else None,
                      phenomenon_time_end=start + timedelta(hours=observations) if observations else None)
    session.add(ds)
    session.flush()
    if observations:
        foi = m.FeatureOfInterest(name="f", encoding_type="application/geo+json",
                                  feature={"type": "Point", "coordinates": [lon, lat]})
        session.add(foi)
        session.flush()
        for i in range(observations):
            result = "=HYPERLINK(\"x\")" if i == 0 else 10.0 + i
            session.add(m.Observation(datastream_id=ds.id, feature_of_interest_id=foi.id,
                                      phenomenon_time_start=start + timedelta(hours=i), result=result,
                                      result_number=None if isinstance(result, str) else result))
    session.commit()
    return thing.id


@pytest.fixture
def live_server(app):
    """The app on a real uvicorn server on a free loopback port (for client libraries)."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
