"""Searching through the service on both databases: stemming, ranking, facets, filters, paging."""

from __future__ import annotations

import pytest

from stadslab.core.errors import ValidationFailed
from stadslab.search.service import search

from . import helpers as h


def ids(res, type_="project"):
    return [i.id for i in res.items if i.type == type_]


def test_dutch_agent_noun_finds_the_activity_and_back(session):
    fiets = h.project(session, "Fietsparkeren", "Een slimme stalling voor de fiets bij het station.")
    fietsers = h.project(session, "Tellen op de Maliebaan", "Sensoren tellen fietsers en voetgangers.")
    other = h.project(session, "Waterberging", "Opvang van regenwater in de wijk.")
    assert set(ids(search(session, "fietsers"))) == {fiets.id, fietsers.id}
    assert set(ids(search(session, "fiets"))) == {fiets.id, fietsers.id}
    assert other.id not in ids(search(session, "fietsers"))


def test_english_agent_noun_and_plural(session):
    cycling = h.project(session, "Cycling data", "Counting cycling trips with open data.")
    cyclist = h.project(session, "Safer junctions", "Sensors warn cyclists at crossings.")
    h.project(session, "Bus lanes", "Priority for buses.")
    assert set(ids(search(session, "cyclists"))) == {cycling.id, cyclist.id}
    assert set(ids(search(session, "cyclist"))) == {cycling.id, cyclist.id}
    assert ids(search(session, "bus")) == ids(search(session, "buses"))


def test_dutch_plural_and_inflection(session):
    p = h.project(session, "Slimme lantaarnpalen", "De lantaarnpaal meet ook luchtkwaliteit.")
    assert ids(search(session, "lantaarnpaal")) == [p.id]
    assert ids(search(session, "slim lantaarnpalen")) == [p.id]
    assert ids(search(session, "luchtkwaliteit")) == [p.id]


def test_water_is_not_a_water_user(session):
    """The agent-noun rule must not turn 'water' into 'wat' or 'winter' into 'wint'."""
    h.project(session, "Wateroverlast", "Meer water op straat na hevige buien.")
    winter = h.project(session, "Gladheid", "Strooien in de winter met sensoren.")
    assert search(session, "wat").total == 0  # stopword, and 'water' must not match it
    h.project(session, "Wint prijs", "Het team wint de innovatieprijs.")
    assert ids(search(session, "winter")) == [winter.id]


def test_diacritics_and_case_do_not_matter(session):
    p = h.project(session, "Café-ideeën voor het PLEIN", "Bewoners bedenken ideeën op de coördinatiedag.")
    for q in ("cafe", "CAFÉ", "ideeen", "Ideeën", "coordinatiedag", "co\u0308ordinatiedag"):
        assert ids(search(session, q)) == [p.id], q


def test_all_words_must_match(session):
    both = h.project(session, "Slimme verlichting", "LED lampen dimmen als er geen fietsers zijn.")
    h.project(session, "Slimme parkeerplaatsen", "Sensoren in parkeervakken.")
    assert ids(search(session, "slimme fietsers")) == [both.id]
    assert search(session, "slimme").total == 2


def test_quoted_phrase_needs_adjacent_words(session):
    adjacent = h.project(session, "Groene daken", "Een proef met slimme verlichting in de haven.")
    apart = h.project(session, "Verlichting", "Slimme sensoren sturen de verlichting.")
    assert set(ids(search(session, "slimme verlichting"))) == {adjacent.id, apart.id}
    assert ids(search(session, '"slimme verlichting"')) == [adjacent.id]
    assert ids(search(session, '"slimme verlichting" haven')) == [adjacent.id]
    assert search(session, '"slimme verlichting" bos').total == 0


def test_title_match_ranks_first(session):
    body_only = h.project(session, "Wijkaanpak Noord", "In deze wijk testen we ook deelscooters naast bussen.")
    title = h.project(session, "Deelscooters in de binnenstad", "Een proef in het centrum.")
    res = search(session, "deelscooters")
    assert [i.id for i in res.items] == [title.id, body_only.id]
    assert res.items[0].score > res.items[1].score


def test_snippet_highlights_matched_words_and_escapes_html(session):
    h.project(session, "Veiligheid <script>", "Camera's & sensoren tellen fietsers bij <b>het</b> kruispunt.")
    item = search(session, "fiets").items[0]
    assert "<mark>fietsers</mark>" in item.snippet
    assert "<b>" not in item.snippet and "&lt;b&gt;" in item.snippet
    assert "&amp;" in item.snippet
    assert "<script>" not in item.title_html and "&lt;script&gt;" in item.title_html


