"""Audit covers who did it (issue #13 item 8), on both databases.

The pseudonym-to-user mappings (``audit_actors``) are bound into the hash chain (migration
0017): swapping two of them is reported by ``stadslab audit verify`` and ``GET /audit/verify``,
erasure keeps everything verifiable, and the chain head can be exported (signed) and later
checked against a trail that may have been rewritten as a whole.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from stadslab.cli import app as cli
from stadslab.core.config import get_settings
from stadslab.governance import audit
from stadslab.governance.models import AuditActor, AuditEvent

from .audit_helpers import bypass_guard
from .factories import auth_headers, make_token, make_user

HEAD_KEY = "een-aparte-sleutel-voor-de-kop-van-de-keten"


@pytest.fixture
def run(db, monkeypatch):
    monkeypatch.setenv("STADSLAB_DATABASE_URL", db.url)
    monkeypatch.setenv("STADSLAB_AUDIT_HEAD_KEY", HEAD_KEY)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, list(args))
    get_settings.cache_clear()


def _mappings(session) -> dict[int, str]:
    session.expire_all()
    return {a.user_id: a.pseudonym for a in session.scalars(select(AuditActor))}


def test_swapping_two_mappings_is_detected(db, session, client, run):
    alice, bob = make_user(session, "editor"), make_user(session, "editor")
    ids = (alice.id, bob.id)
    pseudonyms = _mappings(session)
    assert audit.verify_actors(session) == audit.ActorCheck(True, None, 0)
    r = run("audit", "verify")
    assert r.exit_code == 0 and "Actor mappings intact" in r.stdout, r.stdout
    a, b = pseudonyms[ids[0]], pseudonyms[ids[1]]
    bypass_guard(db, "UPDATE audit_actors SET user_id = NULL WHERE pseudonym = :a",
                 "UPDATE audit_actors SET user_id = :alice WHERE pseudonym = :b",
                 "UPDATE audit_actors SET user_id = :bob WHERE pseudonym = :a",
                 params={"a": a, "b": b, "alice": ids[0], "bob": ids[1]})
    assert _mappings(session) == {ids[0]: b, ids[1]: a}  # swapped: the chain itself is untouched
    assert audit.verify_chain(session) == (True, None)
    found = audit.verify_actors(session)
    assert not found.ok and found.bad_pseudonym in (a, b)
    r = run("audit", "verify")
    assert r.exit_code == 1 and "Actor mapping BROKEN" in r.stdout, r.stdout
    admin = auth_headers(make_token(session, make_user(session, "admin")))
    body = client.get("/api/v1/audit/verify", headers=admin).json()
    assert body["ok"] is False and body["actors_ok"] is False and body["first_bad_actor"] in (a, b)


def test_swapping_whole_rows_salt_included_is_detected(db, session):
    alice, bob = make_user(session, "editor"), make_user(session, "editor")
    rows = {r.pseudonym: (r.user_id, r.salt) for r in session.scalars(select(AuditActor))}
    (a, (ua, sa)), (b, (ub, sb)) = sorted(rows.items())
    bypass_guard(db, "UPDATE audit_actors SET user_id = NULL WHERE pseudonym = :a",
                 "UPDATE audit_actors SET user_id = :ua, salt = :sa WHERE pseudonym = :b",
                 "UPDATE audit_actors SET user_id = :ub, salt = :sb WHERE pseudonym = :a",
                 params={"a": a, "b": b, "ua": ua, "sa": sa, "ub": ub, "sb": sb})
    session.expire_all()
    assert not audit.verify_actors(session).ok


def test_a_mapping_inserted_behind_the_platforms_back_is_detected(db, session):
    user = make_user(session, "editor")
    other = make_user(session, "member")
    bypass_guard(db, "DELETE FROM audit_actors WHERE user_id = :u",
                 "INSERT INTO audit_actors (pseudonym, user_id, salt) VALUES ('ff00ff00ff00ff00ff00ff00', :u, :s)",
                 params={"u": user.id, "s": "0" * 32})
    assert audit.verify_actors(session) == audit.ActorCheck(False, "ff00ff00ff00ff00ff00ff00", 0)
    assert other.id  # the other mapping is untouched


def test_erasure_keeps_mappings_verifiable(session, client):
    person = make_user(session, "editor")
    admin = auth_headers(make_token(session, make_user(session, "admin")))
    assert client.post(f"/api/v1/privacy/users/{person.id}/erase", headers=admin).status_code == 200
    session.expire_all()
    assert audit.verify_chain(session) == (True, None)
    assert audit.verify_actors(session).ok
    body = client.get("/api/v1/audit/verify", headers=admin).json()
    assert body["ok"] is True and body["actors_ok"] is True


def test_mappings_from_before_0017_are_reported_then_bound(db, session, run):
    user = make_user(session, "editor")
    bypass_guard(db, "UPDATE audit_actors SET salt = NULL WHERE user_id = :u",
                 "DELETE FROM audit_events WHERE action = 'audit_actor.bind'",
                 params={"u": user.id})
    bypass_guard(db, *_rechain_statements(db, session))  # as if the trail had been written before 0017
    assert audit.verify_chain(session) == (True, None)
    assert audit.verify_actors(session) == audit.ActorCheck(True, None, 1)
    r = run("audit", "verify")
    assert r.exit_code == 0 and "1 from before migration 0017" in r.stdout, r.stdout
    r = run("audit", "bind-actors")
    assert r.exit_code == 0 and "1 actor mapping(s) bound" in r.stdout
    session.expire_all()
    assert audit.verify_chain(session) == (True, None)
    assert audit.verify_actors(session) == audit.ActorCheck(True, None, 0)


def _rechain_statements(db, session) -> list[str]:
    """Recompute every remaining event's hash and the heads (a consistent pre-0017 trail)."""
    session.expire_all()
    statements, heads = [], {}
    table = AuditEvent.__table__
    rows = session.execute(select(table).order_by(table.c.chain, table.c.seq)).mappings().all()
    for row in rows:
        fields = dict(row)
        chain = fields["chain"]
        seq, prev = heads.get(chain, (0, audit.GENESIS))
        fields["seq"], fields["prev_hash"] = seq + 1, prev
        new_hash = audit.event_hash(fields)
        statements.append(f"UPDATE audit_events SET seq = {seq + 1}, prev_hash = '{prev}', hash = '{new_hash}' "
                          f"WHERE chain = {chain} AND seq = {row['seq']}")
        heads[chain] = (seq + 1, new_hash)
    for chain, (seq, last) in heads.items():
        statements.append(f"UPDATE audit_chain_head SET seq = {seq}, hash = '{last}' WHERE id = {chain}")
    return statements


