"""Browser fixtures: the app served by uvicorn on loopback, driven by Debian's headless Chromium.

Browser tests use the SQLite database only (page rendering on both dialects is
covered through TestClient). Every request that leaves the test server is
blocked, so map tiles fail the way they would offline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import empty_tables, require_service
from tests.support.processes import free_port as _free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VENDOR = ROOT / "src" / "stadslab" / "web" / "static" / "vendor" / "manifest.json"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser_db(_databases):
    return _databases.get("sqlite")


@pytest.fixture(scope="session")
def live_server(browser_db) -> Iterator[str]:
    import uvicorn

    from stadslab.app import create_app
    from stadslab.core.config import Settings

    app = create_app(Settings(database_url=browser_db.url), db=browser_db)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, name="stadslab-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the live server did not start", pytrace=False)
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser_session(browser_db):
    """A session on the browser database; the registry is emptied after the test."""
    from tests.governance.audit_helpers import purge_audit_trail

    with browser_db.session() as s:
        yield s
    purge_audit_trail(browser_db)  # registry writes are audited; the trail is append-only
    empty_tables(browser_db)


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        require_service("axe-core not installed: run `npm ci` (make assets)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        require_service("headless Chromium not installed (apt-get install chromium)")
    if not VENDOR.is_file():
        require_service("front-end assets not built: run `make assets`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageProbe:
    """What a page said to the console and which outside requests it tried."""

    def __init__(self):
        self.console: list[str] = []
        self.blocked: list[str] = []
        self.page_errors: list[str] = []


@pytest.fixture
def new_page(browser, live_server):
    """Opens pages in fresh contexts. ``bypass_csp`` is only for injecting axe-core, which is inline."""
    contexts = []

    def open_page(*, bypass_csp: bool = False, javascript: bool = True, width: int = 1280):
        context = browser.new_context(base_url=live_server, viewport={"width": width, "height": 900},
                                      locale="nl-NL", bypass_csp=bypass_csp, java_script_enabled=javascript)
        contexts.append(context)
        probe = PageProbe()

        def guard(route):
            if route.request.url.startswith(live_server):
                route.continue_()
            else:
                probe.blocked.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        pg = context.new_page()
        pg.on("console", lambda msg: probe.console.append(f"{msg.type}: {msg.text}"))
        pg.on("pageerror", lambda err: probe.page_errors.append(str(err)))
        pg.probe = probe
        return pg

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def run_axe(page, axe_source: str) -> list[dict]:
    """Runs axe-core (WCAG 2.0/2.1 A and AA rules) and returns serious and critical violations."""
    page.add_script_tag(content=axe_source)
    violations = page.evaluate("""async () => {
        const result = await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
            resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- logged-in browsing through TestClient -------------------------------------------------------

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def web_client(app):
    """A browser-like client on https://, so the Secure session cookie travels as in production."""
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="https://testserver", headers=HTML) as c:
        yield c


def web_login(client, email: str, password: str | None = None) -> str:
    """Logs in through the login form; returns the CSRF token the pages' forms carry."""
    from tests.governance.factories import DEFAULT_PASSWORD

    r = client.post("/inloggen", data={"email": email, "password": password or DEFAULT_PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client.cookies.get("stadslab_csrf")


@pytest.fixture
def make_web_client(db):
    """https clients on apps with changed settings (lockout, rate limits, OIDC)."""
    from fastapi.testclient import TestClient

    from stadslab.app import create_app
    from stadslab.core.config import Settings

    clients = []

    def build(**overrides):
        app = create_app(Settings(database_url=db.url, **overrides), db=db)
        client = TestClient(app, base_url="https://testserver", headers=HTML)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for c in clients:
        c.__exit__(None, None, None)
