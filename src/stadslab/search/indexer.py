"""Keeps ``search_documents`` in step with the registry.

Registry services call ``index_object`` (or a typed ``index_*``) after each
write and ``remove`` before a delete, inside their own unit of work: nothing
here commits, so the record and its search document are saved or rolled back
together. ``rebuild_index`` re-creates the whole index with set-based reads
and bulk writes (used by imports and ``search.cli.rebuild_command``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from stadslab.labs.models import (Adoption, Kpi, Lesson, LivingLab, Project, ProjectPartner, Solution,
                                  lab_themes, project_themes, solution_themes)
from stadslab.network.models import (Coalition, Municipality, Organisation, Theme, coalition_cities,
                                     coalition_organisations, coalition_themes)
from stadslab.search import documents as docs
from stadslab.search.backends import backend_for
from stadslab.search.models import DOC_TYPES, SearchDocument
from stadslab.search.themebits import MAX_BITS, TooManyThemes, all_theme_bits, mask_of, theme_bits

BATCH = 5000
Progress = Callable[[int], None]


def _theme_names(themes) -> list[str]:
    return [n for t in themes for n in (t.name_nl, t.name_en)]


def _city_name(session: Session, code: str | None) -> str | None:
    m = session.get(Municipality, code) if code else None
    return m.name if m else None


# --- single records --------------------------------------------------------------------

def _upsert(session: Session, rows: list[dict]) -> None:
    """Upsert documents with their theme masks (new theme codes get a bit first)."""
    if not rows:
        return
    bits = theme_bits(session, sorted({code for row in rows for code in row["themes"].split()}))
    for row in rows:
        row["themes_mask"] = mask_of(row["themes"], bits)
    backend_for(session).upsert(session, rows)


def project_rows(session: Session, project: Project) -> list[dict]:
    """The project's document followed by one document per lesson."""
    city = _city_name(session, project.municipality_code)
    lab = session.get(LivingLab, project.living_lab_id) if project.living_lab_id else None
    partners = [session.get(Organisation, pp.organisation_id) for pp in project.partners]
    row = docs.project_row(
        id=project.id, title=project.title, summary=project.summary, city_code=project.municipality_code,
        status=project.status, updated_at=project.updated_at, city_name=city, lab_name=lab.name if lab else None,
        theme_codes=[t.code for t in project.themes], theme_names=_theme_names(project.themes),
        kpi_names=[k.name for k in project.kpis], partner_names=[o.name for o in partners if o])
    lessons = [docs.lesson_row(id=lesson.id, text=lesson.text, project_id=project.id,
                               project_title=project.title, city_code=project.municipality_code,
                               status=project.status, themes=row["themes"], updated_at=row["updated_at"],
                               city_name=city)
               for lesson in project.lessons if (lesson.text or "").strip()]
    return [row, *lessons]


def index_project(session: Session, project: Project) -> None:
    """Index a project and its lessons; lessons removed from the project leave the index."""
    session.flush()
    rows = project_rows(session, project)
    _upsert(session, rows[:1])
    backend_for(session).delete_marked(session, "lesson", docs.parent_marker(project.id))
    _upsert(session, rows[1:])


def index_living_lab(session: Session, lab: LivingLab) -> None:
    session.flush()
    _upsert(session, [docs.living_lab_row(
        id=lab.id, name=lab.name, description=lab.description, city_code=lab.municipality_code,
        status=lab.status, updated_at=lab.updated_at, city_name=_city_name(session, lab.municipality_code),
        theme_codes=[t.code for t in lab.themes], theme_names=_theme_names(lab.themes),
        infrastructure=lab.infrastructure, exemptions=lab.regulatory_exemptions)])


