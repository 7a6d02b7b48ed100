"""The loket's desk side in the browser (TestClient, both databases): queue filters, bad input on the
request page (409, 403, errors next to the field), the lab editors' expiry warning, the admin count."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from stadslab.core.auth import SYSTEM
from stadslab.governance import loket
from stadslab.governance.models import LoketRequest
from stadslab.labs.models import LivingLab
from tests.web.conftest import web_login
from tests.web.seed import DESK_EMAIL, seed_accounts, seed_desk, seed_registry


@pytest.fixture
def desk_world(session):
    reg = seed_registry(session)
    accounts = seed_accounts(session)
    seed_desk(session)
    seed_desk(session, team="bzk", email="bureau@bzk.example.org")
    lab = session.get(LivingLab, reg.lab_ids[0])
    lab.owner_organisation_id = accounts.organisation_id
    session.commit()
    ids = {}
    for key, type_, topic in (("mobility", "experiment", "mobility"), ("knowledge", "knowledge", "mobility")):
        r = loket.submit(session, SYSTEM, {"type": type_, "topic": topic, "title": f"Verzoek {key}",
                                           "living_lab_id": lab.id, "organisation_id": accounts.organisation_id})
        ids[key] = r.id
    return reg, accounts, ids


def test_the_queue_filters_and_marks_overdue(web_client, session, desk_world):
    _reg, _accounts, ids = desk_world
    late = session.get(LoketRequest, ids["mobility"])
    late.decision_due = date.today() - timedelta(days=3)
    session.commit()
    web_login(web_client, DESK_EMAIL)
    page = web_client.get("/loket/bureau").text
    table = page[page.index('id="queue-table"'):]
    assert "Verzoek mobility" in table and "Verzoek knowledge" not in table  # knowledge goes to another team
    assert 'stadslab-row--overdue' in table and "Te laat" in table
    assert 'id="overdue-count"' in page
    assert "Verzoek mobility" not in web_client.get("/loket/bureau?overdue=nee").text.split('id="queue-title"')[1]
    assert "Verzoek mobility" in web_client.get("/loket/bureau?overdue=ja&type=experiment&status=submitted").text
    assert "Geen verzoeken" in web_client.get("/loket/bureau?status=decided").text
    # another desk's queue is not theirs
    assert web_client.get("/loket/bureau?team=bzk").status_code == 403
    # and the admin dashboard counts it
    web_client.cookies.clear()
    web_login(web_client, "beheer@example.org")
    dashboard = web_client.get("/beheer").text
    assert re.search(r'id="loket-overdue">Te laat: 1', dashboard)


def test_bad_input_on_the_request_page(web_client, session, desk_world):
    reg, accounts, ids = desk_world
    rid = ids["mobility"]
    csrf = web_login(web_client, DESK_EMAIL)
    step = f"/loket/verzoeken/{rid}/stap"
    assert web_client.post(step, data={"csrf_token": csrf, "actie": "in_review"},
                           follow_redirects=False).status_code == 303
    # a grant without a period: errors next to the fields, input kept, nothing saved
    r = web_client.post(step, data={"csrf_token": csrf, "actie": "decided", "decision": "granted",
                                    "note": "Onder voorwaarden", "valid_until": "2027-01-01"})
    assert r.status_code == 422
    assert re.search(r'id="decide-valid_from-error"[^>]*>.*?Vul de periode in', r.text, re.S)
    assert 'value="2027-01-01"' in r.text and "Onder voorwaarden</textarea>" in r.text
    r = web_client.post(step, data={"csrf_token": csrf, "actie": "decided", "decision": "granted",
                                    "valid_from": "morgen", "valid_until": "2027-01-01"})
    assert r.status_code == 422 and re.search(r'id="decide-valid_from-error"[^>]*>.*?Vul een datum in', r.text,
                                              re.S)
    session.expire_all()
    assert session.get(LoketRequest, rid).status == "in_review"
    r = web_client.post(step, data={"csrf_token": csrf, "actie": "decided", "decision": "rejected",
                                    "note": "Past niet binnen de wet"}, follow_redirects=False)
    assert r.status_code == 303
    # deciding again: 409, said on the page
    r = web_client.post(step, data={"csrf_token": csrf, "actie": "decided", "decision": "granted"})
    assert r.status_code == 409 and "het verzoek is al verder" in r.text
    # a desk of another team: not their queue
    web_client.cookies.clear()
    csrf = web_login(web_client, "bureau@bzk.example.org")
    assert web_client.get(f"/loket/verzoeken/{rid}").status_code == 404
    assert web_client.post(f"/loket/verzoeken/{ids['knowledge']}/stap",
                           data={"csrf_token": csrf, "actie": "in_review"}).status_code == 404
    # the city cannot handle its own request, and an empty comment is refused next to the field
    web_client.cookies.clear()
    csrf = web_login(web_client, accounts.editor_email)
    assert web_client.post(f"/loket/verzoeken/{ids['knowledge']}/stap",
                           data={"csrf_token": csrf, "actie": "in_review"}).status_code == 403
    r = web_client.post(f"/loket/verzoeken/{ids['knowledge']}/reactie", data={"csrf_token": csrf, "body": "  "})
    assert r.status_code == 422 and re.search(r'id="c-body-error"', r.text)
    page = web_client.get(f"/loket/verzoeken/{rid}?lang=en").text
    assert "Rejected" in page and "Past niet binnen de wet" in page and "Taken in review" in page


def test_lab_editors_see_an_exemption_that_ends_soon(web_client, client, session, desk_world):
    reg, accounts, ids = desk_world
    rid = ids["mobility"]
    loket.transition(session, SYSTEM, rid, "in_review")
    loket.transition(session, SYSTEM, rid, "decided", "granted", valid_from=date.today() - timedelta(days=300),
                     valid_until=date.today() + timedelta(days=20))
    lab = f"/labs/{reg.lab_ids[0]}"
    public = client.get(lab, headers={"Accept": "text/html"}).text
    assert "Verzoek mobility" in public and 'id="expiring-exemptions"' not in public
    web_login(web_client, accounts.editor_email)
    page = web_client.get(lab).text
    warning = page[page.index('id="expiring-exemptions"'):]
    assert "Verzoek mobility" in warning[:2000]
    web_client.cookies.clear()
    web_login(web_client, accounts.other_editor_email)
    assert 'id="expiring-exemptions"' not in web_client.get(lab).text
    # expired ones leave the lab page and move to their own table on /loket
    stored = session.get(LoketRequest, rid)
    stored.valid_until = date.today() - timedelta(days=1)
    session.commit()
    assert "Verzoek mobility" not in client.get(lab, headers={"Accept": "text/html"}).text
    overview = client.get("/loket", headers={"Accept": "text/html"}).text
    assert "Verzoek mobility" in overview[overview.index('id="expired-table"'):]
    assert session.scalar(select(LoketRequest.id).where(LoketRequest.id == rid)) == rid


def test_admin_adds_a_desk_account_in_the_browser(web_client, session, desk_world):
    from stadslab.governance.service import find_user_by_email

    csrf = web_login(web_client, "beheer@example.org")
    data = {"csrf_token": csrf, "email": "bureau@jenv.example.org", "display_name": "Jet", "role": "desk"}
    r = web_client.post("/beheer/gebruikers", data=data)
    assert r.status_code == 422 and re.search(r'id="nieuw-desk_team-error"[^>]*>.*?heeft een loket nodig', r.text,
                                              re.S)
    assert 'value="bureau@jenv.example.org"' in r.text
    r = web_client.post("/beheer/gebruikers", data={**data, "desk_team": "jenv"}, follow_redirects=False)
    assert r.status_code == 303
    user = find_user_by_email(session, "bureau@jenv.example.org")
    assert user.role == "desk" and user.desk_team == "jenv"
