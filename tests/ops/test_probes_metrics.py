"""Health probes and the Prometheus endpoint, against a real database on each dialect."""

from __future__ import annotations

import io
import json
import logging

from fastapi.testclient import TestClient

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.core.database import Database
from tests.sensorthings.helpers import STA, new_thing

LOOPBACK = ("127.0.0.1", 40000)


def test_live_and_ready_when_everything_is_up(client):
    assert client.get("/api/v1/health/live").json()["status"] == "ok"
    r = client.get("/api/v1/health/ready")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["database"]["status"] == "up"
    assert r.json()["checks"]["migrations"]["status"] == "up"
    assert "broker" not in r.json()["checks"]  # no broker configured


def test_ready_names_the_unreachable_database(tmp_path):
    url = f"sqlite:///{tmp_path}/missing-dir/none.db"
    app = create_app(Settings(database_url=url), db=Database(url))
    with TestClient(app) as c:
        assert c.get("/api/v1/health/live").status_code == 200
        r = c.get("/api/v1/health/ready")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.json()["down"] == ["database"]


def test_ready_reports_migrations_behind(tmp_path):
    url = f"sqlite:///{tmp_path}/empty.db"
    db = Database(url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('0001')")
    with TestClient(create_app(Settings(database_url=url), db=db)) as c:
        r = c.get("/api/v1/health/ready")
    assert r.status_code == 503
    assert r.json()["down"] == ["migrations"]
    assert "stadslab db upgrade" in r.json()["checks"]["migrations"]["detail"]


def test_ready_reports_broker_down(db):
    settings = Settings(database_url=db.url, mqtt_url="mqtt://127.0.0.1:9")  # nothing listens on port 9
    with TestClient(create_app(settings, db=db)) as c:
        r = c.get("/api/v1/health/ready")
    assert r.status_code == 503
    assert r.json()["down"] == ["broker"]
    assert r.json()["checks"]["database"]["status"] == "up"


def test_ready_reports_broker_up(db, mqtt_url):
    settings = Settings(database_url=db.url, mqtt_url=mqtt_url)
    with TestClient(create_app(settings, db=db)) as c:
        c.app.state.mqtt.wait_ready(10)
        r = c.get("/api/v1/health/ready")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["broker"]["status"] == "up"


def _scrape(app, **kw) -> str:
    with TestClient(app, client=LOOPBACK, **kw) as c:
        r = c.get("/metrics")
    assert r.status_code == 200, r.text
    return r.text


def _sample(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_only_for_loopback_token_or_public(db):
    app = create_app(Settings(database_url=db.url, metrics_token="s3cret-scrape"), db=db)
    with TestClient(app) as remote:  # TestClient's client host is "testclient", not loopback
        assert remote.get("/metrics").status_code == 403
        assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert remote.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"}).status_code == 200
    public = create_app(Settings(database_url=db.url, metrics_public=True), db=db)
    with TestClient(public) as remote:
        assert remote.get("/metrics").status_code == 200
    assert "stadslab_db_pool_connections" in _scrape(app)
    assert "process_resident_memory_bytes" in _scrape(app)


def test_request_metrics_use_route_templates(db):
    from tests.governance.factories import auth_headers, make_token, make_user

    with db.session() as s:
        admin_headers = auth_headers(make_token(s, make_user(s, "admin")))
    app = create_app(Settings(database_url=db.url), db=db)
    before = _scrape(app)
    with TestClient(app, headers=admin_headers) as c:
        ids = new_thing(c)
        for i in range(3):
            r = c.post(f"{STA}/Datastreams({ids['datastream']})/Observations",
                       json={"phenomenonTime": f"2024-06-01T0{i}:00:00Z", "result": i})
            assert r.status_code == 201, r.text
        c.get("/api/v1/projects/999999")
    after = _scrape(app)
    route = "/sta/v1.1/{path:path}"
    assert (_sample(after, "stadslab_http_requests_total", method="POST", route=route, status_class="2xx")
            - _sample(before, "stadslab_http_requests_total", method="POST", route=route, status_class="2xx")) >= 4
    assert (_sample(after, "stadslab_observations_ingested_total", channel="http")
            - _sample(before, "stadslab_observations_ingested_total", channel="http")) == 3
    assert "/api/v1/projects/999999" not in after  # ids never become label values
    assert _sample(after, "stadslab_http_request_duration_seconds_count", method="GET", status_class="4xx") >= 1


def test_json_logs_carry_request_id_and_mask_personal_data():
    from stadslab.core.security import _request_id
    from stadslab.ops.logging import configure_logging

    out = io.StringIO()
    handler = configure_logging("json", "INFO", stream=out)
    try:
        token = _request_id.set("req-42")
        try:
            logging.getLogger("stadslab.test").info("login by jan@example.nl with password=hunter2",
                                                      extra={"account": "piet@example.org"})
        finally:
            _request_id.reset(token)
        logging.getLogger("stadslab.test").warning("no request")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second = [json.loads(line) for line in out.getvalue().splitlines()]
    assert first["request_id"] == "req-42" and first["level"] == "info" and first["logger"] == "stadslab.test"
    assert "jan@example.nl" not in out.getvalue() and "hunter2" not in out.getvalue()
    assert "piet@example.org" not in out.getvalue() and first["account"] == "<email>"
    assert second["request_id"] is None


def test_observations_ingested_counts_observations_not_requests(db):
    """A CreateObservations of many rows and a $batch of several creates count each stored Observation;
    refused rows (``"error"``) and failed batch requests count nothing."""
    from tests.governance.factories import auth_headers, make_token, make_user

    with db.session() as s:
        admin_headers = auth_headers(make_token(s, make_user(s, "admin")))
    app = create_app(Settings(database_url=db.url), db=db)
    with TestClient(app, headers=admin_headers) as c:
        ids = new_thing(c)
        before = _scrape(app)
        rows = [[f"2024-07-01T00:{m:02d}:00Z", m] for m in range(25)] + [["not a time", 1]]
        r = c.post(f"{STA}/CreateObservations", json=[{"Datastream": {"@iot.id": ids["datastream"]},
                                                        "components": ["phenomenonTime", "result"],
                                                        "dataArray": rows}])
        assert r.status_code == 201 and r.json().count("error") == 1, r.text
        r = c.post(f"{STA}/$batch", json={"requests": [
            {"id": str(n), "method": "post", "url": f"Datastreams({ids['datastream']})/Observations",
             "body": {"phenomenonTime": f"2024-07-02T0{n}:00:00Z", "result": n}} for n in range(4)] + [
            {"id": "bad", "method": "post", "url": "Observations", "body": {"result": 1}}]})
        assert r.status_code == 200 and [x["status"] for x in r.json()["responses"]] == [201] * 4 + [400], r.text
        after = _scrape(app)
    assert (_sample(after, "stadslab_observations_ingested_total", channel="http")
            - _sample(before, "stadslab_observations_ingested_total", channel="http")) == 25 + 4
