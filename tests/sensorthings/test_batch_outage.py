"""``$batch`` while the database goes away: each request answers 503 (or 507) with its reason, never 500.

The failure is real: on PostgreSQL the server ends the connection in the middle of the batch
(``pg_terminate_backend`` from a second connection); on SQLite the database file may not grow
any more (``max_page_count``), SQLite's "database or disk is full". Nothing of the batch is kept.
"""

from __future__ import annotations

from sqlalchemy import create_engine, event, text

from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .helpers import STA, counts, new_thing


def _break_on_second_insert(db):
    """From the first Observation insert on, the database is really unavailable to this statement."""
    seen = {"n": 0}
    admin = create_engine(db.url) if db.dialect == "postgresql" else None

    def before(conn, cursor, statement, parameters, context, executemany):
        if "INSERT INTO sta_observations" not in statement:
            return
        seen["n"] += 1
        if seen["n"] != 1:
            return
        if admin is not None:
            pid = cursor.connection.info.backend_pid
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        else:
            pages = cursor.connection.execute("PRAGMA page_count").fetchone()[0]
            cursor.connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(db.engine, "before_cursor_execute", before)
    return lambda: (event.remove(db.engine, "before_cursor_execute", before), admin and admin.dispose())


def test_batch_during_a_database_outage_answers_each_request_with_503_and_retry_after(client, db):
    ids = new_thing(client)
    before = counts(client)
    big = {"result": "x" * 60_000}  # on SQLite the insert needs new pages
    requests = [{"id": str(n), "method": "post", "url": f"Datastreams({ids['datastream']})/Observations",
                 "body": {**big, "phenomenonTime": f"2026-01-0{n}T00:00:00Z"}} for n in range(1, 5)]
    requests.insert(0, {"id": "bad", "method": "post", "url": "Sensors", "body": {"name": "no description"}})
    if db.dialect == "sqlite":  # pages freed by earlier tests would take the insert without growing the file
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM"))
    restore = _break_on_second_insert(db)
    try:
        r = client.post(f"{STA}/$batch", json={"requests": requests})
    finally:
        restore()
        if db.dialect == "sqlite":
            with db.engine.connect() as conn:  # every pooled connection gets its limit back
                conn.execute(text("PRAGMA max_page_count = 1073741823"))
            db.engine.dispose()
    assert r.status_code == 200, r.text
    out = {x["id"]: x for x in r.json()["responses"]}
    expected = 503 if db.dialect == "postgresql" else 507
    for n in "1234":
        assert out[n]["status"] == expected, out[n]
        assert out[n]["body"]["status"] == expected
        if expected == 503:
            assert int(out[n]["headers"]["retry-after"]) > 0
    assert out["bad"]["status"] == 400  # ran before the outage: the client's own mistake stays a 400
    assert all(x["status"] != 500 for x in out.values())
    assert counts(client) == before  # nothing of the batch kept
