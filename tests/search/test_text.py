"""The analyser: what counts as the same word, and what a query means (no database)."""

from __future__ import annotations

import pytest

from stadslab.search.snippets import highlight, snippet
from stadslab.search.text import RESERVED_PREFIX, TITLE_PREFIX, analyse, fold, parse_query, stems_for


def forms(word: str) -> set[str]:
    (w,) = analyse(word)
    return set(w.forms)


def meet(a: str, b: str) -> bool:
    return bool(forms(a) & forms(b))


@pytest.mark.parametrize("a, b", [
    ("fietsers", "fiets"), ("fietsers", "fietsen"), ("fietser", "fiets"), ("bewoners", "bewonen"),
    ("gebruikers", "gebruik"), ("cyclists", "cycling"), ("cyclist", "cycle"), ("toeristen", "toer"),
    ("developers", "develop"), ("researchers", "research"),
    ("lantaarnpalen", "lantaarnpaal"), ("sensoren", "sensor"), ("slimme", "slim"), ("groene", "groen"),
    ("grote", "groot"), ("duurzame", "duurzaam"), ("cities", "city"), ("lanes", "lane"), ("laadpalen", "laadpaal"),
    ("mobiliteit", "mobility"), ("café", "cafe"), ("Ideeën", "ideeen"), ("STRAẞE", "strasse"),
])
def test_same_word(a, b):
    assert meet(a, b), (forms(a), forms(b))


@pytest.mark.parametrize("a, b", [
    ("water", "wat"), ("water", "waten"), ("winter", "wint"), ("ouders", "oud"), ("poster", "post"),
    ("router", "route"), ("consist", "cons"), ("fiets", "feest"), ("later", "laat"), ("minder", "mind"),
])
def test_different_words_stay_apart(a, b):
    assert not (analyse(a) and analyse(b) and meet(a, b)), (analyse(a), analyse(b))


def test_fold_strips_diacritics_and_case():
    assert fold("Café Ëindhovens Coöperatie") == "cafe eindhovens cooperatie"
    assert fold("e\u0301") == "e"


def test_stopwords_single_letters_and_reserved_tokens_are_dropped():
    assert analyse("de het een the and of a") == []
    assert [set(w.forms) for w in analyse("e-bike 5G")] == [forms("bike"), {"5g"}]
    assert analyse(RESERVED_PREFIX + "tfiets") == []
    assert analyse("x" * 41) == []


def test_stems_layout_keeps_primary_order_and_boosts_title():
    stems = stems_for(title="Slimme fietsers", body="tellen fietsers").split()
    assert stems[:4] == ["slimme", "fietser", "tel", "fietser"]
    assert TITLE_PREFIX + "fiets" in stems and TITLE_PREFIX + "tel" not in stems
    assert stems.count("fiets") == 1


def test_query_operators_and_punctuation_are_words_or_nothing():
    q = parse_query('fiets AND OR NOT * NEAR( - ^ : ); DROP TABLE projects; -- \x00 🚲 \'"')
    assert [t.text for t in q.terms] == ["fiets", "near", "drop", "table", "projects"]
    assert q.phrases == []
    for term in q.terms:
        assert all(f.isalnum() for f in term.forms)


def test_balanced_quotes_make_a_phrase_unbalanced_ones_do_not():
    q = parse_query('"slimme verlichting" in "de haven')
    assert [p.stems for p in q.phrases] == [("slimme", "verlicht")]
    assert [t.text for t in q.terms] == ["haven"]
    q = parse_query('„slimme verlichting“')
    assert len(q.phrases) == 1
    q = parse_query('"fiets"')
    assert q.phrases == [] and [t.text for t in q.terms] == ["fiets"]


def test_duplicate_words_are_searched_once():
    assert len(parse_query("fiets fiets Fiets").terms) == 1


def test_highlight_escapes_everything_but_mark():
    out = highlight('<img src=x onerror="alert(1)"> fietsers & co', frozenset(forms("fiets")))
    assert out == '&lt;img src=x onerror=&quot;alert(1)&quot;&gt; <mark>fietsers</mark> &amp; co'


def test_snippet_prefers_the_densest_cluster_of_hits():
    body = "fiets. " + "Lorem ipsum dolor sit amet. " * 30 + "De fiets en de fietsers op het fietspad."
    out = snippet(body, frozenset(forms("fiets")), width=120)
    assert out.count("<mark>") == 2 and out.startswith("… ")


def test_snippet_without_hit_shows_the_start():
    assert snippet("Korte tekst.", frozenset({"zzz"})) == "Korte tekst."
    assert snippet("", frozenset({"zzz"})) == ""