def index_solution(session: Session, solution: Solution) -> None:
    session.flush()
    origin = session.get(Project, solution.origin_project_id) if solution.origin_project_id else None
    provider = (session.get(Organisation, solution.provider_organisation_id)
                if solution.provider_organisation_id else None)
    adopters = session.scalars(select(Municipality.name).join(Adoption, Adoption.municipality_code == Municipality.code)
                               .where(Adoption.solution_id == solution.id)).all()
    _upsert(session, [docs.solution_row(
        id=solution.id, name=solution.name, description=solution.description, maturity=solution.maturity,
        updated_at=solution.updated_at, origin_city_code=origin.municipality_code if origin else None,
        origin_title=origin.title if origin else None, provider_name=provider.name if provider else None,
        theme_codes=[t.code for t in solution.themes], theme_names=_theme_names(solution.themes),
        adopter_city_names=adopters)])


def index_coalition(session: Session, coalition: Coalition) -> None:
    session.flush()
    _upsert(session, [docs.coalition_row(
        id=coalition.id, title=coalition.title, question=coalition.question, description=coalition.description,
        lead_city_code=coalition.lead_municipality_code, status=coalition.status,
        updated_at=coalition.updated_at,
        city_names=sorted({m.name for m in coalition.cities}
                          | {_city_name(session, coalition.lead_municipality_code) or ""}),
        organisation_names=[o.name for o in coalition.organisations],
        theme_codes=[t.code for t in coalition.themes], theme_names=_theme_names(coalition.themes))])


def index_object(session: Session, obj) -> None:
    """Index whatever registry object was just written.

    A lesson re-indexes its project; an adoption re-indexes its solution (adopting
    cities are searchable on the solution). Organisations are not documents.
    """
    if isinstance(obj, Project):
        index_project(session, obj)
    elif isinstance(obj, LivingLab):
        index_living_lab(session, obj)
    elif isinstance(obj, Solution):
        index_solution(session, obj)
    elif isinstance(obj, Coalition):
        index_coalition(session, obj)
    elif isinstance(obj, Lesson):
        session.flush()
        index_project(session, session.get(Project, obj.project_id))
    elif isinstance(obj, Adoption):
        session.flush()
        index_solution(session, session.get(Solution, obj.solution_id))
    elif isinstance(obj, Organisation):
        return
    else:
        raise TypeError(f"cannot index {type(obj).__name__}")


def remove(session: Session, doc_type: str, doc_id: int) -> None:
    """Remove a document; removing a project also removes its lessons."""
    if doc_type not in DOC_TYPES:
        raise ValueError(f"unknown search document type {doc_type!r}; expected one of {', '.join(DOC_TYPES)}")
    session.flush()
    session.execute(delete(SearchDocument).where(SearchDocument.doc_type == doc_type,
                                                 SearchDocument.doc_id == doc_id))
    if doc_type == "project":
        backend_for(session).delete_marked(session, "lesson", docs.parent_marker(doc_id))


# --- bulk --------------------------------------------------------------------------------

def _grouped(session: Session, stmt) -> dict[int, list]:
    out: dict[int, list] = defaultdict(list)
    for key, value in session.execute(stmt):
        out[key].append(value)
    return out


def _id_ranges(session: Session, column) -> Iterator[tuple[int, int]]:
    """Consecutive (first, last) id ranges of up to BATCH rows; range filters beat long IN lists."""
    last = None
    while True:
        stmt = select(column).order_by(column).limit(BATCH)
        if last is not None:
            stmt = stmt.where(column > last)
        ids = list(session.scalars(stmt))
        if not ids:
            return
        yield ids[0], ids[-1]
        last = ids[-1]


class _Lookups:
    def __init__(self, session: Session):
        self.cities = dict(session.execute(select(Municipality.code, Municipality.name)).all())
        self.themes = {code: (nl, en) for code, nl, en in
                       session.execute(select(Theme.code, Theme.name_nl, Theme.name_en))}

    def theme_names(self, codes) -> list[str]:
        return [n for c in codes for n in self.themes.get(c, ())]


