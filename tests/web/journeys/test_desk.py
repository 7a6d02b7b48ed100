"""The IenW desk in the browser: a city submits, the desk takes it in review, asks for information,
the city answers, the desk grants it with a validity period; the public sees it on the lab page.

Ends with the state checked through the API. axe-core finds no serious or critical violations on
the desk's queue, the request page (both sides) and the loket overview, in Dutch and English.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails in CI) with the reason
    expect = None

from tests.web.conftest import run_axe, screenshot
from tests.web.seed import DESK_EMAIL, seed_accounts, seed_desk, seed_registry

pytestmark = pytest.mark.browser


def _login(page, email: str) -> None:
    from tests.governance.factories import DEFAULT_PASSWORD

    page.goto("/inloggen")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Inloggen", exact=True).click()
    page.wait_for_load_state()


def _axe_clean(page, axe_source: str, path: str, name: str) -> None:
    for suffix, lang in (("", "nl"), ("-en", "en")):
        url = path + (("&" if "?" in path else "?") + "lang=en" if lang == "en" else "")
        response = page.goto(url)
        assert response.status == 200, (url, response.status)
        screenshot(page, f"journey-desk-{name}{suffix}")
        violations = run_axe(page, axe_source)
        assert not violations, (url, violations)
    page.goto(path + ("&" if "?" in path else "?") + "lang=nl")  # back to Dutch (the choice sticks)


def test_ienw_desk_grants_a_routed_request_with_a_validity_period(new_page, browser_session, axe_source,
                                                                 live_server):
    from tests.governance.factories import auth_headers, make_token
    from stadslab.governance.models import User

    reg = seed_registry(browser_session, demo=False)
    accounts = seed_accounts(browser_session)
    desk_id = seed_desk(browser_session)
    lab_id = reg.lab_ids[0]

    # A city editor submits a mobility experiment in the browser: it is routed to IenW.
    city = new_page(bypass_csp=True)
    _login(city, accounts.editor_email)
    city.goto("/loket")
    city.locator("#f-type").select_option("experiment")
    city.locator("#f-topic").select_option("mobility")
    city.locator("#f-title").fill("Zelfrijdende pendelbus Strijp-S")
    city.locator("#f-regulation").fill("RVV 1990, artikel 5")
    city.locator("#f-living_lab_id").select_option(str(lab_id))
    city.get_by_role("button", name="Verzoek indienen").click()
    expect(city.get_by_role("status")).to_contain_text("Uw verzoek is ingediend")
    request_path = city.url.split("?")[0].replace(live_server, "")
    request_id = int(request_path.rsplit("/", 1)[1])
    expect(city.locator("h1")).to_have_text("Zelfrijdende pendelbus Strijp-S")
    expect(city.locator("dl")).to_contain_text("Ministerie van Infrastructuur en Waterstaat")

    # The desk logs in and finds it in its queue, with its decision term.
    desk = new_page(bypass_csp=True)
    _login(desk, DESK_EMAIL)
    desk.goto("/loket")
    desk.get_by_role("link", name="Naar de werkvoorraad van uw loket").click()
    expect(desk.locator("h1")).to_contain_text("Ministerie van Infrastructuur en Waterstaat")
    row = desk.locator("#queue-table tbody tr", has_text="Zelfrijdende pendelbus Strijp-S")
    expect(row).to_contain_text("Gemeente Eindhoven")
    expect(row).to_contain_text("Ingediend")
    _axe_clean(desk, axe_source, "/loket/bureau", "queue")
    _axe_clean(desk, axe_source, "/loket/bureau?status=submitted&overdue=nee", "queue-filtered")
    desk.goto("/loket/bureau")
    desk.get_by_role("link", name="Zelfrijdende pendelbus Strijp-S").click()

    # Take in review, then ask for information (an empty question is refused next to the field).
    desk.get_by_role("button", name="In behandeling nemen").click()
    expect(desk.get_by_role("status")).to_contain_text("Opgeslagen")
    expect(desk.locator("#steps")).to_contain_text("In behandeling genomen")
    desk.get_by_role("button", name="Vraag informatie").click()
    expect(desk.locator("#ask-note-error")).to_contain_text("Geef aan welke informatie u nodig hebt")
    desk.locator("#ask-note").fill("Welke route rijdt de pendelbus, en met welke snelheid?")
    desk.get_by_role("button", name="Vraag informatie").click()
    expect(desk.locator("#steps")).to_contain_text("Welke route rijdt de pendelbus")
    _axe_clean(desk, axe_source, request_path, "request-desk")

    # The city sees each step and answers; the request goes back to review.
    city.goto(request_path)
    expect(city.locator("#steps")).to_contain_text("Meer informatie gevraagd")
    expect(city.locator("#steps")).to_contain_text("Welke route rijdt de pendelbus")
    _axe_clean(city, axe_source, request_path, "request-city")
    city.locator("#c-body").fill("Over de ringweg van de campus, maximaal 15 km/u.")
    city.get_by_role("button", name="Versturen").click()
    expect(city.locator("#steps")).to_contain_text("Informatie aangeleverd")

    # The desk grants it for a year, for the lab; without a period it is refused with the input kept.
    desk.goto(request_path)
    start, end = date.today(), date.today() + timedelta(days=365)
    desk.locator("#decide-decision").select_option("granted")
    desk.locator("#decide-note").fill("Toegestaan onder voorwaarden: maximaal 15 km/u.")
    desk.get_by_role("button", name="Besluit opslaan").click()
    expect(desk.locator("#decide-valid_from-error")).to_be_visible()
    assert desk.locator("#decide-note").input_value() == "Toegestaan onder voorwaarden: maximaal 15 km/u."
    desk.locator("#decide-valid_from").fill(start.isoformat())
    desk.locator("#decide-valid_until").fill(end.isoformat())
    desk.get_by_label("Strijp-S Living Lab").check()
    desk.get_by_role("button", name="Besluit opslaan").click()
    expect(desk.get_by_role("status")).to_contain_text("Opgeslagen")
    expect(desk.locator("#validity")).to_contain_text("Strijp-S Living Lab")
    screenshot(desk, "journey-desk-granted")

    # The public sees the granted exemption on the lab page and in the loket overview.
    public = new_page(bypass_csp=True)
    public.goto(f"/labs/{lab_id}")
    section = public.locator("section", has=public.locator("#exemptions-title"))
    expect(section).to_contain_text("Zelfrijdende pendelbus Strijp-S")
    expect(section).to_contain_text("geldig")
    public.goto("/loket")
    expect(public.locator("#exemptions-table")).to_contain_text("Zelfrijdende pendelbus Strijp-S")
    _axe_clean(public, axe_source, "/loket", "loket-public")

    # The state, through the API.
    desk_user = browser_session.get(User, desk_id)
    headers = auth_headers(make_token(browser_session, desk_user))
    detail = desk.request.get(f"{live_server}/api/v1/loket/requests/{request_id}", headers=headers).json()
    assert detail["status"] == "decided" and detail["decision"] == "granted"
    assert detail["routed_to"] == "ienw"
    assert detail["valid_from"] == start.isoformat() and detail["valid_until"] == end.isoformat()
    assert detail["exemption_lab_ids"] == [lab_id]
    assert [c["kind"] for c in detail["comments"]] == ["in_review", "needs_info", "answered", "decided"]
    public_items = desk.request.get(f"{live_server}/api/v1/loket/exemptions?state=current").json()["items"]
    assert [e["id"] for e in public_items] == [request_id]
