"""The national pages in a real browser: axe-core (zero serious or critical) in both languages,
screenshots, the dashboard map over its table, and filters that work without JavaScript."""

from __future__ import annotations

import pytest

from tests.national.seed import seed_nation
from tests.web.conftest import run_axe, screenshot

pytestmark = pytest.mark.browser


def _pages(nation) -> list[tuple[str, str]]:
    pages = [("network", "/netwerk"), ("solutions", "/oplossingen?sort=-time_to_half_adoption"),
             ("coalition", f"/coalities/{nation.coalition}"),
             ("specialisation", "/specialisaties/healthy-urban-living"), ("specialisations", "/specialisaties"),
             ("city-opportunities", "/steden/GM0344"), ("city-no-port", "/steden/GM0200"),
             ("network-bad-filter", "/netwerk?theme=teleportation")]
    return [(f"{name}-{lang}", f"{path}{'&' if '?' in path else '?'}lang={lang}") for name, path in pages
            for lang in ("nl", "en")]


def test_national_pages_pass_axe_in_both_languages(new_page, browser_session, axe_source):
    nation = seed_nation(browser_session)
    failures = {}
    for name, path in _pages(nation):
        page = new_page(bypass_csp=True)
        response = page.goto(path)
        assert response.status == (400 if "bad-filter" in name else 200), (path, response.status)
        assert page.locator("html").get_attribute("lang") == path[-2:]
        assert page.locator("main#inhoud").count() == 1 and page.locator("h1").count() == 1, path
        if page.locator("[data-map]").count():
            page.wait_for_selector("[data-map-ready]")
        screenshot(page, f"national-{name}")
        violations = run_axe(page, axe_source)
        if violations:
            failures[path] = violations
        assert not page.probe.page_errors, (path, page.probe.page_errors)
        csp = [m for m in page.probe.console if "Content Security Policy" in m or "Refused to" in m]
        assert not csp, (path, csp)
    assert not failures, failures


def test_dashboard_map_draws_the_cities_of_the_table(page, browser_session):
    seed_nation(browser_session)
    page.goto("/netwerk")
    page.wait_for_selector("#network-map[data-map-ready]")
    rows = page.locator("#network-table tbody tr").count()
    assert rows == 5
    assert page.locator("#network-map path.leaflet-interactive").count() >= rows  # an outline per city


def test_dashboard_filters_without_javascript(new_page, browser_session):
    seed_nation(browser_session)
    page = new_page(javascript=False)
    page.goto("/netwerk")
    assert page.locator("#network-map").is_hidden()  # the map needs scripts; the table does not
    page.locator("input[name=theme][value=mobility]").check()
    page.locator("input[name=network][value=G4]").check()
    page.get_by_role("button", name="Filters toepassen").click()
    page.wait_for_load_state()
    assert "theme=mobility" in page.url and "network=G4" in page.url
    cities = page.locator("#network-table tbody th a").all_inner_texts()
    assert cities == ["Utrecht"]


def test_solutions_sort_by_column_heading(page, browser_session):
    nation = seed_nation(browser_session)
    page.goto("/oplossingen?lang=en")
    page.get_by_role("link", name="Time to half adoption").click()
    page.wait_for_load_state()
    assert "sort=time_to_half_adoption" in page.url
    first = page.locator("#solutions-table tbody tr").first.locator("th a").get_attribute("href")
    assert first != f"/oplossingen/{nation.kiosk}"  # 365 days is the slower of the two
    page.get_by_role("link", name="Time to half adoption").click()
    page.wait_for_load_state()
    assert page.locator("#solutions-table tbody tr").first.locator("th a").get_attribute("href") == \
        f"/oplossingen/{nation.kiosk}"
