"""The national pages through TestClient on both databases: dashboard, solutions index, coalition,
specialisation, the city page's opportunities and funding, bad filters, search links, federation admin."""

from __future__ import annotations

import re

import pytest

from stadslab.federation.models import FederationPeer, PeerStatus
from tests.factories import UTRECHT
from tests.national.seed import APELDOORN, HEERLEN, seed_nation
from tests.web.conftest import web_login
from tests.web.seed import seed_accounts


def _hrefs(html: str, prefix: str) -> list[str]:
    return re.findall(rf'href="({re.escape(prefix)}[^"?#]*)"', html)


def test_dashboard_table_filters_and_empty_cities(web_client, session):
    seed_nation(session)
    nl = web_client.get("/netwerk")
    assert nl.status_code == 200 and "Het netwerk in één oogopslag" in nl.text
    table = nl.text[nl.text.index('id="network-table"'):nl.text.index("</table>", nl.text.index('id="network-table"'))]
    assert 'href="/steden/GM0599"' in table and "Verbeterd 1" in table  # Rotterdam's improved evaluation
    empty = nl.text[nl.text.index('id="empty-cities"'):]
    assert f'href="/steden/{HEERLEN}"' in empty and "Energietransitie" in empty
    assert 'id="network-map"' in nl.text  # the map over the same table
    filtered = web_client.get("/netwerk?theme=mobility&network=G4")
    assert 'value="mobility" checked' in filtered.text and 'value="G4" checked' in filtered.text
    table = filtered.text[filtered.text.index('id="network-table"'):]
    assert 'href="/steden/GM0599"' not in table[:table.index("</table>")]
    en = web_client.get("/netwerk?lang=en")
    assert "The network at a glance" in en.text and "Improved 1" in en.text


@pytest.mark.parametrize("lang,words", [("nl", ("Onbekende waarde voor “Thema”", "Kies een van")),
                                        ("en", ("Unknown value for “Theme”", "Choose one of"))])
def test_unknown_filter_value_is_a_400_page_in_the_readers_language(web_client, lang, words):
    r = web_client.get(f"/netwerk?theme=teleportation&lang={lang}")
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert all(w in r.text for w in words) and "teleportation" in r.text
    assert "<code>mobility (" in r.text  # the allowed values, with their names
    bad_sort = web_client.get(f"/oplossingen?sort=popularity&lang={lang}")
    assert bad_sort.status_code == 400 and "adopting_cities" in bad_sort.text


def test_solutions_index_in_the_order_of_the_api_and_sortable(web_client, session):
    nation = seed_nation(session)
    for sort in ("", "-time_to_half_adoption", "name"):
        page = web_client.get(f"/oplossingen?sort={sort}")
        api = web_client.get(f"/api/v1/network/solutions?sort={sort}", headers={"Accept": "application/json"}).json()
        table = page.text[page.text.index('id="solutions-table"'):]
        assert _hrefs(table, "/oplossingen/") == [s["url"] for s in api["solutions"]]
    page = web_client.get("/oplossingen?sort=-time_to_half_adoption")
    assert 'aria-sort="descending"' in page.text
    assert 'href="/oplossingen?sort=time_to_half_adoption"' in page.text  # the same heading flips the order
    row = page.text[page.text.index(f'href="/oplossingen/{nation.kiosk}"'):]
    row = row[:row.index("</tr>")]
    assert "Bewezen" in row  # maturity in Dutch
    assert "365 dagen" in row and "Verbeterd 1" in row
    proven = web_client.get("/oplossingen?maturity=proven&lang=en")
    assert _hrefs(proven.text[proven.text.index('id="solutions-table"'):], "/oplossingen/") == [f"/oplossingen/{nation.kiosk}"]


def test_coalition_page_members_themes_projects_contact(web_client, session):
    nation = seed_nation(session)
    r = web_client.get(f"/coalities/{nation.coalition}")
    assert r.status_code == 200 and "Coalitie Walstroom" in r.text
    assert 'href="/steden/GM0599"' in r.text and 'href="/steden/GM0505"' in r.text  # Rotterdam, Dordrecht
    assert f'href="/projecten/{nation.port_project}"' in r.text
    assert 'href="/specialisaties/logistics-ports"' in r.text  # a theme Rotterdam leads
    assert "Via de trekkende stad, Rotterdam" in r.text
    assert web_client.get("/coalities/99999").status_code == 404
    assert web_client.get("/coalities/abc").status_code == 404


