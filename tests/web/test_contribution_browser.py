"""axe-core on every page of the lab directory, the test application, the lab form and the inbox,
in Dutch and English, including their error states (headless Chromium, live server)."""

from __future__ import annotations

from tests.factories import UTRECHT, lab_payload, project_payload
from tests.governance.factories import make_organisation, make_user
from tests.web.conftest import run_axe, screenshot
from tests.web.test_browser import _login


def _world(session) -> dict:
    from stadslab.core.auth import ROLE_SCOPES, Principal
    from stadslab.labs import moderation
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import LivingLabIn, ProjectIn, TestApplicationIn

    utrecht = make_organisation(session, "Gemeente Utrecht", municipality_code=UTRECHT)
    company = make_organisation(session, "Parkeerdata BV", kind="company")
    city = make_user(session, "editor", utrecht, email="data@utrecht.example.org")
    firm = make_user(session, "editor", company, email="sanne@parkeerdata.example")
    lab = labs.create_living_lab(session, LivingLabIn(**lab_payload(
        name="Leidsche Rijn Living Lab", city=UTRECHT, infrastructure=["5g", "smart-lighting"],
        offer_conditions="WA-verzekering", offer_costs="Gratis", owner_organisation_id=utrecht.id)))
    actor = Principal(user_id=firm.id, organisation_id=company.id, role="editor", scopes=ROLE_SCOPES["editor"],
                      via="token")
    project = labs.create_project(session, ProjectIn(**project_payload(
        title="Parkeersensoren", city=UTRECHT, living_lab_id=lab.id, owner_organisation_id=company.id)), actor=actor)
    moderation.apply_to_test(session, lab.id, TestApplicationIn(
        contact_name="Sanne", contact_email="sanne@parkeerdata.example", what="Parkeersensoren in twintig straten",
        start_date="2027-03-01", end_date="2027-06-30"), actor=actor)
    return {"city": city.email, "company": firm.email, "lab": lab.id, "project": project.id}


def test_new_pages_pass_axe_in_both_languages(new_page, browser_session, axe_source):
    w = _world(browser_session)
    lab = w["lab"]
    pages = [
        (None, "/labs", 200), (None, "/labs?infrastructure=5g&province=Utrecht&open_to_external=true", 200),
        (None, "/labs?infrastructure=warp&province=Atlantis", 400), (None, f"/labs/{lab}", 200),
        (w["company"], f"/labs/{lab}/testen", 200), (w["company"], "/inbox", 200),
        (w["company"], f"/projecten/{w['project']}", 200), (w["company"], f"/projecten/{w['project']}/bewerken", 200),
        (w["city"], "/inbox", 200), (w["city"], f"/labs/{lab}/bewerken", 200), (w["city"], "/labs/nieuw", 200),
    ]
    browsers: dict = {}
    failures = {}
    for who, path, status in pages:
        if who not in browsers:
            browsers[who] = new_page(bypass_csp=True)
            if who:
                _login(browsers[who], who)
        page = browsers[who]
        for lang in ("nl", "en"):
            url = path + ("&" if "?" in path else "?") + "lang=en" if lang == "en" else path
            response = page.goto(url)
            assert response.status == status, (url, response.status)
            assert page.locator("h1").count() == 1, url
            violations = run_axe(page, axe_source)
            if violations:
                failures[url] = violations
    assert not failures, failures


def test_form_error_states_pass_axe(new_page, browser_session, axe_source):
    w = _world(browser_session)
    company = new_page(bypass_csp=True)
    _login(company, w["company"])
    for lang in ("nl", "en"):
        company.goto(f"/labs/{w['lab']}/testen" + ("?lang=en" if lang == "en" else ""))
        company.locator("#f-what").fill("kort")
        company.locator("#f-start_date").fill("2027-05-01")
        company.locator("#f-end_date").fill("2027-04-01")
        company.locator("form.stadslab-form button[type=submit]").click()
        company.wait_for_load_state()
        for field in ("what", "end_date"):
            assert company.locator(f"#f-{field}-error").is_visible(), (lang, field)
        assert company.locator("#f-what").evaluate("el => document.activeElement === el")  # focus on the first
        screenshot(company, f"lab-apply-error-{lang}")
        assert not run_axe(company, axe_source), lang
    city = new_page(bypass_csp=True)
    _login(city, w["city"])
    for lang in ("nl", "en"):
        city.goto("/labs/nieuw" + ("?lang=en" if lang == "en" else ""))
        city.locator("form.stadslab-form button[type=submit]").click()
        city.wait_for_load_state()
        assert city.locator("#f-name-error").is_visible() and city.locator("#f-city-error").is_visible()
        screenshot(city, f"lab-new-error-{lang}")
        assert not run_axe(city, axe_source), lang


def test_directory_and_forms_work_without_javascript(new_page, browser_session):
    w = _world(browser_session)
    page = new_page(javascript=False)
    page.goto("/labs")
    page.get_by_label("5G-mobiel netwerk").check()
    page.get_by_role("button", name="Proeftuinen tonen").click()
    page.wait_for_load_state()
    assert "infrastructure=5g" in page.url and "Leidsche Rijn Living Lab" in page.locator("table").inner_text()


def test_registry_forms_pass_axe_in_both_languages_with_errors(new_page, browser_session, axe_source):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import SolutionIn
    from tests.factories import solution_payload
    from tests.web.seed import _sta

    w = _world(browser_session)
    from stadslab.governance.models import User

    city_org = browser_session.query(User.organisation_id).filter(User.email == w["city"]).scalar()
    solution = labs.create_solution(browser_session, SolutionIn(**solution_payload(owner_organisation_id=city_org)))
    thing = _sta(browser_session, "Things", {
        "name": "Drukteteller Neude", "description": "Telt voetgangers",
        "properties": {"register": {"purpose": "Drukte meten", "owner": {"organisation_id": city_org}}}})
    city = new_page(bypass_csp=True)
    _login(city, w["city"])
    paths = ["/oplossingen/nieuw", f"/oplossingen/{solution.id}/bewerken", f"/oplossingen/{solution.id}",
             f"/oplossingen/{solution.id}/overnemen", f"/projecten/{w['project']}/lessen", "/coalities/nieuw",
             f"/sensoren/{thing}/register", f"/sensoren/{thing}"]
    failures = {}
    for path in paths:
        for lang in ("nl", "en"):
            url = path + ("?lang=en" if lang == "en" else "")
            assert city.goto(url).status == 200, url
            violations = run_axe(city, axe_source)
            if violations:
                failures[url] = violations
            if path.endswith(("nieuw", "lessen", "register")):  # and the same form with its errors
                if path.endswith("register"):
                    city.locator("#f-purpose").fill("")
                    city.locator("#f-processes_personal_data").select_option("true")
                city.locator("form.stadslab-form button[type=submit]").click()
                city.wait_for_load_state()
                assert city.locator(".utrecht-form-field-error-message").count() >= 1, url
                violations = run_axe(city, axe_source)
                if violations:
                    failures[url + " (errors)"] = violations
    assert not failures, failures
