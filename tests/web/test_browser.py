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


# --- the pages of the newer capabilities ------------------------------------------------------------

def _seed_world(session) -> dict:
    """Everything the newer pages show: accounts, sensors, events, the loket, an evaluation, a spread solution."""
    from stadslab.evidence import service as evidence
    from stadslab.evidence.schemas import DesignIn
    from stadslab.labs.schemas import AdoptionIn
    from stadslab.labs.service import create_adoption
    from tests.evidence.helpers import build_experiment
    from tests.factories import EINDHOVEN
    from tests.web.seed import seed_accounts, seed_calendar, seed_exemption, seed_sensors

    reg = seed_registry(session, demo=False)
    accounts = seed_accounts(session)
    sensors = seed_sensors(session, lab_id=reg.lab_ids[0], owner_organisation_id=accounts.organisation_id)
    seed_calendar(session)
    seed_exemption(session, accounts.organisation_id, reg.lab_ids[0])
    exp = build_experiment(session, effect=-4.0)
    evidence.put_design(session, exp.project_id, DesignIn.model_validate(exp.design()))
    evidence.run_evaluation(session, exp.project_id)
    for city, status in (("GM0855", "piloting"), ("GM0034", "abandoned")):
        create_adoption(session, AdoptionIn(solution_id=reg.solution_id, city=city, adopted_on="2024-06-01",
                                            status=status))
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import ProjectIn
    from tests.factories import project_payload

    own = labs.create_project(session, ProjectIn(**project_payload(
        title="Slimme lantaarnpalen Woensel", city=EINDHOVEN, status="pilot", start_date="2024-01-01",
        owner_organisation_id=accounts.organisation_id)))
    return {"reg": reg, "accounts": accounts, "sensors": sensors, "evaluated": exp.project_id, "own": own.id}


def _login(page, email: str, password: str | None = None) -> None:
    from tests.governance.factories import DEFAULT_PASSWORD

    page.goto("/inloggen")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(password or DEFAULT_PASSWORD)
    page.get_by_role("button", name="Inloggen", exact=True).click()
    page.wait_for_load_state()


def _wait_for_enhancements(page) -> None:
    if page.locator("[data-map]").count():
        page.wait_for_selector("[data-map-ready]")
    if page.locator("canvas[data-aggregate]").count():
        page.wait_for_selector("canvas[data-aggregate][data-chart-ready]")


def _new_pages(world) -> list[tuple[str, str | None, str, int]]:
    """(screenshot name, who is logged in, path, status)."""
    a, s = world["accounts"], world["sensors"]
    return [
        ("login", None, "/inloggen", 200),
        ("sensors", None, "/sensoren", 200),
        ("sensors-filter-error", None, "/sensoren?city=Atlantis", 200),
        ("sensor", None, f"/sensoren/{s.air}", 200),
        ("sensor-camera-en", None, f"/sensoren/{s.camera}?lang=en", 200),
        ("agenda", None, "/agenda", 200),
        ("loket", None, "/loket", 200),
        ("project-evaluation", None, f"/projecten/{world['evaluated']}", 200),
        ("solution-graph", None, f"/oplossingen/{world['reg'].solution_id}", 200),
        ("loket-editor", a.editor_email, "/loket", 200),
        ("project-edit", a.editor_email, f"/projecten/{world['own']}/bewerken", 200),
        ("forbidden", a.editor_email, "/beheer", 403),
        ("admin", a.admin_email, "/beheer", 200),
        ("admin-users", a.admin_email, "/beheer/gebruikers", 200),
        ("admin-tokens", a.admin_email, "/beheer/tokens", 200),
        ("admin-content", a.admin_email, "/beheer/inhoud", 200),
        ("logout", a.admin_email, "/uitloggen", 200),
    ]


def test_new_pages_pass_axe_and_are_photographed(new_page, browser_session, axe_source):
    world = _seed_world(browser_session)
    failures = {}
    pages: dict[str | None, object] = {}
    for name, who, path, status in _new_pages(world):
        if who not in pages:
            pages[who] = new_page(bypass_csp=True)
            if who:
                _login(pages[who], who)
        page = pages[who]
        response = page.goto(path)
        assert response.status == status, (path, response.status)
        assert page.locator("main#inhoud").count() == 1 and page.locator("h1").count() == 1, path
        _wait_for_enhancements(page)
        screenshot(page, name)
        violations = run_axe(page, axe_source)
        if violations:
            failures[path] = violations
        assert not page.probe.page_errors, (path, page.probe.page_errors)
    assert not failures, failures


