"""Server-rendered pages through the ASGI app, on every database dialect."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.web.seed import seed_registry

HTML = {"Accept": "text/html,application/xhtml+xml"}


class _Scripts(HTMLParser):
    """Collects <script> elements so tests can check that no inline code is served."""

    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))


def test_home_shows_key_figures_from_the_registry(client, session):
    seed_registry(session)
    r = client.get("/", headers=HTML)
    assert r.status_code == 200
    assert '<html lang="nl"' in r.text
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", r.text))
    assert figures == {"Projecten": "2", "Proeftuinen": "2", "Oplossingen": "1", "Overnames": "1", "Steden": "3"}
    # The no-JavaScript fallback of the map lists every active city with its counts.
    table = r.text[r.text.index('id="map-table"'):]
    for name in ("Amsterdam", "Eindhoven", "Utrecht"):
        assert name in table
    assert 'href="/steden/GM0772"' in table
    assert "Voorbeeldinhoud" not in r.text


def test_home_says_so_when_demo_content_is_loaded(client, session):
    seed_registry(session, demo=True)
    r = client.get("/", headers=HTML)
    assert "Voorbeeldinhoud" in r.text
    assert "Demo content" in client.get("/?lang=en", headers=HTML).text


def test_home_without_data_explains_that_nothing_is_registered(client):
    r = client.get("/", headers=HTML)
    assert r.status_code == 200
    assert "Er zijn nog geen proeftuinen of projecten geregistreerd." in r.text
    assert 'id="national-map"' not in r.text


def test_map_data_block_is_geojson_with_outlines_and_points(client, session):
    import json

    reg = seed_registry(session)
    r = client.get("/", headers=HTML)
    block = re.search(r'<script type="application/json" id="national-map-data">(.*?)</script>', r.text, re.S)
    data = json.loads(block.group(1))
    kinds = [f["properties"]["kind"] for f in data["features"]]
    assert kinds.count("city") == 3  # outlines of Amsterdam, Eindhoven, Utrecht
    assert kinds.count("lab") == 2
    labs = {f["properties"]["id"]: f["geometry"]["coordinates"] for f in data["features"]
            if f["properties"]["kind"] == "lab"}
    assert labs[reg.lab_ids[0]] == [5.4573, 51.4484]
    lon, lat = labs[reg.lab_ids[1]]  # a polygon lab is drawn at a point inside it
    assert 4.913 < lon < 4.919 and 52.372 < lat < 52.375


def test_language_switch_by_query_and_cookie(client):
    r = client.get("/?lang=en", headers=HTML)
    assert '<html lang="en"' in r.text
    assert "Key figures" in r.text
    assert r.headers["content-language"] == "en"
    assert "stadslab_lang=en" in r.headers["set-cookie"]
    # The cookie keeps English on the next page, and the switch offers Dutch.
    r = client.get("/zoeken", headers=HTML)
    assert '<html lang="en"' in r.text
    assert 'hreflang="nl"' in r.text and "Nederlands" in r.text
    r = client.get("/zoeken?lang=nl", headers=HTML)
    assert '<html lang="nl"' in r.text and "Zoekterm" in r.text


def test_unknown_language_falls_back_to_dutch(client):
    r = client.get("/?lang=fr", headers=HTML)
    assert '<html lang="nl"' in r.text
    assert "set-cookie" not in r.headers


def test_language_switch_keeps_the_query(client):
    r = client.get("/zoeken?q=&type=project", headers=HTML)
    assert 'href="/zoeken?q=&amp;type=project&amp;lang=en"' in r.text


@pytest.mark.parametrize("lang,message", [("nl", "Vul een of meer woorden in om op te zoeken."),
                                          ("en", "Enter one or more words to search for.")])
def test_empty_search_shows_error_next_to_the_field(client, lang, message):
    r = client.get(f"/zoeken?q=+++&lang={lang}", headers=HTML)
    assert r.status_code == 200
    assert message in r.text
    field = re.search(r'<input[^>]*id="q"[^>]*>', r.text).group(0)
    assert 'aria-invalid="true"' in field
    assert "q-error" in field  # the message is tied to the field for screen readers
    assert 'value="   "' in field  # what was typed is kept
    assert r.text.index(message) < r.text.index('id="q"')


def test_search_page_without_query_shows_no_error(client):
    r = client.get("/zoeken", headers=HTML)
    assert r.status_code == 200
    assert "aria-invalid" not in r.text
    assert "Typ een of meer woorden" in r.text


def test_overlong_search_is_refused_with_a_message(client):
    r = client.get("/zoeken?q=" + "a" * 201, headers=HTML)
    assert "Gebruik maximaal 200 tekens." in r.text


def test_accessibility_statement(client):
    r = client.get("/toegankelijkheid", headers=HTML)
    assert r.status_code == 200
    assert "Toegankelijkheidsverklaring" in r.text
    assert "WCAG" in r.text and "400%" in r.text
    assert "Accessibility statement" in client.get("/toegankelijkheid?lang=en", headers=HTML).text


def test_unknown_page_is_a_friendly_404_for_browsers(client):
    r = client.get("/bestaat-niet", headers=HTML)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Pagina niet gevonden" in r.text
    assert 'href="/"' in r.text


def test_api_paths_keep_problem_json_even_for_browsers(client):
    r = client.get("/api/v1/bestaat-niet", headers=HTML)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    r = client.get("/sta/v1.1/bestaat-niet", headers=HTML)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_programs_get_problem_json_on_web_paths(client):
    r = client.get("/bestaat-niet", headers={"Accept": "application/json"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_unexpected_error_is_a_friendly_500_with_reference(app, caplog):
    from fastapi.testclient import TestClient

    def boom():
        raise RuntimeError("secret internal detail")

    app.add_api_route("/kapot", boom, include_in_schema=False)
    app.add_api_route("/api/v1/kapot", boom, include_in_schema=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/kapot", headers=HTML)
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("text/html")
        assert "Er ging iets mis" in r.text
        assert "secret internal detail" not in r.text and "Traceback" not in r.text
        reference = re.search(r'<code class="stadslab-reference">([0-9a-f]{12})</code>', r.text).group(1)
        assert any(reference in rec.getMessage() for rec in caplog.records)
        api = c.get("/api/v1/kapot", headers=HTML)
        assert api.status_code == 500
        assert api.headers["content-type"].startswith("application/problem+json")
        assert "secret internal detail" not in api.text


def test_html_pages_carry_a_strict_content_security_policy(client, session):
    seed_registry(session)
    for path in ("/", "/zoeken", "/toegankelijkheid", "/labs", "/bestaat-niet"):
        r = client.get(path, headers=HTML)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "https://service.pdok.nl" in csp  # the configured tile origin may serve images
        assert r.headers["x-content-type-options"] == "nosniff"
        parser = _Scripts()
        parser.feed(r.text)
        for script in parser.scripts:
            # Executable scripts come from files; inline blocks are data only.
            assert script.get("src", "").startswith("/static/") or script.get("type") == "application/json", script


def test_static_files_are_served_from_the_package(client):
    r = client.get("/static/css/stadslab-theme.css")
    assert r.status_code == 200
    assert ".stadslab-theme" in r.text and "--utrecht-button-primary-action-background-color" in r.text
    assert client.get("/static/js/map.js").status_code == 200


def test_city_profile_in_both_languages_formats_numbers(client, session):
    seed_registry(session)
    r = client.get("/steden/GM0772", headers=HTML)
    assert r.status_code == 200
    assert "<h1 class=\"utrecht-heading-1\">Eindhoven</h1>" in r.text
    assert "Strijp-S Living Lab" in r.text and "Adaptieve straatverlichting Strijp" in r.text
    population = re.search(r"Inwoners</dt><dd[^>]*>([^<]+)</dd>", r.text).group(1)
    assert re.fullmatch(r"\d{3}\.\d{3}", population)  # Dutch thousands separator
    r = client.get("/steden/GM0772?lang=en", headers=HTML)
    population_en = re.search(r"Inhabitants</dt><dd[^>]*>([^<]+)</dd>", r.text).group(1)
    assert population_en == population.replace(".", ",")


def test_lab_project_and_solution_profiles(client, session):
    reg = seed_registry(session)
    r = client.get(f"/labs/{reg.lab_ids[0]}", headers=HTML)
    assert r.status_code == 200 and "Strijp-S Living Lab" in r.text
    assert f'href="/projecten/{reg.project_ids[1]}"' in r.text
    r = client.get(f"/projecten/{reg.project_ids[1]}", headers=HTML)
    assert r.status_code == 200
    assert "€ 1.234.567" in r.text
    assert "Bezetting stalling" in r.text and "Betrek fietsers vroeg" in r.text
    assert f'href="/oplossingen/{reg.solution_id}"' in r.text
    r = client.get(f"/projecten/{reg.project_ids[1]}?lang=en", headers=HTML)
    assert "€ 1,234,567" in r.text
    r = client.get(f"/oplossingen/{reg.solution_id}?lang=nl", headers=HTML)  # the cookie said English
    assert r.status_code == 200
    assert "Overgenomen door 1 stad" in r.text and "15 mrt 2024" in r.text and "Utrecht" in r.text
    r = client.get("/labs", headers=HTML)
    assert "Marineterrein Amsterdam" in r.text and "2 proeftuinen" in r.text


@pytest.mark.parametrize("path", ["/labs/999999", "/labs/abc", "/projecten/999999", "/oplossingen/0",
                                  "/steden/GM9999", "/projecten/1e3"])
def test_missing_registry_items_are_friendly_404s(client, path):
    r = client.get(path, headers=HTML)
    assert r.status_code == 404
    assert "Pagina niet gevonden" in r.text


def test_registry_text_is_escaped(client, session):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import LivingLabIn
    from tests.factories import lab_payload

    lab = labs.create_living_lab(session, LivingLabIn(**lab_payload(name="<script>alert(1)</script> Lab")))
    r = client.get(f"/labs/{lab.id}", headers=HTML)
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Lab" in r.text
    home = client.get("/", headers=HTML).text
    assert "<script>alert" not in home


NEW_PUBLIC_PAGES = ["/inloggen", "/sensoren", "/agenda", "/loket"]


def test_main_menu_has_the_new_sections_in_both_languages(client):
    nl = client.get("/", headers=HTML).text
    for href, label in (("/sensoren", "Sensoren"), ("/agenda", "Agenda"), ("/loket", "Loket")):
        assert f'href="{href}">{label}</a>' in nl
    assert 'href="/inloggen">Inloggen</a>' in nl and 'href="/beheer"' not in nl
    en = client.get("/?lang=en", headers=HTML).text
    for href, label in (("/sensoren", "Sensors"), ("/agenda", "Calendar"), ("/loket", "Loket")):
        assert f'href="{href}">{label}</a>' in en
    page = client.get("/agenda", headers=HTML).text
    assert 'href="/agenda" aria-current="page">' in page
    assert 'href="/inloggen?volgende=%2Fagenda">' in page  # the login link brings people back


@pytest.mark.parametrize("path", NEW_PUBLIC_PAGES)
def test_new_pages_render_in_both_languages_with_the_strict_policy(client, path):
    for lang, marker in (("nl", '<html lang="nl"'), ("en", '<html lang="en"')):
        r = client.get(f"{path}?lang={lang}", headers=HTML)
        assert r.status_code == 200 and marker in r.text
        assert "unsafe-inline" not in r.headers["content-security-policy"]
        parser = _Scripts()
        parser.feed(r.text)
        for script in parser.scripts:
            assert script.get("src", "").startswith("/static/") or script.get("type") == "application/json", script


def test_static_scripts_of_the_new_pages_are_served(client):
    for path in ("/static/js/sensor-chart.js", "/static/js/map.js"):
        r = client.get(path)
        assert r.status_code == 200 and "use strict" in r.text


def test_unknown_pages_under_new_sections_are_friendly_404s(client):
    for path in ("/sensoren/0", "/projecten/abc/bewerken", "/beheer/bestaat-niet"):
        r = client.get(path, headers=HTML, follow_redirects=False)
        assert r.status_code in (404, 303), path  # /beheer/... asks to log in first, then 404s
