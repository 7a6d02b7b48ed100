"""The interface in a real browser: accessibility (axe-core), keyboard, language, search, map.

Screenshots of the key pages go to artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails in CI) with the reason
    expect = None

from tests.web.conftest import run_axe, screenshot
from tests.web.seed import seed_registry

pytestmark = pytest.mark.browser


def _pages(reg) -> list[tuple[str, str]]:
    return [
        ("home", "/"),
        ("home-en", "/?lang=en"),
        ("search", "/zoeken"),
        ("search-error", "/zoeken?q="),
        ("accessibility", "/toegankelijkheid"),
        ("not-found", "/bestaat-niet"),
        ("labs", "/labs"),
        ("lab", f"/labs/{reg.lab_ids[0]}"),
        ("city", "/steden/GM0772"),
        ("project", f"/projecten/{reg.project_ids[1]}"),
        ("solution", f"/oplossingen/{reg.solution_id}"),
    ]


def test_every_page_passes_axe_and_is_photographed(new_page, browser_session, axe_source):
    reg = seed_registry(browser_session, demo=True)
    failures = {}
    for name, path in _pages(reg):
        page = new_page(bypass_csp=True)
        response = page.goto(path)
        assert response.status == (404 if name == "not-found" else 200), path
        assert page.locator("html").get_attribute("lang") == ("en" if path.endswith("lang=en") else "nl")
        assert page.locator("main#inhoud").count() == 1
        assert page.locator("header").count() >= 1 and page.locator("footer").count() == 1
        if page.locator("[data-map]").count():
            page.wait_for_selector("[data-map-ready]")
        screenshot(page, name)
        violations = run_axe(page, axe_source)
        if violations:
            failures[path] = violations
        assert not page.probe.page_errors, (path, page.probe.page_errors)
    assert not failures, failures


def test_pages_raise_no_content_security_policy_violations(new_page, browser_session):
    reg = seed_registry(browser_session)
    for _name, path in _pages(reg):
        page = new_page()
        page.goto(path)
        if page.locator("[data-map]").count():
            page.wait_for_selector("[data-map-ready]")
        csp = [m for m in page.probe.console if "Content Security Policy" in m or "Refused to" in m]
        assert not csp, (path, csp)
        assert not page.probe.page_errors, (path, page.probe.page_errors)


def test_skip_link_is_first_visible_on_focus_and_moves_focus_to_main(page):
    page.goto("/")
    skip = page.locator("a.utrecht-skip-link")
    assert skip.bounding_box() is None or skip.bounding_box()["y"] < 0  # out of sight until focused
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('href')")
    assert focused == "#inhoud"
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0 and box["height"] >= 24
    # The focus indicator is drawn: an outline of at least 2px.
    outline = page.evaluate("parseFloat(getComputedStyle(document.activeElement).outlineWidth)")
    assert outline >= 2
    screenshot(page, "skip-link-focus")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "inhoud"
    assert page.url.endswith("#inhoud")


def test_language_switch_by_link_and_it_sticks(page):
    page.goto("/")
    assert page.locator("h1").inner_text() == "Leren van elkaars proeftuinen"
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Learning from each other’s living labs"
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Search").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_label("Search term").count() == 1
    page.get_by_role("link", name="Nederlands").click()
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.get_by_label("Zoekterm").count() == 1


def test_search_form_validation_error_then_fixed(page, browser_session):
    seed_registry(browser_session)
    page.goto("/zoeken")
    field = page.get_by_label("Zoekterm")
    field.fill("   ")
    page.get_by_role("button", name="Zoeken", exact=True).click()
    error = page.locator("#q-error")
    assert error.is_visible()
    assert "Vul een of meer woorden in" in error.inner_text()
    assert field.get_attribute("aria-invalid") == "true"
    assert field.input_value() == "   "
    # The field is described by the error, so a screen reader reads it on focus.
    assert "q-error" in field.get_attribute("aria-describedby")
    # Focus lands on the field to correct (autofocus is applied at the next rendering step).
    expect(page.locator("#q")).to_be_focused()
    screenshot(page, "search-validation-error")
    field.fill("straatverlichting")
    page.get_by_role("button", name="Zoeken", exact=True).click()
    assert page.locator("#q-error").count() == 0
    assert page.get_by_label("Zoekterm").input_value() == "straatverlichting"
    results = page.locator(".stadslab-result")
    assert results.count() >= 1
    assert "straatverlichting" in results.first.inner_text().lower()
    assert page.locator(".stadslab-result mark").count() >= 1
    screenshot(page, "search-results")


def test_search_facets_filter_results(page, browser_session):
    seed_registry(browser_session)
    page.goto("/zoeken?q=straatverlichting")
    before = page.locator(".stadslab-result").count()
    types = page.locator("fieldset", has_text="Soort")
    solution = types.get_by_label(re.compile(r"^Oplossing"))
    solution.check()
    page.get_by_role("button", name="Filters toepassen").click()
    assert "type=solution" in page.url
    after = page.locator(".stadslab-result")
    assert 1 <= after.count() < before
    for i in range(after.count()):
        assert after.nth(i).locator(".stadslab-result__type").inner_text().lower() == "oplossing"
    assert page.locator("fieldset", has_text="Soort").get_by_label(re.compile(r"^Oplossing")).is_checked()


def test_map_shows_outlines_and_labs_without_tiles(page, browser_session):
    reg = seed_registry(browser_session)
    page.goto("/")
    page.wait_for_selector("#national-map[data-map-ready]")
    assert page.locator("#national-map").is_visible()
    assert page.locator("#national-map.leaflet-container").count() == 1
    assert page.locator("#national-map path.stadslab-marker-lab").count() == len(reg.lab_ids)
    # Three city outlines (filled polygons) plus the point markers are drawn as SVG paths.
    assert page.locator("#national-map path.leaflet-interactive").count() >= 3 + len(reg.lab_ids)
    # Tiles were asked for, blocked, and the map says it shows outlines only.
    assert any("pdok" in url for url in page.probe.blocked)
    page.wait_for_selector(".stadslab-map__notice")
    assert page.locator("#map-table").is_visible()
    screenshot(page, "map-without-tiles")


def test_map_has_a_table_fallback_without_javascript(new_page, browser_session):
    seed_registry(browser_session)
    page = new_page(javascript=False)
    page.goto("/")
    assert not page.locator("#national-map").is_visible()
    rows = page.locator("#map-table tbody tr")
    assert rows.count() == 3
    assert page.locator("#map-table").get_by_role("link", name="Eindhoven").get_attribute("href") == "/steden/GM0772"
    # Search still works as a plain form.
    page.get_by_label("Zoek in projecten, proeftuinen en oplossingen").fill("fiets")
    page.get_by_role("button", name="Zoeken", exact=True).click()
    assert "/zoeken?q=fiets" in page.url
    screenshot(page, "home-no-javascript")


def test_chart_draws_from_the_table(page, browser_session):
    seed_registry(browser_session)
    page.goto("/")
    page.wait_for_selector("#phase-chart[data-chart-ready]")
    assert page.locator("#phase-chart").is_visible()
    assert page.locator("#phase-table").is_visible()


def test_small_screen_layout(new_page, browser_session):
    seed_registry(browser_session)
    page = new_page(width=390)
    page.goto("/zoeken?q=straatverlichting")
    # No horizontal scrolling at phone width (WCAG 1.4.10 reflow).
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "search-mobile")


def test_axe_harness_reports_real_violations(new_page, live_server, axe_source):
    """Guards the accessibility checks above: a page with known faults must be caught."""
    page = new_page(bypass_csp=True)
    page.goto("/toegankelijkheid")
    page.evaluate("""() => {
        const img = document.createElement('img'); img.src = '/static/img/favicon.svg';
        document.querySelector('main').appendChild(img);
        const input = document.createElement('input'); input.type = 'text';
        document.querySelector('main').appendChild(input);
    }""")
    ids = {v["id"] for v in run_axe(page, axe_source)}
    assert {"image-alt", "label"} <= ids
