"""The infrastructure pages in Chromium: axe-core in both languages, the map with coverage cells,
the table without JavaScript, and the investment form's errors next to their fields."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.web.conftest import run_axe, screenshot

pytestmark = pytest.mark.browser


def _seed(session) -> dict:
    """Accounts, two assets, an observed gateway with receptions in Eindhoven, an investment."""
    from stadslab.infrastructure import coverage, service
    from stadslab.infrastructure.schemas import AssetIn, InvestmentIn
    from stadslab.sensorthings.lorawan.models import (LorawanGateway, LorawanIntegration, LorawanReceived,
                                                      LorawanReception)
    from stadslab.sensorthings.lorawan.receptions import cell_of
    from tests.factories import EINDHOVEN
    from tests.governance.factories import make_user
    from tests.web.seed import seed_accounts

    accounts = seed_accounts(session)
    admin = service.Principal(user_id=None, organisation_id=None, role="admin",
                              scopes=frozenset({"registry:write"}), via="system")
    service.create_asset(session, AssetIn(name="5G Strijp-S", type="5g-site", openness="private",
                                          owner_organisation_id=accounts.organisation_id,
                                          geometry={"type": "Point", "coordinates": [5.455, 51.449]}), admin)
    service.create_asset(session, AssetIn(name="Glasvezel Woensel", type="fibre", openness="open", status="building",
                                          municipality_code=EINDHOVEN), admin)
    integration = LorawanIntegration(name="tts-web", kind="tts", secret_hash="x", active=True)
    gateway = LorawanGateway(key="eui:AA555A0000000101", gateway_id="gw-catharinaplein", eui="AA555A0000000101",
                             latitude=51.438, longitude=5.478, first_seen=datetime(2024, 5, 1, tzinfo=timezone.utc),
                             last_seen=datetime(2024, 5, 2, tzinfo=timezone.utc), uplinks_heard=3,
                             messages_heard=0, rejected=0)
    session.add_all([integration, gateway])
    session.flush()
    for i, (lat, lon, rssi) in enumerate(((51.44, 5.47, -80), (51.45, 5.49, -101), (51.43, 5.46, -112))):
        received = LorawanReceived(integration_id=integration.id, message_id=f"m{i}", observations=0)
        session.add(received)
        session.flush()
        session.add(LorawanReception(received_id=received.id, gateway_ref=gateway.id, rssi=rssi, snr=2.0,
                                     time=datetime(2024, 5, 1, 10, i, tzinfo=timezone.utc), device_latitude=lat,
                                     device_longitude=lon, cell=cell_of(lat, lon)))
    session.commit()
    coverage.refresh(session)
    service.create_investment(session, InvestmentIn(
        title="LoRaWAN Eindhoven-Noord", technology="lorawan-gateway", phase="committed", cost_eur=300000,
        municipalities=[EINDHOVEN], owner_organisation_id=accounts.organisation_id,
        contributions=[{"party_type": "local", "amount_eur": 100000}, {"party_type": "eu", "amount_eur": 50000}]),
        admin)
    make_user  # noqa: B018 - accounts come from seed_accounts
    return {"accounts": accounts}


def _login(page, email: str) -> None:
    from tests.governance.factories import DEFAULT_PASSWORD

    page.goto("/inloggen")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Inloggen", exact=True).click()
    page.wait_for_load_state()


def test_infrastructure_pages_pass_axe_in_both_languages(new_page, browser_session, axe_source):
    world = _seed(browser_session)
    failures = {}
    pages = {}
    for name, who, path, status in (
            ("infrastructure", None, "/infrastructuur", 200),
            ("infrastructure-filter-error", None, "/infrastructuur?type=satelliet", 400),
            ("investments", None, "/infrastructuur/investeringen", 200),
            ("infrastructure-en", None, "/infrastructuur?lang=en", 200),  # the language sticks from here on
            ("investments-editor", world["accounts"].editor_email, "/infrastructuur/investeringen", 200),
            ("investments-editor-en", world["accounts"].editor_email, "/infrastructuur/investeringen?lang=en", 200)):
        if who not in pages:
            pages[who] = new_page(bypass_csp=True)
            if who:
                _login(pages[who], who)
        page = pages[who]
        response = page.goto(path)
        assert response.status == status, (path, response.status)
        assert page.locator("html").get_attribute("lang") == ("en" if "lang=en" in path else "nl")
        assert page.locator("main#inhoud").count() == 1 and page.locator("h1").count() == 1
        if page.locator("[data-map]").count():
            page.wait_for_selector("[data-map-ready]")
        screenshot(page, name)
        violations = run_axe(page, axe_source)
        if violations:
            failures[path] = violations
        assert not page.probe.page_errors, (path, page.probe.page_errors)
    assert not failures, failures


def test_map_draws_coverage_cells_and_the_table_works_without_javascript(new_page, browser_session):
    _seed(browser_session)
    page = new_page()
    page.goto("/infrastructuur")
    page.wait_for_selector("[data-map-ready]")
    assert page.locator("#infra-map path.leaflet-interactive").count() >= 3  # the three coverage cells
    assert not page.probe.blocked or all("127.0.0.1" not in u for u in page.probe.blocked)
    plain = new_page(javascript=False)
    plain.goto("/infrastructuur")
    table = plain.locator("#infra-table")
    assert table.is_visible()
    assert "gw-catharinaplein" in table.inner_text() and "5G Strijp-S" in table.inner_text()
    assert "Eindhoven" in plain.locator("main").inner_text()


def test_investment_form_error_next_to_field_then_fixed(new_page, browser_session, axe_source):
    world = _seed(browser_session)
    page = new_page(bypass_csp=True)
    _login(page, world["accounts"].editor_email)
    page.goto("/infrastructuur/investeringen")
    page.get_by_label("Titel").fill("Wifi in het park")
    page.get_by_label("Technologie").select_option("public-wifi")
    page.get_by_label("Kosten in euro").fill("50000")
    page.get_by_label("Rijk").fill("-10")
    page.get_by_role("button", name="Investering opslaan").click()
    page.wait_for_load_state()
    field = page.locator("#f-amount_state")
    assert field.get_attribute("aria-invalid") == "true" and field.input_value() == "-10"
    assert "negatief" in page.locator("#f-amount_state-error").inner_text()
    assert page.locator("#f-title").input_value() == "Wifi in het park"
    assert not run_axe(page, axe_source)
    field.fill("60000")  # now more than the cost
    page.get_by_role("button", name="Investering opslaan").click()
    page.wait_for_load_state()
    assert page.locator("#f-cost_eur").get_attribute("aria-invalid") == "true"
    page.locator("#f-amount_state").fill("20000")
    page.get_by_role("button", name="Investering opslaan").click()
    page.wait_for_load_state()
    assert "melding=opgeslagen" in page.url
    assert "Wifi in het park" in page.locator("main").inner_text()


def test_investment_edit_keeps_what_the_form_does_not_show(new_page, browser_session, axe_source):
    from stadslab.infrastructure import service

    world = _seed(browser_session)
    [inv] = service.list_investments(browser_session)
    page = new_page(bypass_csp=True)
    _login(page, world["accounts"].editor_email)
    page.goto("/infrastructuur/investeringen")
    page.get_by_role("link", name="Bewerken LoRaWAN Eindhoven-Noord").click()
    page.wait_for_load_state()
    assert page.locator("#f-cost_eur").input_value() == "300000"
    assert page.locator("#f-amount_local").input_value() == "100000"
    page.locator("#f-cost_eur").fill("120000")  # less than the 150,000 committed
    page.get_by_role("button", name="Wijzigingen opslaan").click()
    page.wait_for_load_state()
    assert page.locator("#f-cost_eur").get_attribute("aria-invalid") == "true"
    assert not run_axe(page, axe_source)
    page.locator("#f-cost_eur").fill("400000")
    page.get_by_role("button", name="Wijzigingen opslaan").click()
    page.wait_for_load_state()
    assert "melding=opgeslagen" in page.url
    browser_session.expire_all()
    out = service.investment_out(service.get_investment(browser_session, inv.id))
    assert out.cost_eur == 400000 and out.gap_eur == 250000 and out.municipalities == ["GM0772"]
