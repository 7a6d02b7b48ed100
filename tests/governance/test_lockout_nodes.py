"""A login lockout holds across nodes: the failures are counted in the database, atomically.

Two apps, each with its own ``Database`` (engine and pool) on the same database, stand for two
nodes; wrong passwords arrive at both at the same time. Counting in a process, or a
read-modify-write of the counter, would lose failures and let the account through.
"""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.core.database import Database
from stadslab.governance.models import User

from .factories import DEFAULT_PASSWORD, make_user


def test_failures_at_two_nodes_at_once_add_up_to_a_lockout(db, session, orgs):
    user = make_user(session, "editor", orgs[0], email="twonodes@example.org")
    other = Database(db.url)
    nodes = []
    try:
        for database in (db, other):
            app = create_app(Settings(database_url=db.url, login_max_failures=6, login_lockout_minutes=10,
                                      login_rate_per_account_per_minute=100), db=database)
            client = TestClient(app, base_url="https://testserver")
            client.__enter__()
            nodes.append(client)
        codes: list[int] = []
        start = threading.Barrier(6)

        def attempt(client):
            start.wait()
            codes.append(client.post("/api/v1/auth/login", json={"email": "twonodes@example.org",
                                                                 "password": "wrong password!"}).status_code)

        threads = [threading.Thread(target=attempt, args=(nodes[i % 2],)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert codes == [401] * 6
        with db.session() as s:
            row = s.get(User, user.id)
            assert row.locked_until is not None, row.failed_logins  # six failures counted, not fewer
        # and the lock holds on either node, even for the right password
        for client in nodes:
            r = client.post("/api/v1/auth/login", json={"email": "twonodes@example.org", "password": DEFAULT_PASSWORD})
            assert r.status_code == 401
    finally:
        for client in nodes:
            client.__exit__(None, None, None)
        other.dispose()