def _project_batches(session: Session, lk: _Lookups) -> Iterator[Iterable[dict]]:
    P, L, O = Project.__table__, LivingLab.__table__, Organisation.__table__
    for ids in _id_ranges(session, P.c.id):
        themes = _grouped(session, select(project_themes.c.project_id, project_themes.c.theme_code)
                          .where(project_themes.c.project_id.between(*ids)))
        kpis = _grouped(session, select(Kpi.project_id, Kpi.name).where(Kpi.project_id.between(*ids))
                        .order_by(Kpi.project_id, Kpi.position))
        partners = _grouped(session, select(ProjectPartner.project_id, O.c.name)
                            .join(O, O.c.id == ProjectPartner.organisation_id)
                            .where(ProjectPartner.project_id.between(*ids)))
        lessons = _lessons_of(session, ids)
        stmt = (select(P.c.id, P.c.title, P.c.summary, P.c.municipality_code, P.c.status, P.c.updated_at, L.c.name)
                .select_from(P.outerjoin(L, L.c.id == P.c.living_lab_id)).where(P.c.id.between(*ids)))
        yield _project_docs(session.execute(stmt).all(), lk, themes, kpis, partners, lessons)


def _project_docs(projects, lk: _Lookups, themes, kpis, partners, lessons) -> Iterator[dict]:
    """Built lazily, so that the database ingests one document while Python builds the next."""
    for pid, title, summary, city, status, updated, lab in projects:
        row = docs.project_row(
            id=pid, title=title, summary=summary, city_code=city, status=status, updated_at=updated,
            city_name=lk.cities.get(city), lab_name=lab, theme_codes=themes.get(pid, ()),
            theme_names=lk.theme_names(themes.get(pid, ())), kpi_names=kpis.get(pid, ()),
            partner_names=partners.get(pid, ()))
        yield row
        for lesson_id, text in lessons.get(pid, ()):
            if (text or "").strip():
                yield docs.lesson_row(
                    id=lesson_id, text=text, project_id=pid, project_title=title, city_code=city,
                    status=status, themes=row["themes"], updated_at=row["updated_at"],
                    city_name=lk.cities.get(city))


def _lessons_of(session: Session, ids: tuple[int, int]) -> dict[int, list]:
    out: dict[int, list] = defaultdict(list)
    stmt = (select(Lesson.project_id, Lesson.id, Lesson.text).where(Lesson.project_id.between(*ids))
            .order_by(Lesson.project_id, Lesson.position))
    for pid, lid, text in session.execute(stmt):
        out[pid].append((lid, text))
    return out


def _lab_batches(session: Session, lk: _Lookups) -> Iterator[Iterable[dict]]:
    L = LivingLab.__table__
    for ids in _id_ranges(session, L.c.id):
        themes = _grouped(session, select(lab_themes.c.living_lab_id, lab_themes.c.theme_code)
                          .where(lab_themes.c.living_lab_id.between(*ids)))
        stmt = select(L.c.id, L.c.name, L.c.description, L.c.municipality_code, L.c.status, L.c.updated_at,
                      L.c.infrastructure, L.c.regulatory_exemptions).where(L.c.id.between(*ids))
        yield [docs.living_lab_row(id=i, name=n, description=d, city_code=c, status=s, updated_at=u,
                                   city_name=lk.cities.get(c), theme_codes=themes.get(i, ()),
                                   theme_names=lk.theme_names(themes.get(i, ())), infrastructure=inf,
                                   exemptions=ex)
               for i, n, d, c, s, u, inf, ex in session.execute(stmt)]


