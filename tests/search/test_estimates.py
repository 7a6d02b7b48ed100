"""Counting very large match sets: exact up to the backend's limit, a labelled sample estimate above it.

The limit is lowered for these tests (a class attribute of the backend, not a
mock: every query still runs on the real database), so that a few dozen
documents stand for a match set too large to count.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from stadslab.search.backends import backend_for
from stadslab.search.backends.base import SAMPLE_EVERY
from stadslab.search.models import SearchDocument
from stadslab.search.service import search

from . import helpers as h

CITIES = (h.UTRECHT, h.AMSTERDAM, h.ROTTERDAM)
STATUSES = ("pilot", "idea", "scaled")


@pytest.fixture
def many(session):
    """64 projects (document ids 1–64) that all match 'zonnepark'; 4 of them are in the sample."""
    for i in range(64):
        h.project(session, f"Zonnepark {i}", "Energie van zonnepanelen op daken.", city=CITIES[i % 3],
                  status=STATUSES[i % 3], theme_codes=("energy-transition",) if i % 2 else ("mobility",))
    return 64


@pytest.fixture
def small_limit(session, monkeypatch):
    monkeypatch.setattr(type(backend_for(session)), "exact_limit", 2 * SAMPLE_EVERY)


def _sampled(session, **where):
    """The sample as the database holds it, counted here independently of the search code."""
    rows = session.execute(select(SearchDocument.city_code, SearchDocument.status, SearchDocument.themes)
                           .where(SearchDocument.id % SAMPLE_EVERY == 0)).all()
    return [r for r in rows if all(getattr(r, k) == v for k, v in where.items())]


def test_below_the_limit_everything_is_exact(session, many):
    res = search(session, "zonnepark", limit=5)
    assert res.total == 64 and not res.total_is_estimate and not res.facets_estimated
    assert res.facets["city"] == {h.UTRECHT: 22, h.AMSTERDAM: 21, h.ROTTERDAM: 21}
    assert res.facets["theme"] == {"energy-transition": 32, "mobility": 32}


def test_above_the_limit_total_and_facets_are_sample_estimates(session, many, small_limit):
    res = search(session, "zonnepark", limit=5)
    sample = _sampled(session)
    assert len(sample) == 4
    assert res.total_is_estimate and res.facets_estimated
    assert res.total == len(sample) * SAMPLE_EVERY
    cities: dict[str, int] = {}
    for r in sample:
        cities[r.city_code] = cities.get(r.city_code, 0) + SAMPLE_EVERY
    assert res.facets["city"] == cities
    themes: dict[str, int] = {}
    for r in sample:
        for code in r.themes.split():
            themes[code] = themes.get(code, 0) + SAMPLE_EVERY
    assert res.facets["theme"] == themes
    assert sum(res.facets["type"].values()) == res.total
    # The page itself is exact: five real, ranked hits.
    assert len(res.items) == 5 and all(i.title_match for i in res.items)


def test_estimated_filters_use_the_sample_too(session, many, small_limit):
    res = search(session, "zonnepark", cities=[h.UTRECHT], limit=50)
    sampled = _sampled(session, city_code=h.UTRECHT)
    # Fewer hits than the page holds: the page proves the exact total.
    assert len(res.items) == 22 and res.total == 22 and not res.total_is_estimate
    assert res.facets_estimated
    assert res.facets["status"] == {s: n * SAMPLE_EVERY for s, n in
                                    _count_by(sampled, "status").items()}
    # Each facet ignores its own filter: every sampled city is still listed.
    assert set(res.facets["city"]) == {r.city_code for r in _sampled(session)}


def _count_by(rows, attr):
    out: dict[str, int] = {}
    for r in rows:
        out[getattr(r, attr)] = out.get(getattr(r, attr), 0) + 1
    return out


def test_estimated_total_is_never_below_what_the_page_shows(session, small_limit):
    # Only ids 16, 32 and 48 are in the sample, and they do not match the city filter;
    # the estimate (0) must not contradict the full page of real hits.
    for i in range(48):
        h.project(session, f"Windpark {i}", "Molens.", city=h.UTRECHT if (i + 1) % 16 == 0 else h.EINDHOVEN)
    res = search(session, "windpark", cities=[h.EINDHOVEN], limit=10)
    assert len(res.items) == 10 and res.total_is_estimate
    assert res.total == 11  # at least one more than the full page shows


def test_phrase_candidates_decide_on_postgresql(session, db, monkeypatch):
    """On PostgreSQL a phrase is rechecked in every document holding its words: those count."""
    for i in range(40):
        body = "slimme verlichting" if i < 3 else "verlichting die slimme sensoren gebruikt"
        h.project(session, f"Straat {i}", body)
    # Ids 16 and 32 are sampled: their words count as candidates on PostgreSQL, not as matches.
    monkeypatch.setattr(type(backend_for(session)), "exact_limit", SAMPLE_EVERY)
    res = search(session, '"slimme verlichting"')
    assert res.total == 3 and len(res.items) == 3 and not res.total_is_estimate
    assert res.facets_estimated == (db.dialect == "postgresql")


def test_api_says_when_counts_are_estimates(client, session, many, small_limit):
    body = client.get("/api/v1/search", params={"q": "zonnepark", "limit": 5}).json()
    assert body["total_is_estimate"] is True and body["facets_estimated"] is True
    assert body["total"] == 4 * SAMPLE_EVERY
    exact = client.get("/api/v1/search", params={"q": "zonnepark 7"}).json()
    assert exact["total_is_estimate"] is False and exact["facets_estimated"] is False


def test_web_page_marks_estimates(client, session, many, small_limit):
    html = client.get("/zoeken", params={"q": "zonnepark"}, headers={"Accept": "text/html"}).text
    count = re.search(r'stadslab-results__count">([^<]+)<', html).group(1)
    assert count.startswith("≈ 64 ")
    assert re.search(r'<span class="stadslab-count">\(≈ \d+\)</span>', html)


def test_web_page_exact_counts_have_no_mark(client, session, many):
    html = client.get("/zoeken", params={"q": "zonnepark"}, headers={"Accept": "text/html"}).text
    assert "≈" not in html
    assert re.search(r'stadslab-results__count">64 ', html)


def test_cli_marks_estimates(db, session, many, small_limit):
    from rich.console import Console

    from stadslab.search.cli import search_command

    console = Console(record=True, width=200)
    assert search_command("zonnepark", facets=True, database_url=db.url, console=console) == 0
    out = console.export_text()
    assert "≈ 64 result(s)" in out and "estimated from a sample" in out


def test_sample_structures_follow_every_write(session, db):
    """The estimate sample (and on PostgreSQL the narrow table) stays in step with the index."""
    made = [h.project(session, f"Dijk {i}", "Water.", city=h.UTRECHT, lessons=("Les.",)) for i in range(20)]
    for p in made[:8]:
        p.municipality_code = h.AMSTERDAM
        session.flush()
        from stadslab.search import indexer

        indexer.index_object(session, p)
    indexer.remove(session, "project", made[9].id)
    session.commit()
    docs = set(session.execute(text("SELECT id, doc_type, city_code, status, themes_mask FROM search_documents")))
    if db.dialect == "postgresql":
        narrow = set(session.execute(text("SELECT id, doc_type, city_code, status, themes_mask FROM search_narrow")))
        assert narrow == docs
        sampled = {i for (i,) in session.execute(text("SELECT id FROM search_narrow WHERE sample_tsv IS NOT NULL"))}
        stale = session.scalar(text("SELECT count(*) FROM search_narrow AS n JOIN search_documents AS d "
                                    "ON d.id = n.id WHERE n.sample_tsv IS NOT NULL AND n.sample_tsv <> d.tsv"))
        assert stale == 0
    else:
        session.execute(text("INSERT INTO search_fts_sample(search_fts_sample, rank) VALUES ('integrity-check', 1)"))
        sampled = {i for (i,) in session.execute(text(
            "SELECT rowid FROM search_fts_sample WHERE search_fts_sample MATCH 'utrecht OR amsterdam'"))}
    assert sampled == {i for i, *_ in docs if i % SAMPLE_EVERY == 0}
    assert len(sampled) >= 2
