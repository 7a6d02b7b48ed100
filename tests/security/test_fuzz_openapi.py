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
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stadslab.app import create_app
from stadslab.core.config import Settings

from .fuzzing import RoleFuzzer, describe
from .world import ROLES, build

EXAMPLES = int(os.environ.get("STADSLAB_FUZZ_EXAMPLES", "3"))


@pytest.fixture
def fuzz_app(db):
    """The app with a short federation timeout and one attempt: the administrator's fuzz run adds
    peers at unreachable addresses, and ``POST /federation/harvest`` waits for them in the request
    (by default up to 10 s x 3 attempts per peer), longer than the fuzzer waits for an answer."""
    return create_app(Settings(database_url=db.url, federation_timeout_seconds=0.5, federation_retries=1,
                               federation_backoff_seconds=0), db=db)


@pytest.fixture
def fuzz_client(fuzz_app) -> Iterator[TestClient]:
    with TestClient(fuzz_app) as c:
        yield c


@pytest.mark.parametrize("role", ROLES)
def test_openapi_fuzz_as_every_role(fuzz_app, fuzz_client, db, role):
    world = build(fuzz_client, db)
    before = world.snapshot(fuzz_client)
    figures = RoleFuzzer(fuzz_app, db, world, role, EXAMPLES).run()
    print(f"\n{figures.line(db.dialect)}")
    if figures.owned_elsewhere:
        print(f"in code owned by another helper:\n{describe(figures.owned_elsewhere)}")
    if figures.validated_before_auth:
        print("validate before they authenticate:", ", ".join(f"{m} {t}" for m, t in
                                                               sorted(figures.validated_before_auth)))
    assert figures.operations > 50
    assert not figures.server_errors, describe(figures.server_errors)
    assert not figures.forbidden, describe(figures.forbidden)
    assert not figures.leaks, describe(figures.leaks)
    if role != "admin":
        assert world.snapshot(fuzz_client) == before, "a fuzz run changed organisation A's objects"
