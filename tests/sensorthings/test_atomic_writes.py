"""Every write is one unit: an exception after its first statement leaves no row and no audit event.

The failure is injected into the audit trail (``audit.chain_events``), which every write path
calls after its own rows are written, or into the read-back of the answer. The client gets a
500 with a reference id, and the database is as before, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stadslab.governance import audit
from stadslab.governance.models import AuditEvent

from .helpers import STA, counts, datastream, full_thing, location, new_thing, thing


class Injected(RuntimeError):
    pass


@pytest.fixture
def client(app, admin_headers):
    with TestClient(app, headers=admin_headers, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def fail_audit(monkeypatch):
    """``fail_audit(after=n)``: the audit trail works n more times, then raises."""
    real = audit.chain_events

    def arm(after: int = 0):
        left = [after]

        def chain_events(*args, **kwargs):
            if left[0] <= 0:
                raise Injected("injected failure after the write's first statement")
            left[0] -= 1
            return real(*args, **kwargs)

        monkeypatch.setattr(audit, "chain_events", chain_events)
    return arm


def audit_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


def assert_500_with_reference(r) -> None:
    assert r.status_code == 500, r.text
    assert re.search(r"Reference: [0-9a-f]{12}", r.json()["detail"]), r.text


@pytest.fixture
def before(client, db):
    """A Thing with its Datastream and Observations, and the counts after creating it."""
    ids = new_thing(client)
    return ids, counts(client), audit_count(db)


@pytest.mark.parametrize("name, method, path, body", [
    ("single create", "POST", "Sensors", {"name": "s", "description": "d", "encodingType": "application/pdf",
                                          "metadata": "https://example.org/s.pdf"}),
    ("deep insert", "POST", "Things", full_thing(n_obs=3)),
    ("observation, general writer", "POST", "Observations",
     {"result": 1, "Datastream": {"@iot.id": 1},
      "FeatureOfInterest": {"name": "f", "description": "d", "encodingType": "application/geo+json",
                            "feature": {"type": "Point", "coordinates": [5, 52]}}}),
    ("group-commit POST", "POST", "Datastreams(1)/Observations", {"result": 42}),
    ("PATCH", "PATCH", "Things(1)", {"name": "nieuw", "properties": {"wijk": "Noord"}}),
    ("PUT", "PUT", "Things(1)", {"name": "nieuw", "description": "anders"}),
    ("DELETE", "DELETE", "Things(1)", None),
    ("CreateObservations", "POST", "CreateObservations",
     [{"Datastream": {"@iot.id": 1}, "components": ["result"], "dataArray": [[1], [2], [3]]}]),
])
def test_a_failure_after_the_first_statement_rolls_the_http_write_back(client, db, before, fail_audit,
                                                                       name, method, path, body):
    ids, counts_before, audits = before
    assert ids["thing"] == 1 and ids["datastream"] == 1
    thing_before = client.get(f"{STA}/Things(1)").json()
    fail_audit()
    r = client.request(method, f"{STA}/{path}", json=body)
    assert_500_with_reference(r)
    assert counts(client) == counts_before
    assert client.get(f"{STA}/Things(1)").json() == thing_before
    assert audit_count(db) == audits


def test_a_failure_while_answering_rolls_the_write_back(client, db, before, monkeypatch):
    """The read-back of the stored entity fails: the 500 means "not stored", never "stored anyway"."""
    from stadslab.sensorthings.api import dispatch

    _ids, counts_before, audits = before

    def broken(*args, **kwargs):
        raise Injected("reading the entity back failed")

    monkeypatch.setattr(dispatch, "_entity", broken)
    assert_500_with_reference(client.post(f"{STA}/Things", json=thing()))
    assert_500_with_reference(client.patch(f"{STA}/Things(1)", json={"name": "nieuw"}))
    assert counts(client) == counts_before and audit_count(db) == audits
    assert client.get(f"{STA}/Things(1)").json()["name"] != "nieuw"


def test_a_failure_in_a_batch_changeset_rolls_back_the_whole_changeset_only(client, db, before, fail_audit):
    _ids, counts_before, audits = before
    fail_audit(after=2)  # "solo" and "t" are audited; "s" fails after its insert
    r = client.post(f"{STA}/$batch", json={"requests": [
        {"id": "solo", "method": "post", "url": "ObservedProperties",
         "body": {"name": "solo", "definition": "https://example.org/solo", "description": "d"}},
        {"id": "t", "method": "post", "url": "Things", "body": thing(Locations=[location()]), "atomicityGroup": "g"},
        {"id": "s", "method": "post", "url": "Things", "body": thing(Datastreams=[datastream()]),
         "atomicityGroup": "g"}]})
    assert r.status_code == 200, r.text
    status = {a["id"]: a["status"] for a in r.json()["responses"]}
    assert status == {"solo": 201, "t": 424, "s": 500}
    failed = next(a for a in r.json()["responses"] if a["id"] == "s")
    assert re.search(r"Reference: [0-9a-f]{12}", failed["body"]["detail"])
    after = counts(client)
    assert after["ObservedProperties"] == counts_before["ObservedProperties"] + 1
    assert {k: v for k, v in after.items() if k != "ObservedProperties"} == \
        {k: v for k, v in counts_before.items() if k != "ObservedProperties"}
    assert audit_count(db) == audits + 1  # the independent request's event only


def test_a_failure_after_the_first_statement_rolls_a_registry_write_back(client, db, fail_audit):
    from tests.factories import project_payload

    audits = audit_count(db)
    fail_audit()
    assert_500_with_reference(client.post("/api/v1/projects", json=project_payload()))
    assert client.get("/api/v1/projects").json()["total"] == 0
    assert audit_count(db) == audits


def test_a_failure_after_the_first_statement_rolls_a_web_form_back(app, db, fail_audit):
    from stadslab.labs import service as labs
    from stadslab.labs.models import Project
    from stadslab.labs.schemas import ProjectIn
    from tests.factories import EINDHOVEN, project_payload
    from tests.web.conftest import HTML, web_login
    from tests.web.seed import seed_accounts

    with db.session() as s:
        accounts = seed_accounts(s)
        project_id = labs.create_project(s, ProjectIn(**project_payload(
            title="Slimme lantaarnpalen Woensel", city=EINDHOVEN, status="pilot",
            owner_organisation_id=accounts.organisation_id, start_date="2024-01-01"))).id
    with TestClient(app, base_url="https://testserver", headers=HTML, raise_server_exceptions=False) as web:
        csrf = web_login(web, accounts.editor_email)
        audits = audit_count(db)
        fail_audit()
        r = web.post(f"/projecten/{project_id}/bewerken", data={
            "csrf_token": csrf, "title": "Slimme lantaarnpalen Woensel-Noord", "summary": "Nieuw",
            "status": "evaluated", "start_date": "2024-06-01", "end_date": "2025-01-31"}, follow_redirects=False)
    assert r.status_code == 500
    with db.session() as s:
        p = s.get(Project, project_id)
        assert (p.title, p.status) == ("Slimme lantaarnpalen Woensel", "pilot")
    assert audit_count(db) == audits
