"""/api/docs works offline: Swagger UI from the locally installed assets, nothing from another host."""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails in CI) with the reason
    expect = None

from tests.web.conftest import VENDOR


def test_docs_page_loads_only_local_assets(client):
    if not VENDOR.is_file():
        pytest.fail("front-end assets not built: run `make assets`")
    r = client.get("/api/docs")
    assert r.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", r.text)
    found = [u for pair in urls for u in pair if u]
    assert found and all(u.startswith("/") for u in found), found
    assert any("/static/vendor/swagger-ui/swagger-ui-bundle.js" in u for u in found)
    for u in found:
        assert client.get(u).status_code == 200, u
    csp = r.headers["content-security-policy"]
    hosts = set(re.findall(r"https?://[^\s;']+", csp))
    assert hosts <= {"https://service.pdok.nl"}, hosts  # PDOK map tiles only
    assert "unsafe-inline" not in csp


@pytest.mark.browser
def test_swagger_ui_renders_with_every_outside_request_blocked(new_page):
    page = new_page()
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15000)
    expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/health")
    assert not page.probe.blocked, page.probe.blocked
    csp = [m for m in page.probe.console if "Content Security Policy" in m or "Refused to" in m]
    assert not csp, csp
