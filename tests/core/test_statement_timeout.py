"""No single request can hold the server (issue #13 item 5): every statement runs under a timeout.

``STADSLAB_STATEMENT_TIMEOUT_MS`` bounds each statement of request work (PostgreSQL
``statement_timeout``, SQLite a progress handler). A statement that runs out answers 503 +
Retry-After with what to do, and the server answers the next request normally. The tests use a
tiny timeout and queries that are slow whatever the machine (no timing is asserted):
an anonymous ``any()`` over the Observations of a busy FeatureOfInterest, and a huge recursive CTE.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.core.database import Database, lift_statement_timeout
from stadslab.core.errors import database_problem
from tests.governance.factories import auth_headers, make_token, make_user

STA = "/sta/v1.1"
TIMEOUT_MS = 200
#: Counts to a billion: minutes of work on any machine, so only the timeout can end it quickly.
SLOW = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
            "SELECT count(*) FROM n")
#: The filter of the issue, for every Observation all Observations of its FeatureOfInterest, in a form
#: PostgreSQL cannot turn into a cheap semi-join either (quadratic on both: seconds for 3,000 rows).
ANY_FILTER = "FeatureOfInterest/Observations/any(o: o/result gt result)"


@pytest.fixture
def bounded(db):
    """A second Database on the same storage, with the tiny statement timeout of the app under test."""
    database = Database(db.url, statement_timeout_ms=TIMEOUT_MS)
    yield database
    database.dispose()


def _observations(client, n: int) -> None:
    thing = {"name": "Meetkast", "description": "d", "Locations": [
        {"name": "L", "description": "d", "encodingType": "application/geo+json",
         "location": {"type": "Point", "coordinates": [4.9, 52.37]}}],
        "Datastreams": [{"name": "DS", "description": "d", "observationType":
                         "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                         "unitOfMeasurement": {"name": "u", "symbol": "u", "definition": "https://qudt.org"},
                         "Sensor": {"name": "S", "description": "d", "encodingType": "application/pdf",
                                    "metadata": "https://example.org/s.pdf"},
                         "ObservedProperty": {"name": "P", "definition": "https://example.org/p", "description": "d"}}]}
    r = client.post(f"{STA}/Things", json=thing)
    assert r.status_code == 201, r.text
    ds = client.get(f"{STA}/Things({r.json()['@iot.id']})/Datastreams").json()["value"][0]["@iot.id"]
    for start in range(0, n, 1000):  # one FeatureOfInterest (the Thing's Location) for all of them
        rows = [["2024-01-01T00:00:00Z", 0] for _ in range(start, min(n, start + 1000))]
        r = client.post(f"{STA}/CreateObservations", json=[{"Datastream": {"@iot.id": ds},
                                                            "components": ["phenomenonTime", "result"],
                                                            "dataArray": rows}])
        assert r.status_code == 201 and "error" not in r.json(), r.text[:300]


def test_an_expensive_filter_gets_503_and_the_next_request_is_answered(db, bounded):
    with db.session() as s:
        headers = auth_headers(make_token(s, make_user(s, "admin")))
    with TestClient(create_app(Settings(database_url=db.url), db=db), headers=headers) as writer:
        _observations(writer, 3000)
    app = create_app(Settings(database_url=db.url, statement_timeout_ms=TIMEOUT_MS), db=bounded)
    with TestClient(app) as anonymous:
        r = anonymous.get(f"{STA}/Observations", params={"$filter": ANY_FILTER, "$count": "true"})
        assert r.status_code == 503, r.text[:300]
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["retry-after"]) > 0
        assert "took longer than 0.2 s" in r.json()["detail"] and "narrow" in r.json()["detail"]
        after = anonymous.get(f"{STA}/Things")
        assert after.status_code == 200 and after.json()["value"][0]["name"] == "Meetkast"


def test_a_slow_statement_is_cut_off_and_maps_to_503(bounded):
    with bounded.engine.connect() as conn:
        with pytest.raises(OperationalError) as info:
            conn.execute(SLOW)
        conn.rollback()
        assert conn.execute(text("SELECT 1")).scalar() == 1  # the connection stays usable
    mapped = database_problem(info.value, statement_timeout_ms=TIMEOUT_MS)
    assert mapped is not None and mapped.status == 503 and "took longer than 0.2 s" in mapped.detail
    assert mapped.headers["Retry-After"]


def test_maintenance_lifts_the_timeout_for_its_transaction_only(bounded):
    small = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
                 "SELECT count(*) FROM n")  # longer than 0.2 s, bounded
    with bounded.session() as s:
        lift_statement_timeout(s)
        assert s.execute(small).scalar() == 3000000
        s.commit()
        with pytest.raises(OperationalError):  # the next transaction is bounded again
            s.execute(SLOW)


def test_a_slow_reader_between_fetches_is_not_cut_off(bounded):
    """Only run time counts: a client streaming a large export reads longer than the timeout."""
    import time

    # each row costs a scan of 20,000 rows (milliseconds, enough for SQLite to call its handler)
    rows = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) "
                "SELECT i, (SELECT count(*) FROM big WHERE big.k <> n.i) AS c FROM n")
    with bounded.session() as s:
        s.execute(text("CREATE TEMP TABLE big AS WITH RECURSIVE m(k) AS (SELECT 1 UNION ALL SELECT k + 1 "
                       "FROM m WHERE k < 20000) SELECT k FROM m"))
        seen = []
        for row in s.execute(rows.execution_options(yield_per=1)):
            seen.append(row.i)
            time.sleep(TIMEOUT_MS / 1000 / 2)  # 5 pauses: 2.5 times the timeout in all
    assert seen == [1, 2, 3, 4, 5]


def test_the_app_builds_its_database_with_the_configured_timeout(db):
    app = create_app(Settings(database_url=db.url, statement_timeout_ms=1234))
    own = app.state.db
    try:
        assert own.statement_timeout_ms == 1234 and Settings().statement_timeout_ms == 30000
        if db.dialect == "postgresql":
            with own.engine.connect() as conn:
                assert conn.execute(text("SHOW statement_timeout")).scalar() == "1234ms"
    finally:
        own.dispose()


def test_the_group_commit_works_under_the_timeout(db):
    """PostgreSQL's pipelined group commit and SQLite's progress handler, with the timeout on."""
    import asyncio

    import orjson

    from stadslab.governance import audit
    from stadslab.sensorthings.write.group_commit import GroupCommit, candidate

    with db.session() as s:
        secret = make_token(s, make_user(s, "admin"))
    with TestClient(create_app(Settings(database_url=db.url), db=db), headers=auth_headers(secret)) as c:
        _observations(c, 1)  # the first one makes the FeatureOfInterest the group commit needs
        ds = c.get(f"{STA}/Datastreams").json()["value"][0]["@iot.id"]
    big = Database(db.url, statement_timeout_ms=60_000)  # the group commit is fast; only its path matters
    create_app(Settings(database_url=db.url), db=big)  # as the server: SQLite functions on its engine
    writer = GroupCommit(big, max_batch=16, writers=2, linger_ms=1.0)
    items = [candidate(f"Datastreams({ds})/Observations", f"Bearer {secret}", orjson.dumps({"result": i, "phenomenonTime": f"2025-06-01T00:{i:02d}:00Z"}))
             for i in range(20)]

    async def run():
        return await asyncio.gather(*(writer.store(item, None) for item in items))

    try:
        stored = asyncio.run(run())
    finally:
        writer.stop()
        big.dispose()
    assert len(stored) == 20 and all(s is not None for s in stored)
    with db.session() as s:
        assert audit.verify_chain(s) == (True, None)
