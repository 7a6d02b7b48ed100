"""Journey of a city editor: Utrecht's data officer edits the test offer of Utrecht's own living lab.

In headless Chromium, against the live server: the lab page's edit link, the form with
an error next to its field and the input kept, the saved offer on the public page with
facilities shown by their labels, and the change checked through the API. axe-core finds
no serious or critical violation on the form, in Dutch and in English.
"""

from __future__ import annotations

from tests.factories import UTRECHT, lab_payload
from tests.governance.factories import make_organisation, make_user
from tests.web.conftest import run_axe
from tests.web.test_browser import _login


def _utrecht(session) -> dict:
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import LivingLabIn

    utrecht = make_organisation(session, "Gemeente Utrecht", municipality_code=UTRECHT)
    editor = make_user(session, "editor", utrecht, email="data@utrecht.example.org", display_name="Dana Data")
    lab = labs.create_living_lab(session, LivingLabIn(**lab_payload(
        name="Leidsche Rijn Living Lab", city=UTRECHT, infrastructure=["lorawan"], open_to_external=True,
        owner_organisation_id=utrecht.id)))
    return {"editor": editor.email, "lab": lab.id}


def test_utrecht_editor_edits_the_test_offer_of_a_lab(new_page, browser_session, axe_source, live_server):
    world = _utrecht(browser_session)
    lab = world["lab"]
    page = new_page(bypass_csp=True)
    _login(page, world["editor"])
    page.goto(f"/labs/{lab}")
    page.get_by_role("link", name="Proeftuin bewerken").click()
    page.wait_for_url(f"**/labs/{lab}/bewerken")
    assert not run_axe(page, axe_source)
    assert page.get_by_label("LoRaWAN-netwerk").is_checked()  # facilities by label, not code

    page.get_by_label("5G-mobiel netwerk").check()
    page.get_by_label("Voorwaarden").fill("Een WA-verzekering en een melding bij de wijkregisseur.")
    page.get_by_label("Kosten").fill("Gratis voor de eerste drie maanden.")
    page.get_by_label("Zo vraagt u aan").fill("Vul het aanvraagformulier in; wij reageren binnen twee weken.")
    page.get_by_label("Contactpersoon", exact=False).first.fill("Dana Data")
    page.get_by_label("E-mailadres contactpersoon").fill("dana-at-utrecht")
    page.locator("form.stadslab-form button[type=submit]").click()
    page.wait_for_load_state()
    error = page.locator("#f-contact_email-error")
    assert error.is_visible() and "e-mailadres" in error.inner_text()
    assert page.get_by_label("E-mailadres contactpersoon").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Kosten").input_value() == "Gratis voor de eerste drie maanden."  # input kept
    assert page.get_by_label("5G-mobiel netwerk").is_checked()
    assert not run_axe(page, axe_source)

    page.get_by_label("E-mailadres contactpersoon").fill("dana@utrecht.example.org")
    page.locator("form.stadslab-form button[type=submit]").click()
    page.wait_for_url(f"**/labs/{lab}?melding=opgeslagen")
    offer = page.locator("section[aria-labelledby=offer-title]")
    assert "5G-mobiel netwerk" in offer.inner_text() and "Gratis voor de eerste drie maanden." in offer.inner_text()
    assert "5g" not in offer.inner_text()

    page.goto(f"/labs/{lab}/bewerken?lang=en")
    assert page.get_by_label("5G mobile network").is_checked()
    assert not run_axe(page, axe_source)

    # checked through the API, as anybody would read it
    api = page.request.get(f"{live_server}/api/v1/living-labs/{lab}").json()
    assert api["infrastructure"] == ["lorawan", "5g"]
    assert api["offer_costs"] == "Gratis voor de eerste drie maanden."
    assert api["offer_conditions"].startswith("Een WA-verzekering")
    assert api["contact_email"] == "dana@utrecht.example.org" and api["open_to_external"] is True
    found = page.request.get(f"{live_server}/api/v1/living-labs?infrastructure=5g&province=Utrecht").json()
    assert [x["id"] for x in found["items"]] == [lab]
