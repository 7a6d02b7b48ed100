"""How the app is put together: dependencies point one way, and the order of the layers holds.

The import checks read the source (``ast``), so an import hidden inside a function counts
too: a lazy import is still a dependency. The order checks pin what ``create_app`` builds,
because the order of middlewares and of routes is behaviour (which middleware sees a
refused request, which route matches first).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import stadslab

SRC = Path(stadslab.__file__).parent
CAPABILITIES = ("network", "labs", "governance", "sensorthings", "evidence", "interop", "federation", "search",
                "ops", "web")


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file, relative imports made absolute."""
    package = ".".join(("stadslab", *path.relative_to(SRC).with_suffix("").parts[:-1]))
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_core_imports_no_capability():
    offending = sorted(f"{path.relative_to(SRC)} imports {name}"
                       for path in (SRC / "core").rglob("*.py") for name in imports_of(path)
                       if name.split(".")[:2] in (["stadslab", c] for c in CAPABILITIES))
    assert offending == []


def test_the_bus_interface_does_not_know_its_implementation():
    mqtt = SRC / "sensorthings" / "mqtt"
    assert not any(name.startswith("stadslab.sensorthings.mqtt.paho_bus") for name in imports_of(mqtt / "bus.py"))
    assert "stadslab.sensorthings.mqtt.bus" in imports_of(mqtt / "paho_bus.py")


def test_the_import_check_sees_lazy_and_relative_imports(monkeypatch):
    """The checks above can fail: an import inside a function, written relatively, is found."""
    fake = SRC / "core" / "_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "def f():\n    from ..governance import authn\n")
    assert "stadslab.governance.authn" in imports_of(fake)


def test_middlewares_wrap_in_their_order(app):
    outermost_first = [m.cls.__name__ for m in app.user_middleware]
    assert outermost_first == ["SheddingMiddleware", "MetricsMiddleware", "RequestReadTimeoutMiddleware",
                               "SecurityHeadersMiddleware", "RequestIdMiddleware", "CSRFMiddleware",
                               "WriteRateLimitMiddleware", "GZipMiddleware", "BodySizeLimitMiddleware"]


def test_routes_keep_their_order(app):
    """The hub first (its hot requests match at once), then the API, then the roots outside it."""
    roots = []
    for path in app.openapi()["paths"]:
        root = next(r for r in ("/sta/v1.1", "/api/v1", "/metrics", "/ogcapi", "/") if path.startswith(r))
        if not roots or roots[-1] != root:
            roots.append(root)
    assert roots[0] == "/sta/v1.1" and roots[-1] in ("/ogcapi", "/")
    assert roots.index("/ogcapi") > max(i for i, r in enumerate(roots) if r == "/api/v1")
    assert [type(r).__name__ for r in app.routes].count("Mount") == 1  # the web's /static


def test_routes_go_by_stage_then_list_order_and_capabilities_stop_in_reverse():
    import asyncio

    from fastapi import APIRouter, FastAPI

    from stadslab.core.assembly import Contribution, Routes, Stage, include_routes, start, stop

    def router(path: str) -> APIRouter:
        r = APIRouter()
        r.get(path)(lambda: None)
        return r

    calls: list[str] = []

    async def stop_b(app):
        calls.append("stop b")

    a = Contribution("a", routes=(Routes(router("/a1")), Routes(router("/a2"), stage=Stage.OUTSIDE_API)),
                     start=lambda app: calls.append("start a"), stop=lambda app: calls.append("stop a"))
    b = Contribution("b", routes=(Routes(router("/b-hot"), stage=Stage.HOT), Routes(router("/b1"), "/x")),
                     start=lambda app: calls.append("start b"), stop=stop_b)
    app = FastAPI()
    include_routes(app, [a, b])
    assert list(app.openapi()["paths"]) == ["/b-hot", "/a1", "/x/b1", "/a2"]
    asyncio.run(start(app, [a, b]))
    asyncio.run(stop(app, [a, b]))
    assert calls == ["start a", "start b", "stop b", "stop a"]


def test_the_principal_comes_from_the_authenticator_governance_installs(app):
    from starlette.requests import Request

    from stadslab.core.auth import get_principal
    from stadslab.governance.authn import authenticate_request

    def request(headers=()):
        return Request({"type": "http", "headers": list(headers), "app": app, "method": "GET", "path": "/"})

    assert app.state.authenticator is authenticate_request
    assert get_principal(request()).is_anonymous
    with pytest.raises(Exception) as refused:
        get_principal(request([(b"authorization", b"Bearer stl_unknown")]))
    assert getattr(refused.value, "status", None) == 401
    del app.state.authenticator  # an app assembled without one refuses, rather than let everyone in anonymously
    with pytest.raises(RuntimeError):
        get_principal(request())


def test_a_started_app_freezes_its_long_lived_objects(db):
    """``gc_freeze_at_start``: after the start hooks, what exists is frozen out of full collections."""
    import gc

    from fastapi.testclient import TestClient

    from stadslab.app import create_app
    from stadslab.core.config import Settings

    gc.unfreeze()
    try:
        with TestClient(create_app(Settings(database_url=db.url, gc_freeze_at_start=False), db=db)):
            assert gc.get_freeze_count() == 0
        with TestClient(create_app(Settings(database_url=db.url, gc_freeze_at_start=True), db=db)):
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
