"""GET /api/v1/search: responses, validation and hostile input on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from stadslab.labs.models import Project

from . import helpers as h

HOSTILE = [
    '"', "'", "*", "NEAR(", "NEAR(fiets stalling", "AND OR NOT", "fiets AND", "OR fiets", "NOT fiets", "^",
    "-", "-fiets", ":", "stems:fiets", "fiets*", '"fiets', "fiets\"\"", "'; --", "); DROP TABLE projects; --",
    "fiets'); DELETE FROM search_documents; --", "a & b | !c", "fiets <-> stalling", "fiets:*", "(((", ")))",
    "{fiets}", "\\", "%", "_", "%_%", "fiets\x00stalling", "\x00", "🚲🚲", "fiets 🚲", "ﬁets", "ǅ", "ß",
    "e\u0301", "\u200b", "\ufeff", "x" * 500, "fiets " * 30, "中文 搜索", "Ελληνικά", "עברית", "qqtfiets",
    "qqp1",
]


@pytest.fixture
def indexed(session):
    p = h.project(session, "Slimme fietsenstalling", "Sensoren tellen fietsers bij het station.",
                  city=h.UTRECHT, theme_codes=("mobility",), lessons=("Betrek fietsers vroeg.",))
    h.lab(session, "Fietslab", "Proeftuin voor fietsers.", city=h.EINDHOVEN, theme_codes=("mobility",))
    return p


def test_search_returns_items_facets_and_links(client, indexed):
    r = client.get("/api/v1/search", params={"q": "fietsers", "limit": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3 and len(body["items"]) == 1
    item = body["items"][0]
    assert set(item) >= {"type", "id", "title", "snippet", "city_code", "status", "themes", "score", "url"}
    assert "<mark>" in item["snippet"]
    assert {f["value"]: f["count"] for f in body["facets"]["type"]} == {"project": 1, "lesson": 1,
                                                                         "living_lab": 1}
    assert {f["value"]: f["label"] for f in body["facets"]["city"]} == {h.UTRECHT: "Utrecht",
                                                                         h.EINDHOVEN: "Eindhoven"}
    assert "offset=1" in body["next"] and body["previous"] is None


def test_repeatable_filters(client, indexed):
    r = client.get("/api/v1/search?q=fietsers&type=project&type=living_lab&city=GM0344")
    assert r.status_code == 200
    assert [(i["type"], i["id"]) for i in r.json()["items"]] == [("project", indexed.id)]
    r = client.get("/api/v1/search?q=fietsers&theme=mobility&status=active")
    assert [i["type"] for i in r.json()["items"]] == ["living_lab"]


@pytest.mark.parametrize("params, field, words", [
    ({}, "q", "enter one or more words"),
    ({"q": ""}, "q", "enter one or more words"),
    ({"q": "  \t "}, "q", "enter one or more words"),
    ({"q": "x" * 501}, "q", "at most 500 characters"),
    ({"q": "fiets", "type": "projects"}, "type", "living_lab"),
    ({"q": "fiets", "theme": "nope"}, "theme", "unknown value"),
    ({"q": "fiets", "city": "GM9999"}, "city", "unknown value"),
    ({"q": "fiets", "limit": "0"}, "limit", "between 1 and"),
    ({"q": "fiets", "offset": "-5"}, "offset", "between 0 and"),
])
def test_bad_requests_are_422_with_a_clear_message(client, indexed, params, field, words):
    r = client.get("/api/v1/search", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert words in body["detail"]
    assert body["errors"][0]["loc"] == ["query", field]


def test_non_integer_limit_is_422(client, indexed):
    r = client.get("/api/v1/search", params={"q": "fiets", "limit": "ten"})
    assert r.status_code == 422 and "limit" in r.json()["detail"]


def test_hostile_queries_never_break_anything(client, session, indexed):
    for q in HOSTILE:
        r = client.get("/api/v1/search", params={"q": q})
        assert r.status_code in (200, 422), (q, r.text)
        if r.status_code == 200:
            body = r.json()
            assert body["total"] >= 0, q
            for item in body["items"]:
                assert "<" not in item["snippet"].replace("<mark>", "").replace("</mark>", ""), q
        else:
            assert r.json()["errors"][0]["loc"] == ["query", "q"], q
    assert session.scalar(select(func.count()).select_from(Project)) == 1
    r = client.get("/api/v1/search", params={"q": "fietsers"})
    assert r.status_code == 200 and r.json()["total"] == 3


def test_hostile_filter_values_are_422_not_500(client, indexed):
    for name in ("type", "theme", "city", "status"):
        for value in ("'; DROP TABLE projects; --", "%", "\x00", "mobility'", "x" * 300):
            r = client.get("/api/v1/search", params={"q": "fiets", name: value})
            assert r.status_code == 422, (name, value, r.text)
            assert r.json()["errors"][0]["loc"] == ["query", name]


def test_operators_are_plain_words(client, indexed):
    """'NOT fietsers' must not exclude fietsers: it means 'fietsers' (not is a stopword)."""
    assert client.get("/api/v1/search", params={"q": "NOT fietsers"}).json()["total"] == 3
    assert client.get("/api/v1/search", params={"q": "fiets*"}).json()["total"] == \
        client.get("/api/v1/search", params={"q": "fiets"}).json()["total"]
    assert client.get("/api/v1/search", params={"q": "-fietsers"}).json()["total"] == 3


def test_five_thousand_characters_is_rejected(client, indexed):
    r = client.get("/api/v1/search", params={"q": "fiets " * 1000})
    assert r.status_code == 422 and "500" in r.json()["detail"]
