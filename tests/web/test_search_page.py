"""The search page: results with highlights, facets as a plain form, friendly messages."""

from __future__ import annotations

import re

from tests.web.seed import seed_registry

HTML = {"Accept": "text/html"}


def _results(html: str) -> list[str]:
    return re.findall(r'<h3 class="utrecht-heading-3 stadslab-result__title"><a [^>]*href="([^"]+)"', html)


def test_results_link_to_web_pages_with_highlights(client, session):
    reg = seed_registry(session)
    r = client.get("/zoeken?q=straatverlichting", headers=HTML)
    assert r.status_code == 200
    links = _results(r.text)
    assert f"/projecten/{reg.project_ids[1]}" in links
    assert f"/labs/{reg.lab_ids[0]}" in links
    assert f"/oplossingen/{reg.solution_id}" in links
    assert not any(link.startswith("/api/") for link in links)
    assert "<mark>straatverlichting</mark>" in r.text
    count = re.search(r'stadslab-results__count">([^<]+)<', r.text).group(1)
    assert count == f"{len(links)} resultaten voor “straatverlichting”"


def test_lessons_link_to_their_project(client, session):
    reg = seed_registry(session)
    r = client.get("/zoeken?q=fietsers&type=lesson", headers=HTML)
    links = _results(r.text)
    assert links and all(link.startswith(f"/projecten/{reg.project_ids[0]}#les-")
                         or link.startswith(f"/projecten/{reg.project_ids[1]}#les-") for link in links)
    anchor = links[0].split("#")[1]
    project = client.get(links[0].split("#")[0], headers=HTML).text
    assert f'id="{anchor}"' in project


def test_facets_are_checkboxes_with_counts_and_filter(client, session):
    seed_registry(session)
    r = client.get("/zoeken?q=straatverlichting", headers=HTML)
    assert re.search(r'name="type" value="solution"', r.text)
    assert re.search(r'Eindhoven <span class="stadslab-count">\(\d+\)</span>', r.text)
    filtered = client.get("/zoeken?q=straatverlichting&type=solution", headers=HTML)
    links = _results(filtered.text)
    assert links and all(link.startswith("/oplossingen/") for link in links)
    assert re.search(r'name="type" value="solution" checked', filtered.text)


def test_theme_and_city_facets_use_names_in_the_language(client, session):
    seed_registry(session)
    nl = client.get("/zoeken?q=straatverlichting&lang=nl", headers=HTML).text
    en = client.get("/zoeken?q=straatverlichting&lang=en", headers=HTML).text
    assert "Energietransitie" in nl and "Energy transition" in en
    assert "Opgeschaald" in nl and "Scaled up" in en


def test_unknown_filter_value_is_explained_not_a_crash(client, session):
    seed_registry(session)
    r = client.get("/zoeken?q=straatverlichting&theme=geen-thema", headers=HTML)
    assert r.status_code == 200
    assert 'role="alert"' in r.text and "geen-thema" in r.text
    # The chosen value stays visible (checked) so the user can untick it.
    assert re.search(r'name="theme" value="geen-thema" checked', r.text)


def test_nothing_found_message(client, session):
    seed_registry(session)
    r = client.get("/zoeken?q=kwantumcomputer", headers=HTML)
    assert "0 resultaten voor “kwantumcomputer”" in r.text
    assert "Niets gevonden" in r.text


def test_search_results_are_paged(client, session):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import ProjectIn
    from tests.factories import project_payload

    for i in range(23):
        labs.create_project(session, ProjectIn(**project_payload(title=f"Warmtenet wijk {i:02d}")))
    first = client.get("/zoeken?q=warmtenet", headers=HTML).text
    assert len(_results(first)) == 20
    assert "Pagina 1 van 2" in first
    nxt = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "page=2" in nxt and "q=warmtenet" in nxt
    second = client.get(nxt, headers=HTML).text
    assert len(_results(second)) == 3
    assert set(_results(first)).isdisjoint(_results(second))
