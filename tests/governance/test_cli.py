"""``stadslab user|token|loket|privacy|audit`` against the same database as the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from stadslab.cli import app as cli
from stadslab.core.config import get_settings
from stadslab.core.database import utcnow
from stadslab.governance.models import ApiToken, AuditEvent, LoketRequest, User

from .factories import auth_headers

PASSWORD = "een lang genoeg wachtwoord"


@pytest.fixture
def run(db, monkeypatch):
    monkeypatch.setenv("STADSLAB_DATABASE_URL", db.url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input)

    yield invoke
    get_settings.cache_clear()


def test_user_lifecycle(run, session, client, orgs):
    r = run("user", "add", "beheer@example.org", "--name", "Beheer", "--role", "admin", "--password-stdin",
            input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    r = run("user", "add", "redacteur@example.org", "--role", "editor", "--organisation", str(orgs[0].id),
            input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    user = session.scalar(select(User).where(User.email == "redacteur@example.org"))
    assert user.role == "editor" and user.organisation_id == orgs[0].id
    assert client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}).status_code == 200
    r = run("user", "list")
    assert r.exit_code == 0 and "redacteur@example.org" in r.stdout and "beheer@example.org" in r.stdout
    assert run("user", "set-role", "redacteur@example.org", "member").exit_code == 0
    assert run("user", "set-role", "redacteur@example.org", "overlord").exit_code == 2
    assert run("user", "set-password", "redacteur@example.org", "--password-stdin",
               input="nieuw wachtwoord 2026\n").exit_code == 0
    assert client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}).status_code == 401
    assert run("user", "disable", "redacteur@example.org").exit_code == 0
    session.expire_all()
    assert session.get(User, user.id).active is False and session.get(User, user.id).role == "member"
    r = run("user", "add", "redacteur@example.org", "--password-stdin", input=PASSWORD + "\n")
    assert r.exit_code == 2 and "already exists" in r.output
    r = run("user", "add", "kort@example.org", "--password-stdin", input="kort\n")
    assert r.exit_code == 2 and "password" in r.output
    assert run("user", "disable", "ghost@example.org").exit_code == 2
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor_type == "system")).all()
    assert actions.count("user.create") == 2 and "user.password" in actions


def test_token_create_list_revoke(run, session, client, orgs):
    run("user", "add", "api@example.org", "--role", "editor", "--organisation", str(orgs[0].id), "--no-password")
    r = run("token", "create", "--user", "api@example.org", "--name", "import", "--scope", "registry:write",
            "--scope", "sta:write", "--days", "30")
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip().splitlines()[-1]
    assert secret.startswith("stl_")
    me = client.get("/api/v1/auth/me", headers=auth_headers(secret)).json()
    assert me["scopes"] == ["registry:write", "sta:write"]
    r = run("token", "create", "--organisation", str(orgs[1].id), "--name", "gateway", "--scope", "sta:write")
    assert r.exit_code == 0
    r = run("token", "list")
    assert "import" in r.stdout and "gateway" in r.stdout and secret not in r.stdout
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "import"))
    assert run("token", "revoke", str(token_id)).exit_code == 0
    assert client.get("/api/v1/auth/me", headers=auth_headers(secret)).status_code == 401
    r = run("token", "create", "--user", "api@example.org", "--name", "x", "--scope", "admin")
    assert r.exit_code == 2 and "scope" in r.output
    assert run("token", "create", "--name", "x", "--scope", "sta:read").exit_code == 2


def test_loket_remind_privacy_and_audit_commands(run, session, client, orgs):
    run("user", "add", "stad@example.org", "--role", "editor", "--organisation", str(orgs[0].id), "--no-password")
    secret = run("token", "create", "--user", "stad@example.org", "--name", "t",
                 "--scope", "loket:write").stdout.strip().splitlines()[-1]
    rid = client.post("/api/v1/loket/requests", json={"type": "knowledge", "title": "Hoe meten we hitte?"},
                      headers=auth_headers(secret)).json()["id"]
    assert "0 overdue" in run("loket", "remind").stdout
    req = session.get(LoketRequest, rid)
    req.decision_due = (utcnow() - timedelta(days=1)).date()
    session.commit()
    r = run("loket", "remind", "--dry-run")
    assert "1 overdue" in r.stdout and "Hoe meten we hitte?" in r.stdout
    session.expire_all()
    assert session.get(LoketRequest, rid).reminded_at is None
    assert "1 overdue" in run("loket", "remind").stdout
    assert "0 overdue" in run("loket", "remind").stdout
    r = run("privacy", "enforce-retention")
    assert r.exit_code == 0 and "0 observation(s) deleted" in r.stdout
    r = run("audit", "verify")
    assert r.exit_code == 0 and "intact" in r.stdout


def test_audit_verify_exits_non_zero_on_a_broken_chain(run, db, session, orgs):
    from .audit_helpers import bypass_guard

    run("user", "add", "a@example.org", "--no-password")
    run("user", "add", "b@example.org", "--no-password")
    bypass_guard(db, "UPDATE audit_events SET action = 'user.delete' WHERE seq = 1")
    r = run("audit", "verify")
    assert r.exit_code == 1 and "BROKEN at event 1" in r.stdout
