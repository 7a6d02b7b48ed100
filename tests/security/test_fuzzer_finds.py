"""The role fuzzer must be able to fail: routes planted with each kind of fault are reported.

A fuzzer that never reports anything proves nothing, so these routes (added to a real app, next
to the real content of ``world.py``) crash, open a write to anonymous callers, echo the caller's
token with a stack trace, and answer 403 for a hidden object where a nonexistent one gets 404.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from .fuzzing import RoleFuzzer
from .world import GHOST, Choice, build


def _plant(app) -> None:
    def crash():
        raise RuntimeError("boom")

    def open_door() -> dict:
        return {"written": True}

    def echo(request: Request) -> dict:
        return {"you": request.headers.get("authorization", ""), "trace": 'Traceback (most recent call last): File "x"'}

    def hidden(item: int) -> dict:
        raise HTTPException(403 if item == 1 else 404)

    app.router.add_api_route("/zz/crash", crash, methods=["GET"])
    app.router.add_api_route("/zz/open-door", open_door, methods=["POST"])
    app.router.add_api_route("/zz/echo", echo, methods=["GET"])
    app.router.add_api_route("/zz/hidden/{item}", hidden, methods=["GET"])
    app.openapi_schema = None


def test_planted_faults_are_reported(app, client, db):
    _plant(app)
    world = build(client, db)
    world.choices = lambda template: ([Choice({"item": 1}, {"item": GHOST}, frozenset({"anonymous", "member"}))]
                                      if template == "/zz/hidden/{item}" else [])
    anonymous = RoleFuzzer(app, db, world, "anonymous", 3, only="/zz/").run()
    assert anonymous.operations == 4
    assert {f.path for f in anonymous.server_errors} == {"/zz/crash"}
    assert {f.path for f in anonymous.forbidden} == {"/zz/open-door"}  # no spec says "public"
    assert {(f.path, f.detail) for f in anonymous.leaks} >= {
        ("/zz/hidden/1", "hidden 403 vs nonexistent 404"),
        ("/zz/echo", "body contains 'Traceback (most recent call last)'")}
    member = RoleFuzzer(app, db, world, "member", 3, only="/zz/echo").run()
    assert [f.detail for f in member.leaks][:1] == [f"known secret {world.headers['member']['Authorization'][7:15]}…"]