def _solution_batches(session: Session, lk: _Lookups) -> Iterator[Iterable[dict]]:
    S, P, O, A = Solution.__table__, Project.__table__, Organisation.__table__, Adoption.__table__
    for ids in _id_ranges(session, S.c.id):
        themes = _grouped(session, select(solution_themes.c.solution_id, solution_themes.c.theme_code)
                          .where(solution_themes.c.solution_id.between(*ids)))
        adopters = _grouped(session, select(A.c.solution_id, A.c.municipality_code).where(A.c.solution_id.between(*ids)))
        stmt = (select(S.c.id, S.c.name, S.c.description, S.c.maturity, S.c.updated_at, P.c.municipality_code,
                       P.c.title, O.c.name)
                .select_from(S.outerjoin(P, P.c.id == S.c.origin_project_id)
                             .outerjoin(O, O.c.id == S.c.provider_organisation_id))
                .where(S.c.id.between(*ids)))
        yield [docs.solution_row(id=i, name=n, description=d, maturity=m, updated_at=u, origin_city_code=c,
                                 origin_title=t, provider_name=o, theme_codes=themes.get(i, ()),
                                 theme_names=lk.theme_names(themes.get(i, ())),
                                 adopter_city_names=[lk.cities.get(x, "") for x in adopters.get(i, ())])
               for i, n, d, m, u, c, t, o in session.execute(stmt)]


def _coalition_batches(session: Session, lk: _Lookups) -> Iterator[Iterable[dict]]:
    C, O = Coalition.__table__, Organisation.__table__
    for ids in _id_ranges(session, C.c.id):
        themes = _grouped(session, select(coalition_themes.c.coalition_id, coalition_themes.c.theme_code)
                          .where(coalition_themes.c.coalition_id.between(*ids)))
        cities = _grouped(session, select(coalition_cities.c.coalition_id, coalition_cities.c.municipality_code)
                          .where(coalition_cities.c.coalition_id.between(*ids)))
        orgs = _grouped(session, select(coalition_organisations.c.coalition_id, O.c.name)
                        .join(O, O.c.id == coalition_organisations.c.organisation_id)
                        .where(coalition_organisations.c.coalition_id.between(*ids)))
        stmt = select(C.c.id, C.c.title, C.c.question, C.c.description, C.c.lead_municipality_code, C.c.status,
                      C.c.updated_at).where(C.c.id.between(*ids))
        yield [docs.coalition_row(id=i, title=t, question=q, description=d, lead_city_code=lead, status=s,
                                  updated_at=u,
                                  city_names=sorted({lk.cities.get(x, "") for x in {*cities.get(i, ()), lead}}),
                                  organisation_names=orgs.get(i, ()), theme_codes=themes.get(i, ()),
                                  theme_names=lk.theme_names(themes.get(i, ())))
               for i, t, q, d, lead, s, u in session.execute(stmt)]


def rebuild_index(session: Session, progress: Progress | None = None) -> dict[str, int]:
    """Replace the whole index from the registry tables; returns document counts by type.

    ``progress(n)`` is called after every batch with the number of documents written.
    Runs in the caller's transaction: readers keep seeing the old index until commit.
    Ends with the backend's set-based refresh of its narrow structures and ANALYZE,
    so that the planner knows the new index at once.
    """
    session.flush()
    backend = backend_for(session)
    lookups = _Lookups(session)
    counts = {t: 0 for t in DOC_TYPES}
    bits = all_theme_bits(session)
    with backend.bulk_replace(session):
        for batches in (_project_batches, _lab_batches, _solution_batches, _coalition_batches):
            for rows in batches(session, lookups):
                written = backend.insert_many(session, _counted(rows, counts, bits))
                if progress:
                    progress(written)
    return counts


def _counted(rows: Iterable[dict], counts: dict[str, int], bits: dict[str, int]) -> Iterator[dict]:
    masks: dict[str, int] = {}
    for row in rows:
        counts[row["doc_type"]] += 1
        themes = row["themes"]
        mask = masks.get(themes)
        if mask is None:
            unknown = [code for code in themes.split() if code not in bits]
            if unknown:  # all_theme_bits covered the themes table: only past the 63-bit limit
                raise TooManyThemes(f"search supports at most {MAX_BITS} theme codes; cannot index {unknown[0]}")
            mask = masks[themes] = mask_of(themes, bits)
        row["themes_mask"] = mask
        yield row
