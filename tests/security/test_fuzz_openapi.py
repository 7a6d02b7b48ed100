"""Schemathesis fuzzes every operation of the OpenAPI document as every kind of caller.

Callers: a network administrator (requests get past authentication and reach validation and
storage), an anonymous caller, a member of organisation A, and an editor of organisation B.
Organisation A owns one object of every kind (``world.py``); path ids are aimed at those objects
for two thirds of the requests, so the requests meet real rows, not only 404s.

Every answer is judged (``fuzzing.py``): no 5xx; no 2xx where the authorization matrix says
401/403; no secret, password hash or stack trace in a body; hidden objects answer exactly like
nonexistent ones. After the run the administrator reads A's objects back: a run as anybody but
the administrator must have changed nothing.

``STADSLAB_FUZZ_EXAMPLES`` sets the examples per operation (default 3, which keeps all roles on
both databases within CI's budget); docs/security.md records a longer run
(``STADSLAB_FUZZ_EXAMPLES=30 pytest -s tests/security`` prints the figures).
"""

from __future__ import annotations

import os

import pytest

from .fuzzing import RoleFuzzer, describe
from .world import ROLES, build

EXAMPLES = int(os.environ.get("STADSLAB_FUZZ_EXAMPLES", "3"))


@pytest.mark.parametrize("role", ROLES)
def test_openapi_fuzz_as_every_role(app, client, db, role):
    world = build(client, db)
    before = world.snapshot(client)
    figures = RoleFuzzer(app, db, world, role, EXAMPLES).run()
    print(f"\n{figures.line(db.dialect)}")
    assert figures.operations > 50
    assert not figures.server_errors, describe(figures.server_errors)
    assert not figures.forbidden, describe(figures.forbidden)
    assert not figures.leaks, describe(figures.leaks)
    if role != "admin":
        assert world.snapshot(client) == before, "a fuzz run changed organisation A's objects"
