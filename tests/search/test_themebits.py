"""Themes as bits: stable numbering, masks that agree with the theme codes, filters and facets."""

from __future__ import annotations

from sqlalchemy import select

from stadslab.network.models import Theme
from stadslab.search import indexer
from stadslab.search.models import SearchDocument, SearchThemeBit
from stadslab.search.service import search
from stadslab.search.themebits import MAX_BITS, TooManyThemes, codes_of, mask_of, theme_bits

from . import helpers as h


def _bits(session) -> dict[str, int]:
    return dict(session.execute(select(SearchThemeBit.code, SearchThemeBit.bit)).all())


def test_every_stored_mask_matches_the_theme_codes(session):
    h.project(session, "Fietsstraat", "Tekst.", theme_codes=("mobility", "data-ai"), lessons=("Les.",))
    h.lab(session, "Energielab", "Tekst.", theme_codes=("energy-transition",))
    h.project(session, "Zonder thema", "Tekst.")
    for rebuild in (False, True):
        if rebuild:
            indexer.rebuild_index(session)
            session.commit()
        bits = _bits(session)
        by_bit = {b: c for c, b in bits.items()}
        rows = session.execute(select(SearchDocument.themes, SearchDocument.themes_mask)).all()
        assert len(rows) == 4
        for themes, mask in rows:
            assert mask == mask_of(themes, bits)
            assert sorted(codes_of(mask, by_bit)) == sorted(themes.split())


def test_rebuild_numbers_themes_in_reference_order_and_never_renumbers(session):
    h.project(session, "Iets", "Tekst.", theme_codes=("data-ai",), index=False)
    assert _bits(session) == {}
    indexer.rebuild_index(session)
    session.commit()
    bits = _bits(session)
    order = list(session.scalars(select(Theme.code).order_by(Theme.position, Theme.code)))
    assert [c for c, _ in sorted(bits.items(), key=lambda kv: kv[1])] == order
    session.add(Theme(code="aaa-new", name_nl="Nieuw", name_en="New", position=-1))
    session.flush()
    h.project(session, "Nieuw thema", "Tekst.", theme_codes=("aaa-new",))
    after = _bits(session)
    assert {c: b for c, b in after.items() if c in bits} == bits  # nothing moved
    assert after["aaa-new"] == max(bits.values()) + 1
    res = search(session, "thema", themes=["aaa-new"])
    assert res.total == 1 and res.facets["theme"] == {"aaa-new": 1}
    assert res.facet_labels["theme"]["aaa-new"] == "Nieuw"


def test_filter_on_a_theme_no_document_has_finds_nothing(session):
    h.project(session, "Haven", "Tekst.", theme_codes=("logistics-ports",))
    session.query(SearchThemeBit).filter(SearchThemeBit.code == "data-ai").delete()
    session.commit()
    res = search(session, "haven", themes=["data-ai"])
    assert res.total == 0 and res.items == []
    assert search(session, "haven", themes=["logistics-ports", "data-ai"]).total == 1


def test_more_theme_codes_than_bits_is_refused_clearly(session):
    codes = [f"t{i:02d}" for i in range(MAX_BITS + 1)]
    try:
        theme_bits(session, codes)
    except TooManyThemes as exc:
        assert str(MAX_BITS) in str(exc)
    else:  # pragma: no cover
        raise AssertionError("64 theme codes cannot fit in 63 bits")
    session.rollback()