def test_exported_head_is_signed_and_checked_against_a_rewritten_trail(db, session, run, tmp_path):
    make_user(session, "editor")
    head_file = tmp_path / "audit-head.json"
    r = run("audit", "head", "--sign", "-o", str(head_file))
    assert r.exit_code == 0, r.output
    document = json.loads(head_file.read_text())
    assert document["format"] == audit.HEAD_FORMAT and document["signature"].startswith("hmac-sha256:")
    assert document["chains"]  # the events so far
    make_user(session, "member")  # the trail grows: it still contains (extends) the exported head
    r = run("audit", "verify", "--head", str(head_file))
    assert r.exit_code == 0 and "Exported head contained" in r.stdout, r.stdout

    edited = dict(document, at="2000-01-01T00:00:00+00:00")
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    r = run("audit", "verify", "--head", str(tmp_path / "edited.json"))
    assert r.exit_code == 1 and "signature does not match" in r.stdout

    # A full rewrite by someone with database access: every event gone, the heads reset.
    # The trail on its own looks intact (empty); only the exported head tells.
    bypass_guard(db, "DELETE FROM audit_events", f"UPDATE audit_chain_head SET seq = 0, hash = '{audit.GENESIS}'",
                 "UPDATE audit_actors SET salt = NULL")
    assert audit.verify_chain(session) == (True, None)
    r = run("audit", "verify", "--head", str(head_file))
    assert r.exit_code == 1 and "no longer contains" in r.stdout, r.stdout


def test_head_documents_that_are_not_ones(db, session, run, tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    r = run("audit", "verify", "--head", str(tmp_path / "bad.json"))
    assert r.exit_code == 2 and "Cannot read the head document" in r.output
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    r = run("audit", "verify", "--head", str(tmp_path / "other.json"))
    assert r.exit_code == 1 and "not an audit head document" in r.stdout
    r = run("audit", "head")  # unsigned, to standard output
    assert r.exit_code == 0 and "signature" not in json.loads(r.stdout)
