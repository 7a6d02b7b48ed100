"""The calendar (events, deadlines, overview, feeds) and the loket (exemptions, requests, the form)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from stadslab.governance.models import LoketRequest
from tests.web.conftest import HTML, web_login
from tests.web.seed import seed_accounts, seed_calendar, seed_exemption, seed_registry


def test_agenda_lists_upcoming_events_in_their_own_time_zone(client, session):
    seed_calendar(session)
    r = client.get("/agenda", headers=HTML)
    assert r.status_code == 200
    assert "Smart City Expo World Congress" in r.text and "Maandelijkse kennissessie sensordata" in r.text
    expo = r.text[r.text.index("Smart City Expo World Congress"):]
    expo = expo[:expo.index("</li>")]
    assert re.search(r"\b09:00\b", expo) and "lokale tijd, Europe/Madrid" in expo  # Barcelona time, said so
    assert "Fira Gran Via, Barcelona, Spanje" in expo
    assert 'href="/steden/GM0772">Eindhoven</a> (wethouder)' in expo
    webinar = r.text[r.text.index("Maandelijkse kennissessie sensordata") - 400:]
    assert "Terugkerend" in webinar[:600]
    en = client.get("/agenda?lang=en", headers=HTML).text
    assert "Spain" in en and "local time, Europe/Madrid" in en and "Where do we show the Netherlands" in en


def test_agenda_deadlines_overview_and_subscribe_links(client, session):
    seed_calendar(session)
    r = client.get("/agenda", headers=HTML)
    deadlines = r.text[r.text.index('id="deadlines-table"'):]
    assert "Smart mobility hubs" in deadlines and "Horizon Europe" in deadlines
    overview = r.text[r.text.index('id="overview-title"'):]
    assert "Spanje" in overview and "Barcelona" in overview
    represented = overview[overview.index('id="represented-table"'):]
    assert 'href="/steden/GM0772">Eindhoven</a>' in represented and 'href="/steden/GM0344">Utrecht</a>' in represented
    feeds = re.findall(r'href="(/api/v1/calendar\.ics[^"]*)"', r.text)
    assert "/api/v1/calendar.ics" in feeds and "/api/v1/calendar.ics?theme=mobility" in feeds
    assert "/api/v1/calendar.ics?city=GM0772" in feeds
    for feed in ("/api/v1/calendar.ics", "/api/v1/calendar.ics?theme=mobility", "/api/v1/calendar.ics?city=GM0772"):
        ics = client.get(feed)
        assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert "Smart City Expo World Congress" in client.get("/api/v1/calendar.ics?city=GM0772").text


@pytest.mark.parametrize("query,shown,hidden", [
    ("theme=data-ai", "Maandelijkse kennissessie sensordata", "Smart City Expo World Congress"),
    ("kind=conference", "Smart City Expo World Congress", "Maandelijkse kennissessie sensordata"),
    ("city=GM0344", "Smart City Expo World Congress", "Maandelijkse kennissessie sensordata"),
])
def test_agenda_filters_and_a_feed_for_the_selection(client, session, query, shown, hidden):
    seed_calendar(session)
    r = client.get(f"/agenda?{query}", headers=HTML)
    events = r.text[r.text.index('id="events-title"'):r.text.index('id="deadlines-title"')]
    assert shown in events and hidden not in events
    if not query.startswith("kind"):
        assert f'href="/api/v1/calendar.ics?{query}"' in r.text


def test_agenda_unknown_filter_values_are_named(client, session):
    r = client.get("/agenda?theme=onzin&kind=feest", headers=HTML)
    assert r.status_code == 200
    assert re.search(r'id="f-theme-error"[^>]*>.*?Kies een thema uit de lijst', r.text, re.S)
    assert re.search(r'id="f-kind-error"[^>]*>.*?Kies een soort evenement uit de lijst', r.text, re.S)


def test_empty_agenda(client):
    r = client.get("/agenda", headers=HTML)
    assert r.status_code == 200 and "Voor het komend jaar zijn nog geen evenementen gepland." in r.text


# --- loket -----------------------------------------------------------------------------------------

@pytest.fixture
def loket_world(session):
    reg = seed_registry(session)
    accounts = seed_accounts(session)
    seed_exemption(session, accounts.organisation_id, reg.lab_ids[0])
    return reg, accounts


def test_loket_shows_granted_exemptions_to_everybody(client, loket_world):
    reg, _ = loket_world
    r = client.get("/loket", headers=HTML)
    assert r.status_code == 200
    table = r.text[r.text.index('id="exemptions-table"'):]
    assert "Zelfrijdende pendelbus" in table and "RVV 1990, artikel 5" in table and "Gemeente Eindhoven" in table
    assert f'href="/labs/{reg.lab_ids[0]}">Strijp-S Living Lab</a>' in table
    assert "Toegestaan voor een jaar" in table
    assert 'href="/inloggen?volgende=%2Floket"' in r.text and "<form" not in r.text.split('id="new-title"')[1].split("</section>")[0]


def test_editor_submits_a_request_with_an_error_first_and_sees_it_listed(web_client, session, loket_world):
    reg, accounts = loket_world
    csrf = web_login(web_client, accounts.editor_email)
    page = web_client.get("/loket").text
    assert "Zelfrijdende pendelbus" in page[page.index('id="requests-table"'):]  # own organisation's request
    r = web_client.post("/loket/aanvragen", data={"csrf_token": csrf, "type": "experiment", "topic": "privacy",
                                                  "title": "x", "description": "Camera's tellen drukte",
                                                  "living_lab_id": str(reg.lab_ids[0])})
    assert r.status_code == 422
    assert re.search(r'id="f-title-error"[^>]*>.*?Gebruik minstens 3 tekens', r.text, re.S)
    assert "Camera&#39;s tellen drukte</textarea>" in r.text
    assert re.search(rf'<option value="{reg.lab_ids[0]}" selected>', r.text)
    r = web_client.post("/loket/aanvragen", data={"csrf_token": csrf, "type": "experiment", "topic": "privacy",
                                                  "title": "Drukte meten met camera's",
                                                  "description": "Camera's tellen drukte",
                                                  "living_lab_id": str(reg.lab_ids[0])}, follow_redirects=False)
    assert r.status_code == 303 and re.fullmatch(r"/loket/verzoeken/\d+\?melding=ingediend", r.headers["location"])
    detail = web_client.get(r.headers["location"]).text
    assert "Uw verzoek is ingediend." in detail and "Ministerie van Justitie en Veiligheid" in detail
    page = web_client.get("/loket").text
    mine = page[page.index('id="requests-table"'):]
    assert "Drukte meten met camera&#39;s" in mine and "Ministerie van Justitie en Veiligheid" in mine
    assert "Ingediend" in mine
    stored = session.scalar(select(LoketRequest).where(LoketRequest.title == "Drukte meten met camera's"))
    assert stored.organisation_id == accounts.organisation_id and stored.routed_to == "jenv"


def test_other_cities_do_not_see_the_request_and_members_cannot_submit(web_client, session, loket_world):
    _, accounts = loket_world
    csrf = web_login(web_client, accounts.other_editor_email)
    page = web_client.get("/loket").text
    mine = page[page.index('id="mijn-aanvragen"'):]
    assert "Zelfrijdende pendelbus" not in mine and "Uw organisatie heeft nog geen verzoeken ingediend." in mine
    web_client.cookies.clear()
    csrf = web_login(web_client, accounts.member_email)
    page = web_client.get("/loket").text
    assert 'action="/loket/aanvragen"' not in page and "Vraag een beheerder van Stadslab om redacteursrechten" in page
    r = web_client.post("/loket/aanvragen", data={"csrf_token": csrf, "type": "knowledge", "title": "Mag ik?"})
    assert r.status_code == 403
    web_client.cookies.clear()
    r = web_client.post("/loket/aanvragen", data={"type": "knowledge", "title": "Anoniem"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/inloggen")
    assert session.scalar(select(LoketRequest).where(LoketRequest.title.in_(["Mag ik?", "Anoniem"]))) is None


def test_loket_in_english(web_client, loket_world):
    _, accounts = loket_world
    web_login(web_client, accounts.editor_email)
    r = web_client.get("/loket?lang=en")
    assert "Granted room to experiment" in r.text and "Room to experiment (exemption)" in r.text
    assert "Submit request" in r.text


def test_lab_page_shows_its_granted_room_to_experiment(client, loket_world):
    reg, _ = loket_world
    r = client.get(f"/labs/{reg.lab_ids[0]}", headers=HTML)
    section = r.text[r.text.index('id="exemptions-title"'):]
    assert "Zelfrijdende pendelbus" in section and "RVV 1990, artikel 5" in section
    other = client.get(f"/labs/{reg.lab_ids[1]}", headers=HTML).text
    assert 'id="exemptions-title"' not in other