def test_new_pages_raise_no_content_security_policy_violations(new_page, browser_session):
    world = _seed_world(browser_session)
    pages: dict[str | None, object] = {}
    for _name, who, path, _status in _new_pages(world):
        if who not in pages:
            pages[who] = new_page()
            if who:
                _login(pages[who], who)
        page = pages[who]
        page.goto(path)
        _wait_for_enhancements(page)
        csp = [m for m in page.probe.console if "Content Security Policy" in m or "Refused to" in m]
        assert not csp, (path, csp)
        assert not page.probe.page_errors, (path, page.probe.page_errors)


def test_login_flow_with_a_wrong_password_then_logout(page, browser_session, axe_source):
    world = _seed_world(browser_session)
    admin = world["accounts"].admin_email
    page.goto("/beheer")
    assert "/inloggen?volgende=%2Fbeheer" in page.url  # sent to log in first
    page.get_by_label("E-mailadres").fill(admin)
    page.get_by_label("Wachtwoord").fill("niet het wachtwoord")
    page.get_by_role("button", name="Inloggen", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Het e-mailadres of wachtwoord klopt niet")
    assert page.get_by_label("E-mailadres").input_value() == admin  # kept
    assert page.get_by_label("Wachtwoord").input_value() == ""  # never sent back
    screenshot(page, "login-error")
    page.get_by_label("Wachtwoord").fill(__import__("tests.governance.factories", fromlist=["x"]).DEFAULT_PASSWORD)
    page.get_by_role("button", name="Inloggen", exact=True).click()
    expect(page.locator("h1")).to_have_text("Beheer")
    assert page.url.endswith("/beheer")
    expect(page.locator(".stadslab-account__name")).to_have_text("Anna Beheer")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["stadslab_session"]["httpOnly"] and cookies["stadslab_session"]["secure"]
    assert cookies["stadslab_session"]["sameSite"] == "Lax"
    # The logout button is reachable by keyboard and shows its focus.
    logout = page.get_by_role("button", name="Uitloggen")
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Uitloggen":
            break
    expect(logout).to_be_focused()
    assert page.evaluate("parseFloat(getComputedStyle(document.activeElement).outlineWidth)") >= 2
    screenshot(page, "logged-in-header-focus")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("U bent uitgelogd.")
    assert page.locator(".stadslab-account__login").is_visible()
    assert "stadslab_session" not in {c["name"] for c in page.context.cookies()}
    page.goto("/beheer")
    assert "/inloggen?volgende=%2Fbeheer" in page.url  # the session really ended


def test_project_form_validation_error_then_fixed(page, browser_session):
    world = _seed_world(browser_session)
    _login(page, world["accounts"].editor_email)
    page.goto(f"/projecten/{world['own']}")
    page.get_by_role("link", name="Project bewerken").click()
    title = page.get_by_label("Titel")
    title.fill("ab")
    page.get_by_label("Einddatum").fill("2023-12-31")  # before the start date
    page.get_by_role("button", name="Wijzigingen opslaan").click()
    error = page.locator("#f-title-error")
    expect(error).to_contain_text("Gebruik minstens 3 tekens")
    expect(page.locator("#f-end_date-error")).to_contain_text("De einddatum kan niet voor de begindatum liggen")
    title = page.get_by_label("Titel")
    assert title.get_attribute("aria-invalid") == "true" and "f-title-error" in title.get_attribute("aria-describedby")
    assert title.input_value() == "ab" and page.get_by_label("Einddatum").input_value() == "2023-12-31"
    expect(title).to_be_focused()
    # The summary at the top links to the fields.
    summary = page.locator(".stadslab-error-summary")
    assert summary.get_by_role("link", name="Titel: Gebruik minstens 3 tekens.").get_attribute("href") == "#f-title"
    screenshot(page, "project-edit-validation-error")
    title.fill("Slimme lantaarnpalen Woensel-Noord")
    page.get_by_label("Einddatum").fill("2025-06-30")
    page.get_by_label("Fase").select_option("evaluated")
    page.get_by_role("button", name="Wijzigingen opslaan").click()
    expect(page.get_by_role("status")).to_contain_text("Uw wijzigingen zijn opgeslagen.")
    expect(page.locator("h1")).to_have_text("Slimme lantaarnpalen Woensel-Noord")
    assert page.locator(".stadslab-pre-heading").inner_text().endswith("Geëvalueerd")
    screenshot(page, "project-edit-saved")


def test_sensor_map_renders_with_tiles_blocked_and_popups_tell_purpose(page, browser_session):
    world = _seed_world(browser_session)
    page.goto("/sensoren")
    page.wait_for_selector("#sensor-map[data-map-ready]")
    rows = page.locator("#sensor-table tbody tr")
    assert page.locator("#sensor-map path.stadslab-marker-sensor").count() == rows.count() >= 2
    assert "Geluidsmeter kazerne" not in page.locator("#sensor-table").inner_text()  # restricted: not shown
    assert page.locator("#sensor-map path.stadslab-marker-personal").count() == 1
    assert any("pdok" in url for url in page.probe.blocked)
    page.wait_for_selector(".stadslab-map__notice")
    page.locator("#sensor-map path.stadslab-marker-personal").dispatch_event("click")  # markers may overlap
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("Drukte meten op het plein")
    expect(popup).to_contain_text("Publieke taak")
    expect(popup).to_contain_text("24 uur")
    assert popup.get_by_role("link", name="Privacyverklaring").get_attribute("href") == "https://example.org/privacy/drukte"
    assert popup.get_by_role("link", name="Naar de sensorpagina").get_attribute("href") == f"/sensoren/{world['sensors'].camera}"
    screenshot(page, "sensor-map-popup")
    # Filtering is a plain form; the map follows.
    before = rows.count()
    page.get_by_label("Verwerkt persoonsgegevens").select_option("ja")
    page.get_by_role("button", name="Filters toepassen").click()
    page.wait_for_selector("#sensor-map[data-map-ready]")
    assert "personal_data=ja" in page.url
    assert page.locator("#sensor-map path.stadslab-marker-sensor").count() == 1 < before
    assert page.locator("#sensor-table tbody tr").count() == 1


def test_sensor_register_without_javascript_is_a_table(new_page, browser_session):
    _seed_world(browser_session)
    page = new_page(javascript=False)
    page.goto("/sensoren?legal_ground=publieke+taak")
    assert not page.locator("#sensor-map").is_visible()
    assert page.locator("#sensor-table tbody tr").count() == 1
    page.get_by_role("link", name="Drukteteller Stationsplein", exact=True).click()
    assert page.locator("h1").inner_text() == "Drukteteller Stationsplein"


def test_sensor_chart_renders_from_the_aggregate_extension(page, browser_session):
    world = _seed_world(browser_session)
    page.goto(f"/sensoren/{world['sensors'].air}")
    canvas = page.locator(f"#chart-{world['sensors'].datastream}")
    page.wait_for_selector(f"#chart-{world['sensors'].datastream}[data-chart-ready]")
    assert canvas.is_visible()
    box = canvas.bounding_box()
    assert box["width"] > 300 and box["height"] > 150
    # Something was drawn: the canvas holds non-blank pixels.
    painted = page.evaluate("""(id) => {
        const c = document.getElementById(id); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) { n++; } } return n; }""",
                            f"chart-{world['sensors'].datastream}")
    assert painted > 1000
    # The table with the same figures is one click away.
    page.get_by_text("Cijfers als tabel").click()
    assert page.locator(f"#table-{world['sensors'].datastream} tbody tr").count() == 6
    screenshot(page, "sensor-chart")


def test_language_switch_on_the_new_pages(page, browser_session):
    _seed_world(browser_session)
    page.goto("/sensoren")
    assert page.locator("h1").inner_text() == "Sensorenregister"
    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text() == "Sensor register"
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Calendar").click()
    assert page.locator("h1").inner_text() == "Calendar"
    assert page.get_by_role("heading", name="Where do we show the Netherlands").is_visible()
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Loket").click()
    assert page.get_by_role("heading", name="Granted room to experiment").is_visible()
    page.get_by_role("link", name="Nederlands").click()
    assert page.get_by_role("heading", name="Toegekende experimenteerruimte").is_visible()
    assert page.locator("html").get_attribute("lang") == "nl"


def test_new_pages_reflow_on_a_phone(new_page, browser_session):
    world = _seed_world(browser_session)
    page = new_page(width=390)
    for path in ("/sensoren", "/agenda", "/loket", f"/oplossingen/{world['reg'].solution_id}", "/inloggen"):
        page.goto(path)
        _wait_for_enhancements(page)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    screenshot(page, "login-mobile")