def test_long_body_snippet_is_cut_around_the_match(session):
    filler = " ".join(["Algemene tekst over de gemeente."] * 40)
    h.project(session, "Lange beschrijving", filler + " Hier staat het woord zonnepanelen. " + filler)
    snippet = search(session, "zonnepanelen").items[0].snippet
    assert "<mark>zonnepanelen</mark>" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < 400


def test_lessons_are_documents_of_their_own(session):
    p = h.project(session, "Laadpleinen", "Laadpalen voor elektrische auto's.",
                  lessons=("Betrek netbeheerders vroeg bij de planning.",))
    res = search(session, "netbeheerders")
    assert [(i.type, i.project_id) for i in res.items] == [("lesson", p.id)]
    assert res.items[0].url == f"/api/v1/projects/{p.id}#lesson-{p.lessons[0].id}"
    assert res.items[0].city_code == p.municipality_code


def test_context_words_are_searchable(session):
    """City names, theme names (both languages) and KPI names find a project."""
    p = h.project(session, "Proef met deelauto's", "Een pilot in de wijk.", city=h.EINDHOVEN,
                  theme_codes=("mobility",), kpis=("CO2-uitstoot",))
    assert ids(search(session, "Eindhoven deelauto")) == [p.id]
    assert ids(search(session, "mobility")) == [p.id]
    assert ids(search(session, "uitstoot")) == [p.id]


def test_facets_count_the_whole_match_set(session):
    for i in range(3):
        h.project(session, f"Zonnepanelen {i}", "Energie van het dak.", city=h.UTRECHT,
                  theme_codes=("energy-transition",), status="pilot")
    h.project(session, "Zonnepanelen op scholen", "Energie.", city=h.AMSTERDAM,
              theme_codes=("energy-transition", "circular-economy-cleantech"), status="scaled")
    h.lab(session, "Zonnepanelen Lab", "Proeftuin voor energie.", city=h.EINDHOVEN,
          theme_codes=("energy-transition",))
    h.project(session, "Andere zaak", "Niets met zon.", city=h.AMSTERDAM)
    res = search(session, "zonnepanelen", limit=2)
    assert res.total == 5 and len(res.items) == 2
    assert res.facets["type"] == {"project": 4, "living_lab": 1}
    assert res.facets["city"] == {h.UTRECHT: 3, h.AMSTERDAM: 1, h.EINDHOVEN: 1}
    assert res.facets["theme"] == {"energy-transition": 5, "circular-economy-cleantech": 1}
    assert res.facets["status"] == {"pilot": 3, "active": 1, "scaled": 1}
    assert res.facet_labels["city"][h.UTRECHT] == "Utrecht"
    assert res.facet_labels["theme"]["energy-transition"] == "Energietransitie"
    assert search(session, "zonnepanelen", lang="en").facet_labels["type"]["living_lab"] == "Living lab"


def test_facets_can_be_skipped_total_stays_exact(session):
    for i in range(3):
        h.project(session, f"Deelfiets {i}", "Tekst.", city=h.UTRECHT if i else h.AMSTERDAM)
    res = search(session, "deelfiets", cities=[h.UTRECHT], with_facets=False)
    assert res.total == 2 and len(res.items) == 2
    assert res.facets == {"type": {}, "theme": {}, "city": {}, "status": {}}


def test_filters_narrow_results_and_facets_ignore_their_own_filter(session):
    utrecht = [h.project(session, f"Groen dak {i}", "Groene daken.", city=h.UTRECHT, status="pilot")
               for i in range(2)]
    ams = h.project(session, "Groen dak Amsterdam", "Groene daken.", city=h.AMSTERDAM, status="scaled",
                    theme_codes=("resilience-climate-adaptation",))
    res = search(session, "groen dak", cities=[h.UTRECHT])
    assert res.total == 2 and set(ids(res)) == {p.id for p in utrecht}
    assert res.facets["city"] == {h.UTRECHT: 2, h.AMSTERDAM: 1}  # own filter not applied
    assert res.facets["status"] == {"pilot": 2}  # other filters applied
    res = search(session, "groen dak", statuses=["scaled"], cities=[h.UTRECHT, h.AMSTERDAM])
    assert ids(res) == [ams.id]
    res = search(session, "groen", themes=["resilience-climate-adaptation"])
    assert ids(res) == [ams.id] and res.facets["theme"] == {"resilience-climate-adaptation": 1}
    assert search(session, "groen", types=["living_lab"]).total == 0