def test_search_never_leads_to_raw_json(web_client, session):
    nation = seed_nation(session)
    r = web_client.get("/zoeken?q=walstroom")
    assert f'href="/coalities/{nation.coalition}"' in r.text
    results = r.text[r.text.index('id="results-title"'):]
    assert 'href="/api/' not in results[:results.index("</section>")]


def test_specialisation_pages(web_client, session):
    seed_nation(session)
    index = web_client.get("/specialisaties")
    assert 'href="/specialisaties/healthy-urban-living"' in index.text
    r = web_client.get("/specialisaties/healthy-urban-living")
    assert r.status_code == 200 and "Utrecht" in r.text and "Amersfoort" in r.text and "partnerstad" in r.text
    cyber = web_client.get("/specialisaties/safety-cyber-security?lang=en")
    assert "Den Haag" in cyber.text and "Urban cyber security" in cyber.text
    assert web_client.get("/specialisaties/teleportation").status_code == 404
    city = web_client.get(f"/steden/{UTRECHT}")
    assert 'href="/specialisaties/healthy-urban-living"' in city.text


def test_city_page_shows_plausible_opportunities_and_funding_in_the_readers_language(web_client, session):
    nation = seed_nation(session)
    nl = web_client.get(f"/steden/{UTRECHT}")
    funding = nl.text[nl.text.index('id="funding-matches"'):]
    assert "Smart mobility hubs" in funding and f'href="/projecten/{nation.utrecht_project}"' in funding
    assert "gedeelde thema&#39;s: Mobiliteit" in funding and "deadline over" in funding
    assert "mobility" not in re.sub(r"<[^>]+>", "", funding.split("</ul>")[0]).replace("Smart mobility hubs", "")
    en = web_client.get(f"/steden/{UTRECHT}?lang=en")
    assert "shared themes: Mobility" in en.text and "deadline in" in en.text
    opportunities = nl.text[nl.text.index('id="kansen"'):nl.text.index('id="financiering"')]
    assert f'href="/oplossingen/{nation.kiosk}"' in opportunities  # Utrecht has an inland port (Lage Weide)
    apeldoorn = web_client.get(f"/steden/{APELDOORN}?lang=nl")  # the cookie remembered English
    section = apeldoorn.text[apeldoorn.text.index('id="kansen"'):apeldoorn.text.index('id="financiering"')]
    listed = section[:section.index('id="not-plausible"')]
    assert f'href="/oplossingen/{nation.kiosk}"' not in listed
    assert "vraagt een binnenhaven" in section[section.index('id="not-plausible"'):]
    join = apeldoorn.text[apeldoorn.text.index('id="aansluiten"'):apeldoorn.text.index('id="kansen"')]
    assert f'href="/coalities/{nation.coalition}"' in join and "Energietransitie" in join


@pytest.mark.parametrize("lang,title", [("nl", "Pagina niet gevonden"), ("en", "Page not found")])
def test_unknown_city_is_a_404_page_in_the_readers_language(web_client, lang, title):
    r = web_client.get(f"/steden/GM9999?lang={lang}")
    assert r.status_code == 404 and title in r.text and r.headers["content-type"].startswith("text/html")


def test_federation_screen_for_admins_only(web_client, session):
    accounts = seed_accounts(session)
    peer = FederationPeer(name="regio-noord", base_url="http://noord.example")
    session.add(peer)
    session.flush()
    session.add(PeerStatus(peer_id=peer.id, consecutive_failures=3, last_error="connection refused", skipped=[],
                           items=12))
    session.commit()
    r = web_client.get("/beheer/federatie", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/inloggen")
    web_login(web_client, accounts.editor_email)
    assert web_client.get("/beheer/federatie").status_code == 403
    web_client.cookies.clear()
    web_login(web_client, accounts.admin_email)
    page = web_client.get("/beheer/federatie")
    assert page.status_code == 200 and "regio-noord" in page.text and "connection refused" in page.text
    assert "Mislukt" in page.text and page.headers["cache-control"] == "no-store"
    assert 'href="/beheer/federatie"' in web_client.get("/beheer").text
