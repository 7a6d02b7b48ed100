"""Keeping the index in step with the registry, on both databases."""

from __future__ import annotations

from sqlalchemy import func, select, text

from stadslab.labs.models import Lesson, Project
from stadslab.search import indexer
from stadslab.search.models import SearchDocument
from stadslab.search.service import search

from . import helpers as h


def docs(session) -> set[tuple[str, int]]:
    return set(session.execute(select(SearchDocument.doc_type, SearchDocument.doc_id)).all())


def test_project_update_reindexes_and_drops_removed_lessons(session):
    p = h.project(session, "Slimme verlichting", "LED lampen.", lessons=("Meet eerst.", "Betrek bewoners."))
    first, second = (lesson.id for lesson in p.lessons)
    assert docs(session) == {("project", p.id), ("lesson", first), ("lesson", second)}

    p.title = "Adaptieve straatverlichting"
    p.lessons = [lesson for lesson in p.lessons if lesson.id == second] + [Lesson(position=2, text="Dimmen werkt.")]
    session.flush()
    indexer.index_object(session, p)
    session.commit()
    third = p.lessons[-1].id
    assert docs(session) == {("project", p.id), ("lesson", second), ("lesson", third)}
    assert [i.type for i in search(session, "straatverlichting").items] == ["project"]
    assert search(session, "lampen").items[0].title == "Adaptieve straatverlichting"
    assert search(session, "meet").total == 0


def test_lessons_of_other_projects_are_untouched(session):
    a = h.project(session, "Project A", "Tekst.", lessons=("Les van A.",))
    b = h.project(session, "Project B", "Tekst.", lessons=("Les van B.",))
    a.lessons = []
    session.flush()
    indexer.index_project(session, a)
    session.commit()
    assert docs(session) == {("project", a.id), ("project", b.id), ("lesson", b.lessons[0].id)}


def test_remove_project_removes_its_lessons(session):
    p = h.project(session, "Weg ermee", "Tekst.", lessons=("Les een.", "Les twee."))
    keep = h.project(session, "Blijft", "Tekst.", lessons=("Les drie.",))
    indexer.remove(session, "project", p.id)
    session.commit()
    assert docs(session) == {("project", keep.id), ("lesson", keep.lessons[0].id)}
    assert search(session, "les").total == 1


def test_indexing_does_not_commit(session):
    p = h.project(session, "Niet bewaard", "Tekst.", index=False)
    indexer.index_object(session, p)
    session.rollback()
    assert search(session, "bewaard").total == 0


def test_adoption_makes_the_solution_findable_by_city(session):
    s = h.solution(session, "Slimme afvalbak", "Meldt wanneer hij vol is.")
    assert search(session, "Groningen afvalbak").total == 0
    h.adoption(session, s, "GM0014")
    res = search(session, "Groningen afvalbak")
    assert [(i.type, i.id) for i in res.items] == [("solution", s.id)]


def test_coalition_found_by_member_city_and_organisation(session):
    c = h.coalition(session, "Samen tegen hittestress", "Wat werkt?", cities=(h.AMSTERDAM,),
                    organisations=("Hogeschool Zuid",))
    assert [i.id for i in search(session, "hogeschool amsterdam").items] == [c.id]


def test_rebuild_matches_incremental_index(session):
    p = h.project(session, "Rebuild fietsers", "Tellen van fietsers.", lessons=("Les over fietsers.",),
                  theme_codes=("mobility",))
    h.lab(session, "Rebuild lab", "Fietsers testen.", theme_codes=("mobility",))
    s = h.solution(session, "Rebuild oplossing", "Voor fietsers.", origin=p)
    h.adoption(session, s, h.AMSTERDAM)
    h.coalition(session, "Rebuild coalitie", "Fietsers?", cities=(h.UTRECHT,), organisations=("Fietsbond",))
    cols = (SearchDocument.doc_type, SearchDocument.doc_id, SearchDocument.title, SearchDocument.body,
            SearchDocument.stems, SearchDocument.city_code, SearchDocument.status, SearchDocument.themes)
    before = set(session.execute(select(*cols)).all())
    progress = []
    counts = indexer.rebuild_index(session, progress=progress.append)
    session.commit()
    after = set(session.execute(select(*cols)).all())
    assert after == before
    assert counts == {"project": 1, "lesson": 1, "living_lab": 1, "solution": 1, "coalition": 1}
    assert sum(progress) == 5
    assert search(session, "fietsers").total == 5