def test_pagination_is_stable_and_complete(session):
    made = {h.project(session, f"Parkeersensor {i}", "Parkeersensoren " * (i % 4 + 1)).id for i in range(7)}
    seen = []
    for offset in range(0, 9, 3):
        page = search(session, "parkeersensor", limit=3, offset=offset)
        assert page.total == 7
        seen += ids(page)
    assert len(seen) == 7 and set(seen) == made
    scores = [i.score for off in (0, 3, 6) for i in search(session, "parkeersensor", limit=3, offset=off).items]
    assert scores == sorted(scores, reverse=True)


def test_pagination_across_title_and_body_tiers(session):
    titled = {h.project(session, f"Laadpaal {i}", "Tekst " * (i + 1)).id for i in range(3)}
    body = {h.project(session, f"Project {i}", f"Over een laadpaal. {'Tekst ' * i}").id for i in range(4)}
    seen, flags = [], []
    for offset in (0, 2, 4, 6):
        page = search(session, "laadpalen", limit=2, offset=offset)
        assert page.total == 7
        seen += ids(page)
        flags += [i.title_match for i in page.items]
    assert len(seen) == 7 and set(seen[:3]) == titled and set(seen[3:]) == body
    assert flags == [True] * 3 + [False] * 4


def test_all_types_are_indexed_with_urls(session):
    p = h.project(session, "Hittestress in de stad", "Meetnet voor hitte.")
    lab_ = h.lab(session, "Hittelab", "Metingen van hitte.")
    s = h.solution(session, "Hittekaart", "Een kaart van hitte.", origin=p)
    c = h.coalition(session, "Coalitie Hitte", "Hoe beperken we hitte?", cities=(h.UTRECHT,))
    res = search(session, "hitte")
    got = {(i.type, i.id): i.url for i in res.items}
    assert got == {("project", p.id): f"/api/v1/projects/{p.id}", ("living_lab", lab_.id): f"/api/v1/living-labs/{lab_.id}",
                   ("solution", s.id): f"/api/v1/solutions/{s.id}", ("coalition", c.id): f"/api/v1/coalitions/{c.id}"}
    sol = next(i for i in res.items if i.type == "solution")
    assert sol.city_code == p.municipality_code and sol.status == "pilot"


def test_stopword_only_query_returns_nothing_with_a_note(session):
    h.project(session, "De stad", "Het is de stad van de toekomst.")
    res = search(session, "de het een the")
    assert res.total == 0 and res.items == [] and res.note


@pytest.mark.parametrize("kwargs, field", [
    ({"query": "   "}, "q"),
    ({"query": "x" * 501}, "q"),
    ({"query": "fiets", "types": ["projects"]}, "type"),
    ({"query": "fiets", "themes": ["weather"]}, "theme"),
    ({"query": "fiets", "cities": ["GM9999"]}, "city"),
    ({"query": "fiets", "statuses": ["finished"]}, "status"),
    ({"query": "fiets", "limit": 0}, "limit"),
    ({"query": "fiets", "limit": 1000}, "limit"),
    ({"query": "fiets", "offset": -1}, "offset"),
    ({"query": "fiets", "lang": "de"}, "lang"),
    ({"query": " ".join(f"woord{i}" for i in range(40))}, "q"),
])
def test_bad_arguments_are_rejected_naming_the_field(session, kwargs, field):
    kwargs = dict(kwargs)
    query = kwargs.pop("query")
    with pytest.raises(ValidationFailed) as exc:
        search(session, query, **kwargs)
    assert exc.value.errors[0]["loc"] == ["query", field]


def test_title_tier_with_a_phrase_still_needs_the_phrase(session):
    """The title tier holds every query word in the title; a phrase must still occur in the document."""
    titled = h.project(session, "Haven Noord", "Proef met slimme verlichting op de kade.")
    h.project(session, "Haven Zuid", "De verlichting is slimme techniek.")  # words apart
    body = h.project(session, "Kade", "Een haven met slimme verlichting.")
    res = search(session, '"slimme verlichting" haven')
    assert [(i.id, i.title_match) for i in res.items] == [(titled.id, True), (body.id, False)]
    assert res.total == 2 and res.items[0].score >= 1 > res.items[1].score


def test_scores_fall_down_the_list_across_tiers(session):
    for i in range(3):
        h.project(session, f"Warmtenet {i}", "Tekst " * (i + 1))
        h.project(session, f"Project {i}", "Over een warmtenet. " * (i + 1))
    res = search(session, "warmtenet")
    scores = [i.score for i in res.items]
    assert scores == sorted(scores, reverse=True) and len(scores) == 6
    assert all(1 <= s < 2 for s in scores[:3]) and all(0 <= s < 1 for s in scores[3:])
