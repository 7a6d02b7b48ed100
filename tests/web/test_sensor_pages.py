"""The sensor register and sensor pages: visibility per visitor, filters, map data, charts and tables."""

from __future__ import annotations

import json
import re

import pytest

from stadslab.sensorthings.access.precision import snap_point
from tests.web.conftest import HTML, web_login
from tests.web.seed import seed_accounts, seed_registry, seed_sensors


def _names(html: str) -> list[str]:
    table = html[html.index('id="sensor-table"'):] if 'id="sensor-table"' in html else ""
    return sorted(re.findall(r'<a class="utrecht-link utrecht-link--html-a" href="/sensoren/\d+">([^<]+)</a>', table))


def _map(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="sensor-map-data">(.*?)</script>', html, re.S)
    return json.loads(block.group(1))


@pytest.fixture
def sensors(session):
    reg = seed_registry(session)
    accounts = seed_accounts(session)
    return seed_sensors(session, lab_id=reg.lab_ids[0], owner_organisation_id=accounts.organisation_id), accounts


def test_register_shows_only_what_the_visitor_may_see(client, web_client, sensors):
    s, accounts = sensors
    r = client.get("/sensoren", headers=HTML)
    assert r.status_code == 200
    assert _names(r.text) == ["Drukteteller Stationsplein", "Luchtmeetkast Kruisstraat"]
    assert "Geluidsmeter kazerne" not in r.text  # restricted: not even in the map data or the filter options
    web_login(web_client, accounts.admin_email)
    assert "Geluidsmeter kazerne" in _names(web_client.get("/sensoren").text)
    web_client.cookies.clear()
    web_login(web_client, accounts.member_email)  # a member of the owner organisation
    assert "Geluidsmeter kazerne" in _names(web_client.get("/sensoren").text)
    web_client.cookies.clear()
    web_login(web_client, accounts.other_editor_email)  # another city
    assert "Geluidsmeter kazerne" not in web_client.get("/sensoren").text


def test_register_table_and_map_carry_purpose_owner_ground_retention_and_privacy(client, sensors):
    r = client.get("/sensoren", headers=HTML)
    table = r.text[r.text.index('id="sensor-table"'):]
    row = table[table.index("Drukteteller Stationsplein"):]
    row = row[:row.index("</tr>")]
    for text in ("Drukte meten op het plein", "Gemeente Eindhoven", "Ja", "Publieke taak", "24 uur",
                 'href="https://example.org/privacy/drukte"'):
        assert text in row
    data = _map(r.text)
    assert data["labels"]["legal_ground"] == "Grondslag"
    camera = next(f for f in data["features"] if f["properties"]["name"] == "Drukteteller Stationsplein")
    # it processes personal data: an anonymous visitor gets the 100 m grid cell (docs/sensorthings.md)
    assert camera["geometry"]["coordinates"] == snap_point(5.4794, 51.4433, 100)
    wanted = {"purpose": "Drukte meten op het plein", "owner": "Gemeente Eindhoven", "legal_ground": "Publieke taak",
              "retention": "24 uur", "personal": True, "privacy_url": "https://example.org/privacy/drukte"}
    assert {k: camera["properties"][k] for k in wanted} == wanted
    assert camera["properties"]["url"].startswith("/sensoren/")
    en = client.get("/sensoren?lang=en", headers=HTML).text
    assert "Public task" in en and "Sensor register" in en


@pytest.mark.parametrize("query,expected", [
    ("legal_ground=publieke+taak", ["Drukteteller Stationsplein"]),
    ("personal_data=nee", ["Luchtmeetkast Kruisstraat"]),
    ("personal_data=ja", ["Drukteteller Stationsplein"]),
    ("sensor_type=luchtkwaliteit", ["Luchtmeetkast Kruisstraat"]),
    ("purpose=DRUKTE", ["Drukteteller Stationsplein"]),
    ("city=GM0772", ["Drukteteller Stationsplein", "Luchtmeetkast Kruisstraat"]),
    ("city=GM0363", []),
])
def test_register_filters(client, sensors, query, expected):
    r = client.get(f"/sensoren?{query}", headers=HTML)
    assert r.status_code == 200
    assert _names(r.text) == expected
    if not expected:
        assert "Geen sensor past bij deze filters." in r.text


def test_filter_options_come_from_the_visible_register(client, sensors):
    r = client.get("/sensoren", headers=HTML)
    types = re.search(r'<select[^>]*id="f-sensor_type".*?</select>', r.text, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', types) == ["", "camera", "luchtkwaliteit"]  # no "geluid"
    cities = re.search(r'<select[^>]*id="f-city".*?</select>', r.text, re.S).group(0)
    assert '<option value="GM0772">Eindhoven</option>' in cities


def test_bad_filters_are_named_next_to_the_field(client, sensors):
    r = client.get("/sensoren?legal_ground=omdat+het+kan", headers=HTML)
    assert r.status_code == 200
    assert re.search(r'id="f-legal_ground-error"[^>]*>.*?Kies een grondslag uit de lijst', r.text, re.S)
    r = client.get("/sensoren?city=Atlantis", headers=HTML)
    assert re.search(r'id="f-city-error"[^>]*>.*?Kies een stad uit de lijst', r.text, re.S)
    assert 'aria-invalid="true"' in re.search(r'<select[^>]*id="f-city"[^>]*>', r.text).group(0)


def test_sensor_page_shows_the_register_facts_and_a_chart_with_a_table(client, sensors):
    s, _ = sensors
    r = client.get(f"/sensoren/{s.air}", headers=HTML)
    assert r.status_code == 200
    assert "Luchtkwaliteit in de wijk" in r.text and "5 jaar" in r.text and "Strijp-S Living Lab" in r.text
    canvas = re.search(r'<canvas id="chart-(\d+)" data-aggregate="([^"]+)"', r.text)
    assert int(canvas.group(1)) == s.datastream
    url = canvas.group(2).replace("&amp;", "&")
    assert url.startswith(f"/sta/v1.1/Datastreams({s.datastream})/Observations/$aggregate?interval=1d")
    # The chart's data comes from the aggregate extension; the table repeats the same buckets.
    body = client.get(url).json()
    assert len(body["value"]) == 6
    rows = re.findall(r'<tr class="utrecht-table__row">\s*<th[^>]*scope="row">([^<]+)</th>\s*'
                      r'<td[^>]*>([^<]+)</td>', r.text[r.text.index(f'id="table-{s.datastream}"'):])
    assert len(rows) == 6
    assert rows[0] == ("1 mei 2024", f"{body['value'][0]['mean']:.2f}".replace(".", ","))
    assert 'src="/static/js/sensor-chart.js' in r.text


def test_hidden_and_missing_sensors_are_404(client, web_client, sensors):
    s, accounts = sensors
    for path in (f"/sensoren/{s.hidden}", "/sensoren/999999", "/sensoren/abc"):
        r = client.get(path, headers=HTML)
        assert r.status_code == 404 and "Pagina niet gevonden" in r.text
    web_login(web_client, accounts.admin_email)
    assert web_client.get(f"/sensoren/{s.hidden}").status_code == 200


def test_sensor_page_of_a_camera_says_it_processes_personal_data(client, sensors):
    s, _ = sensors
    r = client.get(f"/sensoren/{s.camera}?lang=en", headers=HTML)
    assert "Processes personal data" in r.text and "Public task" in r.text and "24 uur" in r.text
    assert "There are no measurement series of this sensor that you may see." in r.text


def test_empty_register_explains_itself(client):
    r = client.get("/sensoren", headers=HTML)
    assert r.status_code == 200 and "Er zijn nog geen sensoren geregistreerd." in r.text
    assert 'id="sensor-map"' not in r.text
