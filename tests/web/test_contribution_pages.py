"""The lab directory's filters, the inbox, applying to test and the lab form, through the pages."""

from __future__ import annotations

import pytest

from tests.factories import UTRECHT, lab_payload, project_payload
from tests.web.conftest import HTML, web_login
from tests.web.seed import seed_accounts, seed_registry


def _lab(session, **over):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import LivingLabIn

    return labs.create_living_lab(session, LivingLabIn(**lab_payload(**over)))


def test_lab_directory_filters_in_the_url_with_labels(client, session):
    seed_registry(session)
    _lab(session, name="Leidsche Rijn Living Lab", city=UTRECHT, infrastructure=["5g", "smart-lighting"],
         open_to_external=True)
    r = client.get("/labs?infrastructure=5g&province=Utrecht&open_to_external=true", headers=HTML)
    assert r.status_code == 200
    table = r.text[r.text.index("<table"):]
    assert "Leidsche Rijn Living Lab" in table and "Strijp-S" not in table
    assert "5G-mobiel netwerk" in table and "Slimme straatverlichting" in table and "smart-lighting" not in table
    assert 'value="5g" checked' in r.text  # the chosen filters stay chosen
    assert "Leidsche Rijn Living Lab" in client.get("/labs?city=GM0344", headers=HTML).text
    en = client.get("/labs?infrastructure=5g&lang=en", headers=HTML).text
    assert "5G mobile network" in en


@pytest.mark.parametrize("query", ["infrastructure=5g-plus", "province=Atlantis", "open_to_external=soms",
                                   "theme=onbekend", "city=Gotham"])
def test_lab_directory_says_which_filter_is_wrong(client, session, query):
    seed_registry(session)
    r = client.get(f"/labs?{query}", headers=HTML)
    assert r.status_code == 400
    name, value = query.split("=")
    assert f'id="f-{name}-error"' in r.text and value in r.text
    assert "Strijp-S Living Lab" not in r.text  # not silently ignored: no unfiltered list


def test_apply_to_test_lands_in_the_owners_inbox(web_client, session, make_web_client):
    accounts = seed_accounts(session)  # Eindhoven (editor, member) and Utrecht (editor)
    lab = _lab(session, name="Strijp-T", owner_organisation_id=accounts.organisation_id)
    # a logged-out visitor is sent to the login page
    r = web_client.get(f"/labs/{lab.id}/testen", follow_redirects=False)
    assert r.status_code in (302, 303) and "/inloggen" in r.headers["location"]
    csrf = web_login(web_client, accounts.other_editor_email)  # Utrecht applies to Eindhoven's lab
    form = web_client.get(f"/labs/{lab.id}/testen")
    assert form.status_code == 200 and 'name="contact_email"' in form.text
    bad = web_client.post(f"/labs/{lab.id}/testen", data={"csrf_token": csrf, "contact_name": "Uri",
                                                          "contact_email": "geen-adres", "what": "kort",
                                                          "start_date": "2027-05-01", "end_date": "2027-04-01"})
    assert bad.status_code == 422
    assert 'id="f-contact_email-error"' in bad.text and 'id="f-what-error"' in bad.text
    assert 'id="f-end_date-error"' in bad.text and 'value="geen-adres"' in bad.text  # input kept
    ok = web_client.post(f"/labs/{lab.id}/testen", data={
        "csrf_token": csrf, "contact_name": "Uri Utrecht", "contact_email": "uri@utrecht.example.org",
        "what": "Slimme vuilnisbakken in de openbare ruimte", "start_date": "2027-03-01", "end_date": "2027-06-30"},
        follow_redirects=False)
    assert ok.status_code == 303, ok.text
    sent = web_client.get("/inbox").text
    outgoing = sent[sent.index('id="outgoing-title"'):]
    assert "Slimme vuilnisbakken" in outgoing and "In afwachting van besluit" in outgoing
    # the owner's editor decides in the inbox
    owner = make_web_client()
    owner_csrf = web_login(owner, accounts.editor_email)
    page = owner.get("/inbox").text
    pending = page[page.index('id="pending-title"'):page.index('id="outgoing-title"')]
    assert "Slimme vuilnisbakken" in pending and 'value="accept"' in pending
    assert f'name="csrf_token" value="{owner_csrf}"' in pending  # the form works as sent by a browser
    from stadslab.labs.models import ModeratedContribution

    cid = session.query(ModeratedContribution.id).scalar()
    r = owner.post(f"/inbox/{cid}/besluit", data={"csrf_token": owner_csrf, "action": "accept", "note": "Welkom"},
                   follow_redirects=False)
    assert r.status_code == 303
    again = owner.post(f"/inbox/{cid}/besluit", data={"csrf_token": owner_csrf, "action": "decline"},
                       follow_redirects=False)
    assert again.status_code == 303 and "al-besloten" in again.headers["location"]
    followed = web_client.get("/inbox").text
    assert "Geaccepteerd" in followed[followed.index('id="outgoing-title"'):] and "Welkom" in followed
    # the applicant cannot decide on the owner's behalf
    assert web_client.post(f"/inbox/{cid}/besluit", data={"csrf_token": csrf, "action": "accept"},
                           follow_redirects=False).status_code in (403, 409)


