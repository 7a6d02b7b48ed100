"""Journey of a company: it finds a lab, applies to test and attaches its project; Utrecht decides.

In headless Chromium, against the live server. The company filters the lab directory,
applies to test in Utrecht's Leidsche Rijn lab and links its own project to that lab.
Both wait in Utrecht's inbox: the public sees neither (page and API) until Utrecht's
editor accepts, and the company follows their status in its own inbox. The end state
is checked through the API; axe-core checks every page of the journey.
"""

from __future__ import annotations

from tests.factories import UTRECHT, lab_payload, project_payload
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user
from tests.web.conftest import run_axe
from tests.web.test_browser import _login

PROJECT = "Slimme parkeersensoren Leidsche Rijn"


def _world(session) -> dict:
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import LivingLabIn, ProjectIn

    utrecht = make_organisation(session, "Gemeente Utrecht", municipality_code=UTRECHT)
    company = make_organisation(session, "Parkeerdata BV", kind="company")
    city_editor = make_user(session, "editor", utrecht, email="data@utrecht.example.org")
    company_editor = make_user(session, "editor", company, email="sanne@parkeerdata.example",
                               display_name="Sanne Sensor")
    lab = labs.create_living_lab(session, LivingLabIn(**lab_payload(
        name="Leidsche Rijn Living Lab", city=UTRECHT, infrastructure=["5g", "smart-lighting"],
        open_to_external=True, offer_costs="Gratis", owner_organisation_id=utrecht.id)))
    labs.create_living_lab(session, LivingLabIn(**lab_payload(name="Gesloten lab", open_to_external=False)))
    project = labs.create_project(session, ProjectIn(**project_payload(title=PROJECT, city=UTRECHT,
                                                                       owner_organisation_id=company.id)))
    return {"lab": lab.id, "project": project.id, "city": city_editor.email, "company": company_editor.email,
            "company_token": auth_headers(make_token(session, company_editor))}


def _axe(page, axe_source):
    violations = run_axe(page, axe_source)
    assert not violations, (page.url, violations)


def test_company_applies_to_test_and_attaches_a_project_pending_until_utrecht_accepts(
        new_page, browser_session, axe_source, live_server):
    w = _world(browser_session)
    lab, project = w["lab"], w["project"]
    api = new_page().request  # an anonymous client of the API

    company = new_page(bypass_csp=True)
    _login(company, w["company"])
    # the directory: filters in the URL, facilities by label
    company.goto("/labs")
    company.get_by_label("5G-mobiel netwerk").check()
    company.get_by_label("Open voor externe partijen").select_option("true")
    company.get_by_role("button", name="Proeftuinen tonen").click()
    company.wait_for_load_state()
    assert "infrastructure=5g" in company.url and "open_to_external=true" in company.url
    table = company.locator("table").inner_text()
    assert "Leidsche Rijn Living Lab" in table and "Gesloten lab" not in table and "Slimme straatverlichting" in table
    _axe(company, axe_source)
    company.get_by_role("link", name="Leidsche Rijn Living Lab").click()
    company.get_by_role("link", name="Aanvragen om in deze proeftuin te testen").click()
    company.wait_for_url(f"**/labs/{lab}/testen")
    _axe(company, axe_source)
    assert company.get_by_label("E-mailadres").input_value() == w["company"]  # who: from the account
    company.get_by_label("Wat wilt u testen?").fill("Parkeersensoren in twintig straten, met een dashboard.")
    company.get_by_label("Van", exact=True).fill("2027-03-01")
    company.get_by_label("Tot en met").fill("2027-06-30")
    company.get_by_role("button", name="Aanvraag versturen").click()
    company.wait_for_url(f"**/labs/{lab}?melding=aangevraagd")
    assert "Uw aanvraag is verstuurd" in company.content()

    # the company links its own project to Utrecht's lab
    company.goto(f"/projecten/{project}/bewerken")
    company.get_by_label("Proeftuin").select_option(label="Leidsche Rijn Living Lab")
    company.locator("form.stadslab-form button[type=submit]").click()
    company.wait_for_url(f"**/projecten/{project}?melding=opgeslagen")
    assert "wacht op goedkeuring door de proeftuin" in company.content()
    company.goto("/inbox")
    outgoing = company.locator("section[aria-labelledby=outgoing-title]").inner_text()
    assert PROJECT in outgoing and "Parkeersensoren in twintig straten" in outgoing
    assert outgoing.count("In afwachting van besluit") == 2
    _axe(company, axe_source)

    # the public sees nothing of it yet: not on the lab page, not in the API
    public = new_page()
    public.goto(f"/labs/{lab}")
    assert PROJECT not in public.content()
    public.goto(f"/projecten/{project}")
    assert "wacht op goedkeuring" not in public.content()
    assert api.get(f"{live_server}/api/v1/projects/{project}").json()["living_lab"] is None
    assert api.get(f"{live_server}/api/v1/projects?living_lab={lab}").json()["total"] == 0
    assert api.get(f"{live_server}/api/v1/contributions").status == 401

    # Utrecht's editor decides in the inbox
    city = new_page(bypass_csp=True)
    _login(city, w["city"])
    city.goto("/inbox")
    pending = city.locator("section[aria-labelledby=pending-title]")
    assert PROJECT in pending.inner_text() and "Parkeerdata BV" in pending.inner_text()
    _axe(city, axe_source)
    city.locator("tr", has_text=PROJECT).get_by_role("button", name="Accepteren").click()
    city.wait_for_url("**/inbox?melding=accept")
    city.locator("tr", has_text="Parkeersensoren in twintig straten").get_by_label("Toelichting").fill(
        "Welkom, wij nemen contact op.")
    with city.expect_navigation():
        city.locator("tr", has_text="Parkeersensoren in twintig straten").get_by_role("button",
                                                                                       name="Accepteren").click()
    assert "De bijdrage is geaccepteerd." in city.content()
    assert "Er wacht niets op een besluit." in city.content()
    city.goto("/inbox?lang=en")
    _axe(city, axe_source)

    # now the public sees the project in the lab, and the company sees both accepted
    public.goto(f"/labs/{lab}")
    assert PROJECT in public.content()
    company.goto("/inbox")
    outgoing = company.locator("section[aria-labelledby=outgoing-title]").inner_text()
    assert outgoing.count("Geaccepteerd") == 2 and "Welkom, wij nemen contact op." in outgoing

    # checked through the API
    assert api.get(f"{live_server}/api/v1/projects/{project}").json()["living_lab"]["id"] == lab
    mine = api.get(f"{live_server}/api/v1/contributions?direction=outgoing", headers=w["company_token"]).json()
    assert sorted((c["kind"], c["status"]) for c in mine["items"]) == [("project_to_lab", "accepted"),
                                                                     ("test_application", "accepted")]
