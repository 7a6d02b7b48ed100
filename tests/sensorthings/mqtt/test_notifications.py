"""Notifications on the STA topics after creates and updates, against the real broker."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stadslab.app import create_app
from stadslab.core.auth import SYSTEM
from stadslab.sensorthings.write import service
from stadslab.sensorthings.model.tables import Datastream, Location, Sensor, Thing
from stadslab.sensorthings.mqtt.changes import pending_changes, record
from stadslab.sensorthings.mqtt.notify import NOTIFICATION_MARKER
from stadslab.sensorthings.model.urls import parse_path
from tests.sensorthings.helpers import datastream, location, thing

from .conftest import make_datastream, wait_until

pytestmark = pytest.mark.mqtt


def test_http_create_is_notified(db, prefix, mqtt_settings, listener, admin_headers):
    ds = make_datastream(db)
    topic = f"{prefix}/Datastreams({ds})/Observations"
    watcher = listener(topic)
    with TestClient(create_app(mqtt_settings, db=db), headers=admin_headers) as client:
        r = client.post(f"/sta/v1.1/Datastreams({ds})/Observations", json={"result": 5})
        assert r.status_code == 201, r.text
        stored = client.get(r.headers["location"]).json()
        assert wait_until(lambda: watcher.json_on(topic), timeout=5)
    assert watcher.json_on(topic) == [stored]


def test_created_entities_are_announced_on_their_collections(db, prefix, start_runtime, listener):
    start_runtime()
    watcher = listener(f"{prefix}/#")
    with db.session() as s:
        _, thing_id = service.create(s, parse_path("Things"),
                                     thing(Locations=[location()], Datastreams=[datastream()]), principal=SYSTEM,
                                     commit=False)
        ds = s.scalars(select(Datastream).where(Datastream.thing_id == thing_id)).one()
        loc_id = s.scalar(select(Location.id))
        # What the STA writer will do for every entity it inserts (see sta-requests.md):
        for name, id_ in (("Thing", thing_id), ("Datastream", ds.id), ("Location", loc_id)):
            record(s, name, id_)
        s.commit()
    expected = [f"Things", f"Things({thing_id})", "Datastreams", f"Datastreams({ds.id})",
                f"Things({thing_id})/Datastreams", f"Sensors({ds.sensor_id})/Datastreams",
                f"ObservedProperties({ds.observed_property_id})/Datastreams",
                "Locations", f"Locations({loc_id})", f"Things({thing_id})/Locations"]
    assert wait_until(lambda: all(watcher.on(f"{prefix}/{p}") for p in expected))
    [ds_json] = watcher.json_on(f"{prefix}/Things({thing_id})/Datastreams")
    assert ds_json["@iot.id"] == ds.id
    assert ds_json["Thing@iot.navigationLink"] == f"http://testserver/sta/v1.1/Datastreams({ds.id})/Thing"
    assert all(NOTIFICATION_MARKER in m.user_properties for m in watcher.messages)


def test_update_is_announced_on_entity_and_property_topics(db, prefix, start_runtime, listener):
    ds = make_datastream(db)
    start_runtime()
    with db.session() as s:
        thing_id = s.scalar(select(Thing.id))
    watcher = listener(f"{prefix}/Things({thing_id})", f"{prefix}/Things({thing_id})/name",
                       f"{prefix}/Things({thing_id})/description")
    with db.session() as s:
        service.update(s, parse_path(f"Things({thing_id})"), {"name": "Meetkast Oost"}, principal=SYSTEM,
                       commit=False)
        record(s, "Thing", thing_id, "update", {"name"})
        s.commit()
    assert wait_until(lambda: watcher.on(f"{prefix}/Things({thing_id})/name"))
    assert watcher.json_on(f"{prefix}/Things({thing_id})/name") == [{"name": "Meetkast Oost"}]
    assert watcher.json_on(f"{prefix}/Things({thing_id})")[0]["name"] == "Meetkast Oost"
    assert watcher.on(f"{prefix}/Things({thing_id})/description") == []  # unchanged: not announced
    assert ds


def test_select_topic_gets_only_the_selected_properties(db, prefix, start_runtime, listener):
    ds = make_datastream(db)
    select_topic = "Observations?$select=result,phenomenonTime"
    start_runtime(mqtt_select_topics=[select_topic, "Observations?$select=colour"])
    watcher = listener(f"{prefix}/{select_topic}")
    watcher.create(f"{prefix}/Datastreams({ds})/Observations",
                   {"result": 12, "phenomenonTime": "2024-06-01T08:00:00Z"})
    assert wait_until(lambda: watcher.on(f"{prefix}/{select_topic}"))
    assert watcher.json_on(f"{prefix}/{select_topic}") == [
        {"result": 12, "phenomenonTime": "2024-06-01T08:00:00Z"}]


def test_rolled_back_work_is_not_announced(db, prefix, start_runtime, listener):
    rt = start_runtime()
    watcher = listener(f"{prefix}/Sensors")
    with db.session() as s:
        _, sensor_id = service.create(s, parse_path("Sensors"), {
            "name": "s", "description": "d", "encodingType": "application/pdf", "metadata": "m"}, principal=SYSTEM,
            commit=False)
        record(s, "Sensor", sensor_id)
        s.rollback()
        assert pending_changes(s) == []
        _, sensor_id = service.create(s, parse_path("Sensors"), {
            "name": "kept", "description": "d", "encodingType": "application/pdf", "metadata": "m"}, principal=SYSTEM,
            commit=False)
        record(s, "Sensor", sensor_id)
        s.commit()
    assert wait_until(lambda: watcher.on(f"{prefix}/Sensors"))
    assert rt.notifier.drain()
    assert [m["name"] for m in watcher.json_on(f"{prefix}/Sensors")] == ["kept"]
    with db.session() as s:
        assert s.scalar(select(Sensor.name)) == "kept"


def test_app_lifespan_starts_and_stops_the_bus(db, mqtt_settings):
    app = create_app(mqtt_settings, db=db)
    with TestClient(app):
        runtime = app.state.mqtt
        assert runtime.enabled and runtime.running
        assert wait_until(lambda: runtime.bus.connected)
    assert not runtime.running and not runtime.bus.connected
    with db.session() as s:  # the change feed let go of the shared Database
        record(s, "Thing", 1)
        assert pending_changes(s) == []


def test_without_mqtt_url_the_http_api_works_alone(client):
    runtime = client.app.state.mqtt
    assert not runtime.enabled and not runtime.running
    assert client.get("/sta/v1.1/Things").status_code == 200