def test_pending_project_is_on_the_owners_inbox_not_on_the_lab_page(web_client, session, client):
    from stadslab.core.auth import ROLE_SCOPES, Principal
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import ProjectIn

    accounts = seed_accounts(session)
    lab = _lab(session, name="Strijp-T", owner_organisation_id=accounts.organisation_id)
    utrecht_editor = Principal(user_id=None, organisation_id=accounts.other_organisation_id, role="editor",
                               scopes=ROLE_SCOPES["editor"], via="token")
    labs.create_project(session, ProjectIn(**project_payload(title="Afvalsensoren Strijp", living_lab_id=lab.id,
                                                             owner_organisation_id=accounts.other_organisation_id)),
                        actor=utrecht_editor)
    assert "Afvalsensoren Strijp" not in client.get(f"/labs/{lab.id}", headers=HTML).text
    web_login(web_client, accounts.editor_email)
    assert "Afvalsensoren Strijp" in web_client.get("/inbox").text
    assert "Afvalsensoren Strijp" not in web_client.get(f"/labs/{lab.id}").text


def test_lab_form_edits_the_test_offer_with_errors_next_to_fields(web_client, session, client, make_web_client):
    accounts = seed_accounts(session)
    lab = _lab(session, name="Strijp-T", owner_organisation_id=accounts.organisation_id, infrastructure=["lorawan"])
    assert web_client.get(f"/labs/{lab.id}/bewerken", follow_redirects=False).status_code in (302, 303)
    csrf = web_login(web_client, accounts.editor_email)
    page = web_client.get(f"/labs/{lab.id}/bewerken")
    assert page.status_code == 200 and "LoRaWAN-netwerk" in page.text and 'value="lorawan" checked' in page.text
    form = {"csrf_token": csrf, "name": "Strijp-T", "city": "GM0772", "status": "active", "description": "",
            "themes": ["mobility"], "open_to_external": "true", "infrastructure": ["lorawan", "5g"],
            "offer_conditions": "WA-verzekering verplicht", "offer_costs": "Gratis", "offer_how_to_apply": "Via het formulier",
            "contact_name": "Eva", "contact_email": "geen-adres", "website": "ftp://x"}
    bad = web_client.post(f"/labs/{lab.id}/bewerken", data=form)
    assert bad.status_code == 422
    assert 'id="f-contact_email-error"' in bad.text and 'id="f-website-error"' in bad.text
    assert "WA-verzekering verplicht" in bad.text and 'value="5g" checked' in bad.text  # input kept
    ok = web_client.post(f"/labs/{lab.id}/bewerken", data={**form, "contact_email": "eva@eindhoven.example.org",
                                                          "website": ""}, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    api = client.get(f"/api/v1/living-labs/{lab.id}").json()
    assert api["offer_conditions"] == "WA-verzekering verplicht" and api["infrastructure"] == ["lorawan", "5g"]
    assert api["offer_costs"] == "Gratis" and api["contact_email"] == "eva@eindhoven.example.org"
    # another city's editor may not
    other = make_web_client()
    web_login(other, accounts.other_editor_email)
    assert other.get(f"/labs/{lab.id}/bewerken").status_code == 403


def test_new_lab_belongs_to_the_editors_organisation(web_client, session, client):
    accounts = seed_accounts(session)
    csrf = web_login(web_client, accounts.editor_email)
    assert web_client.get("/labs/nieuw").status_code == 200
    r = web_client.post("/labs/nieuw", data={"csrf_token": csrf, "name": "", "city": "", "status": "active",
                                             "open_to_external": "true"})
    assert r.status_code == 422 and 'id="f-name-error"' in r.text and 'id="f-city-error"' in r.text
    r = web_client.post("/labs/nieuw", data={"csrf_token": csrf, "name": "Nieuw lab Eindhoven", "city": "GM0772",
                                             "status": "active", "open_to_external": "false"},
                        follow_redirects=False)
    assert r.status_code == 303, r.text
    lab = client.get("/api/v1/living-labs?q=Nieuw lab").json()["items"][0]
    assert lab["owner_organisation_id"] == accounts.organisation_id and lab["open_to_external"] is False


def _camera(session, owner_id: int) -> int:
    from tests.web.seed import _sta

    return _sta(session, "Things", {
        "name": "Drukteteller Neude", "description": "Telt voetgangers",
        "properties": {"register": {"purpose": "Drukte meten", "owner": {"organisation_id": owner_id},
                                    "access_class": "open"}},
        "Datastreams": [{"name": "Voetgangers per minuut", "description": "telling",
                         "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation",
                         "unitOfMeasurement": {"name": "aantal", "symbol": "#", "definition": "https://example.org/n"},
                         "Sensor": {"name": "Cam", "description": "camera", "encodingType": "text/html",
                                    "metadata": "https://example.org/cam"},
                         "ObservedProperty": {"name": "voetgangers", "definition": "https://example.org/p",
                                              "description": "aantal"}}]})


def test_sensor_register_entry_needs_legal_ground_and_retention_for_personal_data(web_client, session, client,
                                                                                 make_web_client):
    accounts = seed_accounts(session)
    thing = _camera(session, accounts.organisation_id)
    assert web_client.get(f"/sensoren/{thing}/register", follow_redirects=False).status_code in (302, 303)
    csrf = web_login(web_client, accounts.editor_email)
    page = web_client.get(f"/sensoren/{thing}/register")
    assert page.status_code == 200 and "Voetgangers per minuut" in page.text  # the Datastreams covered
    assert f'href="/sensoren/{thing}/register"' in web_client.get(f"/sensoren/{thing}").text
    form = {"csrf_token": csrf, "purpose": "Drukte meten op de Neude", "sensor_type": "camera",
            "owner_organisation": "Gemeente Eindhoven", "owner_contact": "sensoren@eindhoven.example.org",
            "processes_personal_data": "true", "legal_ground": "", "retention": "", "privacy_statement_url": ""}
    bad = web_client.post(f"/sensoren/{thing}/register", data=form)
    assert bad.status_code == 422
    assert 'id="f-legal_ground-error"' in bad.text and 'id="f-retention-error"' in bad.text
    assert "Drukte meten op de Neude" in bad.text  # input kept
    sta = client.get(f"/sta/v1.1/Things({thing})").json()
    assert "processes_personal_data" not in sta["properties"]["register"]  # nothing saved
    ok = web_client.post(f"/sensoren/{thing}/register", data={
        **form, "legal_ground": "publieke taak", "retention": "24 uur",
        "privacy_statement_url": "https://eindhoven.example.org/privacy"}, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    reg = client.get(f"/sta/v1.1/Things({thing})").json()["properties"]["register"]
    assert reg["processes_personal_data"] is True and reg["legal_ground"] == "publieke taak"
    assert reg["retention"] == "24 uur" and reg["owner"]["organisation_id"] == accounts.organisation_id
    entry = [e for e in client.get("/api/v1/sensor-register").json()["items"] if e["id"] == thing]
    assert entry and entry[0]["legal_ground"] == "publieke taak"
    other = make_web_client()
    web_login(other, accounts.other_editor_email)
    assert other.get(f"/sensoren/{thing}/register").status_code == 403


def test_solution_adoption_lesson_and_coalition_forms(web_client, session, client, make_web_client):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import ProjectIn

    accounts = seed_accounts(session)  # Eindhoven editor; Utrecht editor
    csrf = web_login(web_client, accounts.editor_email)
    # a solution: errors next to fields, then saved for the editor's organisation
    bad = web_client.post("/oplossingen/nieuw", data={"csrf_token": csrf, "name": "x", "maturity": "eeuwig"})
    assert bad.status_code == 422 and 'id="f-name-error"' in bad.text and 'id="f-maturity-error"' in bad.text
    ok = web_client.post("/oplossingen/nieuw", data={"csrf_token": csrf, "name": "Slimme afvalbak",
                                                     "maturity": "proven", "themes": ["mobility"]},
                         follow_redirects=False)
    assert ok.status_code == 303, ok.text
    solution = client.get("/api/v1/solutions?q=Slimme afvalbak").json()["items"][0]
    assert solution["owner_organisation_id"] == accounts.organisation_id and solution["maturity"] == "proven"
    edit = web_client.post(f"/oplossingen/{solution['id']}/bewerken", data={
        "csrf_token": csrf, "name": "Slimme afvalbak", "maturity": "mature", "description": "Meldt wanneer vol"},
        follow_redirects=False)
    assert edit.status_code == 303
    assert client.get(f"/api/v1/solutions/{solution['id']}").json()["maturity"] == "mature"
    # Utrecht adopts it: pending in Eindhoven's inbox, not public
    utrecht = make_web_client()
    ucsrf = web_login(utrecht, accounts.other_editor_email)
    page = utrecht.get(f"/oplossingen/{solution['id']}")
    assert f'href="/oplossingen/{solution["id"]}/overnemen"' in page.text
    assert f'href="/oplossingen/{solution["id"]}/bewerken"' not in page.text
    adopt = utrecht.post(f"/oplossingen/{solution['id']}/overnemen", data={
        "csrf_token": ucsrf, "city": UTRECHT, "status": "piloting", "adopted_on": "2025-01-15",
        "outcome": "Dertig procent minder ritten"}, follow_redirects=False)
    assert adopt.status_code == 303 and "melding=ingediend" in adopt.headers["location"]
    assert client.get(f"/api/v1/adoptions?solution={solution['id']}").json()["total"] == 0
    assert "Dertig procent minder ritten" in web_client.get("/inbox").text
    # a lesson for Eindhoven's project from Utrecht: pending; from Eindhoven itself: at once
    project = labs.create_project(session, ProjectIn(**project_payload(
        lessons=[], owner_organisation_id=accounts.organisation_id)))
    short = utrecht.post(f"/projecten/{project.id}/lessen", data={"csrf_token": ucsrf, "text": "x"})
    assert short.status_code == 422 and 'id="f-text-error"' in short.text
    assert utrecht.post(f"/projecten/{project.id}/lessen", data={"csrf_token": ucsrf, "text": "Begin klein."},
                        follow_redirects=False).status_code == 303
    assert web_client.post(f"/projecten/{project.id}/lessen", data={"csrf_token": csrf, "text": "Meet vooraf."},
                           follow_redirects=False).status_code == 303
    assert client.get(f"/api/v1/projects/{project.id}").json()["lessons"] == ["Meet vooraf."]
    # a coalition
    bad = web_client.post("/coalities/nieuw", data={"csrf_token": csrf, "title": "Co", "lead_city": "",
                                                    "status": "active"})
    assert bad.status_code == 422 and 'id="f-title-error"' in bad.text and 'id="f-lead_city-error"' in bad.text
    ok = web_client.post("/coalities/nieuw", data={"csrf_token": csrf, "title": "Coalitie slimme verlichting",
                                                   "lead_city": "GM0772", "status": "active",
                                                   "themes": ["energy-transition"]}, follow_redirects=False)
    assert ok.status_code == 303
    coalition = client.get("/api/v1/coalitions?q=slimme verlichting").json()["items"][0]
    assert coalition["owner_organisation_id"] == accounts.organisation_id
    assert utrecht.get(f"/coalities/{coalition['id']}/bewerken").status_code == 403
    assert web_client.get(f"/coalities/{coalition['id']}/bewerken?lang=en").status_code == 200