def test_rebuild_replaces_stale_documents(session):
    p = h.project(session, "Oud", "Tekst.")
    session.execute(text("UPDATE projects SET title = 'Nieuw' WHERE id = :i"), {"i": p.id})
    session.add(SearchDocument(doc_type="project", doc_id=9999, title="Spook", body="", stems="spook",
                               themes=""))
    session.commit()
    indexer.rebuild_index(session)
    session.commit()
    assert search(session, "spook").total == 0
    assert [i.title for i in search(session, "nieuw").items] == ["Nieuw"]
    assert session.scalar(select(func.count()).select_from(Project)) == 1


def test_fulltext_index_stays_consistent_after_updates_and_deletes(session, db):
    for i in range(5):
        h.project(session, f"Consistent {i}", "Tekst over zonnepanelen.", lessons=("Les.",))
    for p in session.scalars(select(Project)).all()[:3]:
        p.summary = "Tekst over windmolens."
        session.flush()
        indexer.index_object(session, p)
    session.commit()
    assert search(session, "zonnepanelen").total == 2 and search(session, "windmolens").total == 3
    if db.dialect == "sqlite":
        session.execute(text("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)"))


def test_failed_rebuild_leaves_the_old_index_working(session, db, monkeypatch):
    h.project(session, "Eerste project", "Over zonnepanelen.", lessons=("Les over daken.",))
    h.project(session, "Tweede project", "Over windmolens.")
    calls = []

    def broken(**kwargs):
        calls.append(kwargs["id"])
        if len(calls) > 1:
            raise RuntimeError("boom")
        return original(**kwargs)

    original = indexer.docs.project_row
    trigger_sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'search_documents'"
    triggers_before = set(session.scalars(text(trigger_sql))) if db.dialect == "sqlite" else set()
    monkeypatch.setattr(indexer.docs, "project_row", broken)
    try:
        indexer.rebuild_index(session)
    except RuntimeError:
        session.rollback()
    else:  # pragma: no cover - the patch must make it fail
        raise AssertionError("rebuild should have failed")
    monkeypatch.setattr(indexer.docs, "project_row", original)
    assert search(session, "zonnepanelen").total == 1 and search(session, "windmolens").total == 1
    if db.dialect == "sqlite":
        # Every trigger (FTS5 index and estimate sample) is back, as the migrations made them.
        assert set(session.scalars(text(trigger_sql))) == triggers_before
        assert len(triggers_before) == 6
        session.execute(text("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)"))
        session.execute(text("INSERT INTO search_fts_sample(search_fts_sample, rank) VALUES ('integrity-check', 1)"))
    # Incremental indexing still reaches the full-text index after the failed rebuild.
    h.project(session, "Derde project", "Over waterstof.")
    assert search(session, "waterstof").total == 1


def test_rebuild_keeps_fulltext_consistent(session, db):
    for i in range(3):
        h.project(session, f"Project {i}", "Tekst over bomen.", lessons=("Les.",))
    indexer.rebuild_index(session)
    session.commit()
    indexer.rebuild_index(session)
    session.commit()
    assert search(session, "bomen").total == 3
    if db.dialect == "sqlite":
        session.execute(text("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)"))
        h.project(session, "Nieuw", "Tekst over struiken.")
        assert search(session, "struiken").total == 1
