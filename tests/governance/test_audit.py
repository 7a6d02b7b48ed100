"""The audit trail: joins the caller's unit of work, hash chain, append-only, concurrency, API."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from stadslab.core.auth import SYSTEM, Principal
from stadslab.governance import audit
from stadslab.governance.models import AuditEvent
from stadslab.network.models import Organisation

from tests.conftest import PG_URL, empty_tables, require_service

from .audit_helpers import bypass_guard
from .factories import auth_headers, make_token, make_user


def _events(session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.chain, AuditEvent.seq)))


def _write(db, n: int, name: str) -> None:
    with db.session() as s:
        for i in range(n):
            org = Organisation(name=f"{name} {i}", kind="company")
            s.add(org)
            s.flush()
            audit.record(s, SYSTEM, "organisation.create", "organisation", org.id, None, {"name": org.name})
        s.commit()


def test_event_exists_iff_the_change_does(db, session):
    with db.session() as s:
        org = Organisation(name="Teruggedraaid", kind="company")
        s.add(org)
        s.flush()
        audit.record(s, SYSTEM, "organisation.create", "organisation", org.id, None, {"name": org.name})
        s.rollback()
    assert _events(session) == []
    _write(db, 1, "Blijft")
    events = _events(session)
    assert [e.action for e in events] == ["organisation.create"] and events[0].after == {"name": "Blijft 0"}
    assert session.scalar(select(func.count()).select_from(Organisation)) == 1


def test_chain_verifies_and_detects_a_modified_row(db, session):
    _write(db, 5, "Keten")
    assert audit.verify_chain(session) == (True, None)
    events = _events(session)
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))
    bypass_guard(db, "UPDATE audit_events SET after = :after WHERE seq = 3",
                 params={"after": '{"name": "Vervalst"}'})
    session.expire_all()
    assert audit.verify_chain(session) == (False, 3)


def test_chain_detects_removed_rows_in_the_middle_and_at_the_end(db, session):
    _write(db, 4, "Gat")
    bypass_guard(db, "DELETE FROM audit_events WHERE seq = 4")
    assert audit.verify_chain(session) == (False, 4)
    bypass_guard(db, "DELETE FROM audit_events WHERE seq = 2")
    assert audit.verify_chain(session) == (False, 2)


def test_chain_detects_a_recomputed_forgery(db, session):
    """Rewriting one row and its own hash still breaks the link to the next row."""
    _write(db, 3, "Vervalsing")
    row = dict(session.execute(select(AuditEvent.__table__).where(AuditEvent.seq == 2)).mappings().one())
    row["action"] = "organisation.delete"
    forged = audit.event_hash(row)
    bypass_guard(db, "UPDATE audit_events SET action = 'organisation.delete', hash = :h WHERE seq = 2",
                 params={"h": forged})
    session.expire_all()
    assert audit.verify_chain(session) == (False, 3)


@pytest.mark.parametrize("sql", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"])
def test_database_rejects_update_and_delete(db, session, sql):
    _write(db, 2, "Onveranderlijk")
    with pytest.raises(DBAPIError) as info:
        with db.engine.begin() as conn:
            conn.execute(text(sql))
    assert "append-only" in str(info.value)
    assert audit.verify_chain(session) == (True, None)
    assert len(_events(session)) == 2


def test_two_concurrent_writers_keep_unbroken_chains(db, session):
    """Two writers with open transactions at once, interleaved step by step.

    On PostgreSQL both have flushed a change and appended to the trail before either
    commits: each takes its own chain head, so neither waits for the other (a wait would
    end in the lock timeout set below, not hang), and every chain stays unbroken. SQLite
    lets one writer in at a time, so there the two write one after the other, on one chain.
    One thread drives both sessions: no barrier, no scheduling to wait for.
    """
    if db.dialect == "postgresql":
        with db.session() as left, db.session() as right:
            for s in (left, right):
                s.execute(text("SET LOCAL lock_timeout = '10s'"))
            for i in range(5):
                for name, s in (("Links", left), ("Rechts", right)):
                    org = Organisation(name=f"{name} {i}", kind="company")
                    s.add(org)
                    s.flush()
                    audit.record(s, SYSTEM, "organisation.create", "organisation", org.id, None, {"n": i})
            left.commit()
            right.commit()
    else:
        _write(db, 5, "Links")
        _write(db, 5, "Rechts")
    events = _events(session)
    assert len(events) == 10
    chains: dict[int, list[int]] = {}
    for e in events:
        chains.setdefault(e.chain, []).append(e.seq)
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in chains.values())
    assert len(chains) == (2 if db.dialect == "postgresql" else 1)
    assert audit.verify_chain(session) == (True, None)


@pytest.fixture
def pg_db(_databases):
    """PostgreSQL only (SQLite keeps one chain); fails in CI when PostgreSQL is not configured."""
    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set: several chains exist on PostgreSQL only")
    database = _databases.get("postgresql")
    try:
        yield database
    finally:
        empty_tables(database)


def test_a_broken_second_chain_is_reported_with_its_number(pg_db):
    db = pg_db
    held = threading.Event()
    release = threading.Event()

    def hold_chain_one() -> None:
        with db.session() as s:
            audit.record(s, SYSTEM, "organisation.create", "organisation", 1, None, {"n": "eerste"})
            held.set()
            release.wait(30)
            s.commit()

    t = threading.Thread(target=hold_chain_one)
    t.start()
    assert held.wait(30)
    _write(db, 2, "Tweede keten")  # chain 1 is locked: these go to chain 2, without waiting
    release.set()
    t.join(30)
    with db.session() as session:
        assert {e.chain for e in _events(session)} == {1, 2}
        assert audit.verify_chains(session) == (True, None, None)
    bypass_guard(db, "UPDATE audit_events SET after = :after WHERE chain = 2 AND seq = 2",
                 params={"after": '{"name": "Vervalst"}'})
    with db.session() as session:
        assert audit.verify_chains(session) == (False, 2, 2)


def test_personal_fields_are_withheld_and_actors_pseudonymous(db, session, orgs):
    user = make_user(session, "editor", orgs[0], email="persoon@example.org", display_name="Piet Persoon")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create"))
    dumped = repr(event.after) + repr(event.before)
    assert "persoon@example.org" not in dumped and "Piet" not in dumped
    assert event.after["email"] == audit.WITHHELD and event.after["role"] == "editor"
    principal = Principal(user_id=user.id, organisation_id=orgs[0].id, role="editor", via="session")
    with db.session() as s:
        audit.record(s, principal, "test.action", "thing", 1, None, None)
        s.commit()
    last = _events(session)[-1]
    assert last.actor_type == "user" and last.actor_ref == audit.pseudonym_for(session, user.id, create=False)
    assert str(user.id) != last.actor_ref


def test_admin_query_csv_and_verify_endpoints(client, session, orgs):
    admin = make_user(session, "admin", None)
    admin_token = make_token(session, admin)
    editor = make_user(session, "editor", orgs[0])
    make_token(session, editor)
    h = auth_headers(admin_token)
    r = client.get("/api/v1/audit", params={"entity_type": "api_token"}, headers=h)
    assert r.status_code == 200 and r.json()["total"] == 2
    r = client.get("/api/v1/audit", params={"actor": "system", "entity_type": "user"}, headers=h)
    assert {e["entity_id"] for e in r.json()["items"]} == {str(admin.id), str(editor.id)}
    # the API token request gets an id that lands in the audit trail
    r = client.post("/api/v1/tokens", json={"name": "mine", "scopes": ["admin"]},
                    headers={**h, "X-Request-ID": "req-12345"})
    assert r.status_code == 201
    r = client.get("/api/v1/audit", params={"actor": f"user:{admin.id}"}, headers=h)
    items = r.json()["items"]
    assert [e["action"] for e in items] == ["token.create"] and items[0]["request_id"] == "req-12345"
    r = client.get("/api/v1/audit", params={"actor": "user:abc"}, headers=h)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "query.actor"
    r = client.get("/api/v1/audit.csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    # 2 users, each with the binding of their audit pseudonym (migration 0017), 2 tokens, 1 token
    assert len(rows) == 7 and rows[0]["seq"] == "1" and rows[-1]["action"] == "token.create"
    assert sum(row["action"] == audit.BIND_ACTION for row in rows) == 2
    r = client.get("/api/v1/audit/verify", headers=h)
    assert r.json() == {"ok": True, "first_bad_chain": None, "first_bad_seq": None, "events": 7,
                        "actors_ok": True, "first_bad_actor": None, "unbound_actors": 0}
    # not for editors, not for anonymous
    editor_token = make_token(session, editor)
    assert client.get("/api/v1/audit", headers=auth_headers(editor_token)).status_code == 403
    assert client.get("/api/v1/audit/verify").status_code == 401


def test_no_update_or_delete_routes_for_audit(client, session):
    token = make_token(session, make_user(session, "admin", None))
    for method in ("PUT", "PATCH", "DELETE"):
        r = client.request(method, "/api/v1/audit", headers=auth_headers(token))
        assert r.status_code == 405
