"""Business rules for living labs, projects, solutions and adoptions.

Every write is one unit of work: references are resolved and validated first,
the search index is updated in the same transaction, and then it commits once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from stadslab.core.errors import BadRequest, Conflict, NotFound, ValidationFailed, field_error
from stadslab.core.listing import ListParams, RegistryFilters, apply_sort, like_pattern, paginate
from stadslab.core.auth import SYSTEM, Principal
from stadslab.core.unit_of_work import unit_of_work
from stadslab.network.models import Municipality, Organisation, Theme
from stadslab.network.service import (
    check_status_filter,
    check_theme_filter,
    city_codes_for_filter,
    resolve_city,
    resolve_organisations,
    resolve_themes,
)
from stadslab.network.writes import deleted, saved
from stadslab.search import indexer

from .models import (
    ADOPTION_STATUSES,
    INFRASTRUCTURE,
    LAB_STATUSES,
    PROJECT_STATUSES,
    PROJECT_TRANSITIONS,
    Adoption,
    Kpi,
    Lesson,
    LivingLab,
    ModeratedContribution,
    Project,
    ProjectPartner,
    Solution,
    lab_themes,
    project_themes,
    solution_themes,
)
from . import moderation
from .records import adoption_record, living_lab_record, project_record, solution_record
from .schemas import (
    AdoptionIn,
    AdoptionPatch,
    LivingLabIn,
    LivingLabPatch,
    ProjectIn,
    ProjectPatch,
    SolutionIn,
    SolutionPatch,
)


def _filtered(session: Session, stmt: Select, filters: RegistryFilters, *, city_col=None, theme_link=None,
              status_col=None, statuses=(), text_cols=(), updated_col=None) -> Select:
    """Applies the common registry filters to a list query."""
    if filters.city and city_col is not None:
        stmt = stmt.where(city_col.in_(city_codes_for_filter(session, filters.city)))
    if filters.theme and theme_link is not None:
        table, fk = theme_link
        stmt = stmt.where(fk.in_(select(table.c[list(table.c.keys())[0]]).where(
            table.c.theme_code.in_(check_theme_filter(session, filters.theme)))))
    if filters.status and status_col is not None:
        stmt = stmt.where(status_col.in_(check_status_filter(filters.status, statuses)))
    if filters.q and text_cols:
        pat = like_pattern(filters.q)
        stmt = stmt.where(or_(*(c.ilike(pat, escape="\\") for c in text_cols)))
    if filters.modified_since and updated_col is not None:
        stmt = stmt.where(updated_col >= filters.modified_since)
    return stmt


def _get(session: Session, model, obj_id: int, label: str):
    obj = session.get(model, obj_id)
    if obj is None:
        raise NotFound(f"No {label} with id {obj_id}")
    return obj


def _check_owner(session: Session, data: dict[str, Any]) -> None:
    if data.get("owner_organisation_id") is not None:
        _ref(session, Organisation, data["owner_organisation_id"], "owner_organisation_id", "organisation")


def _ref(session: Session, model, obj_id: int | None, field: str, label: str):
    if obj_id is None:
        return None
    obj = session.get(model, obj_id)
    if obj is None:
        raise ValidationFailed(f"{field}: unknown {label} id {obj_id}",
                               errors=[field_error(["body", field], f"unknown {label} id {obj_id}")])
    return obj


# --- living labs ----------------------------------------------------------------------------


#: The lab directory's filters (``/labs`` and ``GET /api/v1/living-labs``) and the words for yes/no.
LAB_FILTERS = ("theme", "infrastructure", "city", "province", "open_to_external", "status")
YES, NO = ("true", "1", "yes", "ja"), ("false", "0", "no", "nee")


def check_lab_filters(session: Session, *, theme: list[str] = (), infrastructure: list[str] = (),
                      city: list[str] = (), province: list[str] = (), status: list[str] = (),
                      open_to_external: str | None = None) -> dict[str, Any]:
    """Validates the directory filters; an unknown value is a 400 naming the allowed values, per filter.

    Returns the filters in canonical form: city codes, province names, ``open_to_external`` as bool.
    """
    problems: list[dict] = []

    def bad(name: str, values: list[str], allowed: str) -> None:
        for v in values:
            problems.append(field_error(["query", name], f"unknown value {v!r}; allowed: {allowed}"))

    known_themes = set(session.scalars(select(Theme.code)))
    bad("theme", [t for t in theme if t not in known_themes], ", ".join(sorted(known_themes)))
    bad("infrastructure", [i for i in infrastructure if i not in INFRASTRUCTURE], ", ".join(INFRASTRUCTURE))
    bad("status", [x for x in status if x not in LAB_STATUSES], ", ".join(LAB_STATUSES))
    provinces = {name.lower(): name for name in session.scalars(select(Municipality.province).distinct())}
    bad("province", [x for x in province if x.strip().lower() not in provinces], ", ".join(sorted(provinces.values())))
    codes = []
    for value in city:
        v = value.strip()
        code = session.scalar(select(Municipality.code).where(
            or_(Municipality.code == v.upper(), func.lower(Municipality.name) == v.lower())))
        if code is None:
            bad("city", [value], "a CBS municipality code (GM0344) or a municipality name (Utrecht)")
        else:
            codes.append(code)
    open_flag = None
    if open_to_external is not None and open_to_external.strip() != "":
        word = open_to_external.strip().lower()
        if word in YES:
            open_flag = True
        elif word in NO:
            open_flag = False
        else:
            bad("open_to_external", [open_to_external], "true, false")
    if problems:
        raise BadRequest("Unknown filter value: " + "; ".join(f"{e['field'].split('.')[-1]}: {e['msg']}"
                                                              for e in problems), errors=problems)
    return {"theme": list(theme), "infrastructure": list(infrastructure), "city": codes, "status": list(status),
            "province": [provinces[x.strip().lower()] for x in province], "open_to_external": open_flag}


def list_living_labs(session: Session, filters: RegistryFilters, params: ListParams,
                     infrastructure: list[str] | None = None,
                     open_to_external: bool | None = None,
                     province: list[str] | None = None) -> tuple[list[LivingLab], int]:
    stmt = _filtered(session, select(LivingLab), filters, city_col=LivingLab.municipality_code,
                     theme_link=(lab_themes, LivingLab.id), status_col=LivingLab.status, statuses=LAB_STATUSES,
                     text_cols=(LivingLab.name, LivingLab.description), updated_col=LivingLab.updated_at)
    if open_to_external is not None:
        stmt = stmt.where(LivingLab.open_to_external == open_to_external)
    if province:
        stmt = stmt.where(LivingLab.municipality_code.in_(
            select(Municipality.code).where(Municipality.province.in_(province))))
    rows_filter = infrastructure or []
    stmt = apply_sort(stmt, params.sort, {"name": LivingLab.name, "created_at": LivingLab.created_at,
                                          "updated_at": LivingLab.updated_at}, LivingLab.id, "name")
    if rows_filter:
        # JSON array membership differs per dialect; labs are few, so filter ids in Python.
        wanted = set(rows_filter)
        ids = [i for i, infra in session.execute(stmt.with_only_columns(LivingLab.id, LivingLab.infrastructure))
               if wanted <= set(infra or [])]
        stmt = stmt.where(LivingLab.id.in_(ids))
    return paginate(session, stmt, params)


def get_living_lab(session: Session, lab_id: int) -> LivingLab:
    return _get(session, LivingLab, lab_id, "living lab")


def _apply_lab(session: Session, lab: LivingLab, data: dict[str, Any]) -> None:
    _check_owner(session, data)
    if "city" in data:
        lab.municipality_code = resolve_city(session, data.pop("city")).code
    if "themes" in data:
        lab.themes = resolve_themes(session, data.pop("themes"))
    for key, value in data.items():
        setattr(lab, key, value)


def create_living_lab(session: Session, data: LivingLabIn, *, actor: Principal = SYSTEM,
                      is_demo: bool = False) -> LivingLab:
    with unit_of_work(session, f"Living lab {data.name!r} cannot be created"):
        lab = LivingLab(is_demo=is_demo)
        _apply_lab(session, lab, data.model_dump())
        saved(session, actor, "create", "living_lab", lab, living_lab_record)
    return lab


def update_living_lab(session: Session, lab_id: int, data: LivingLabPatch | LivingLabIn, *,
                      actor: Principal = SYSTEM) -> LivingLab:
    with unit_of_work(session, "Living lab cannot be updated"):
        lab = get_living_lab(session, lab_id)
        before = living_lab_record(lab)
        _apply_lab(session, lab, data.model_dump(exclude_unset=isinstance(data, LivingLabPatch)))
        saved(session, actor, "update", "living_lab", lab, living_lab_record, before)
    return lab


def delete_living_lab(session: Session, lab_id: int, *, actor: Principal = SYSTEM) -> None:
    with unit_of_work(session, "Living lab cannot be deleted"):
        lab = get_living_lab(session, lab_id)
        deleted(session, actor, "living_lab", lab, living_lab_record, [("living_lab", lab.id)])


# --- projects -------------------------------------------------------------------------------

PROJECT_SORTS = {"title": Project.title, "start_date": Project.start_date, "status": Project.status,
                 "budget_eur": Project.budget_eur, "created_at": Project.created_at,
                 "updated_at": Project.updated_at}


def list_projects(session: Session, filters: RegistryFilters, params: ListParams,
                  living_lab_id: int | None = None) -> tuple[list[Project], int]:
    stmt = _filtered(session, select(Project), filters, city_col=Project.municipality_code,
                     theme_link=(project_themes, Project.id), status_col=Project.status,
                     statuses=PROJECT_STATUSES, text_cols=(Project.title, Project.summary),
                     updated_col=Project.updated_at)
    if living_lab_id is not None:
        stmt = stmt.where(Project.living_lab_id == living_lab_id)
    stmt = apply_sort(stmt, params.sort, PROJECT_SORTS, Project.id, "title")
    return paginate(session, stmt, params)


def get_project(session: Session, project_id: int) -> Project:
    return _get(session, Project, project_id, "project")


def _apply_project(session: Session, p: Project, data: dict[str, Any], actor: Principal = SYSTEM,
                   deferred: list | None = None) -> None:
    deferred = deferred if deferred is not None else []
    _check_owner(session, data)
    if "city" in data:
        p.municipality_code = resolve_city(session, data.pop("city")).code
    if "living_lab_id" in data:
        lab = _ref(session, LivingLab, data.pop("living_lab_id"), "living_lab_id", "living lab")
        if lab is not None and lab.id != p.living_lab_id and moderation.needs_consent(actor, lab.owner_organisation_id):
            deferred.append(lab)  # another organisation's lab: linked once its editors accept
        else:
            p.living_lab_id = lab.id if lab else None
    if "themes" in data:
        p.themes = resolve_themes(session, data.pop("themes"))
    if "status" in data:
        new = data.pop("status")
        if p.status is not None and new != p.status and new not in PROJECT_TRANSITIONS[p.status]:
            allowed = ", ".join(sorted(PROJECT_TRANSITIONS[p.status])) or "none"
            raise Conflict(f"status: a project cannot move from {p.status!r} to {new!r} (allowed: {allowed})",
                           errors=[field_error(["body", "status"], f"cannot move from {p.status} to {new}")])
        p.status = new
    if "partners" in data:
        partners = data.pop("partners")
        orgs = resolve_organisations(session, [x["organisation_id"] for x in partners], "partners")
        if len({o.id for o in orgs}) != len(orgs):
            raise ValidationFailed("partners: an organisation is listed twice",
                                   errors=[field_error(["body", "partners"], "duplicate organisation")])
        p.partners = [ProjectPartner(organisation_id=o.id, role=x["role"]) for o, x in zip(orgs, partners)]
    if "kpis" in data:
        p.kpis = [Kpi(position=i, **k) for i, k in enumerate(data.pop("kpis"))]
    lessons_en = data.pop("lessons_en", None)
    if "lessons" in data:
        english = lessons_en if lessons_en is not None else [lesson.text_en for lesson in p.lessons]
        pairs = [(t, (english[i] if i < len(english) else None) or None) for i, t in enumerate(data.pop("lessons"))]
        p.lessons = [Lesson(position=i, text=t, text_en=en) for i, (t, en) in enumerate(x for x in pairs if x[0].strip())]
    elif lessons_en is not None:
        for i, lesson in enumerate(p.lessons):
            lesson.text_en = (lessons_en[i] if i < len(lessons_en) else None) or None
    for key, value in data.items():
        setattr(p, key, value)
    if p.start_date and p.end_date and p.end_date < p.start_date:
        raise ValidationFailed("end_date must not be before start_date",
                               errors=[field_error(["body", "end_date"], "before start_date")])


def create_project(session: Session, data: ProjectIn, *, actor: Principal = SYSTEM,
                   is_demo: bool = False) -> Project:
    with unit_of_work(session, f"Project {data.title!r} cannot be created"):
        p = Project(is_demo=is_demo, status=None)
        deferred: list[LivingLab] = []
        _apply_project(session, p, data.model_dump(), actor, deferred)
        saved(session, actor, "create", "project", p, project_record)
        _propose_links(session, p, deferred, actor)
    return p


def update_project(session: Session, project_id: int, data: ProjectPatch | ProjectIn, *,
                   actor: Principal = SYSTEM) -> Project:
    with unit_of_work(session, "Project cannot be updated"):
        p = get_project(session, project_id)
        before = project_record(p)
        old_lessons = [lesson.id for lesson in p.lessons]
        deferred: list[LivingLab] = []
        _apply_project(session, p, data.model_dump(exclude_unset=isinstance(data, ProjectPatch)), actor, deferred)
        for lesson_id in old_lessons:
            indexer.remove(session, "lesson", lesson_id)
        saved(session, actor, "update", "project", p, project_record, before)
        _propose_links(session, p, deferred, actor)
    return p


def _propose_links(session: Session, p: Project, labs: list[LivingLab], actor: Principal) -> None:
    """Links to other organisations' labs wait in their inbox (one pending proposal per project and lab)."""
    for lab in labs:
        if moderation.pending_link(session, p.id, lab.id) is None:
            moderation.propose(session, "project_to_lab", actor=actor, owner_organisation_id=lab.owner_organisation_id,
                               contributor_organisation_id=p.owner_organisation_id or actor.organisation_id,
                               living_lab_id=lab.id, project_id=p.id, payload={"project_title": p.title})


def delete_project(session: Session, project_id: int, *, actor: Principal = SYSTEM) -> None:
    with unit_of_work(session, "Project cannot be deleted"):
        p = get_project(session, project_id)
        unindex = [("project", p.id)] + [("lesson", lesson.id) for lesson in p.lessons]
        deleted(session, actor, "project", p, project_record, unindex)


# --- solutions ------------------------------------------------------------------------------


def list_solutions(session: Session, filters: RegistryFilters, params: ListParams) -> tuple[list[Solution], int]:
    stmt = _filtered(session, select(Solution), filters, theme_link=(solution_themes, Solution.id),
                     status_col=Solution.maturity, statuses=("pilot", "proven", "mature"),
                     text_cols=(Solution.name, Solution.description), updated_col=Solution.updated_at)
    if filters.city:
        codes = city_codes_for_filter(session, filters.city)
        stmt = stmt.where(Solution.id.in_(select(Adoption.solution_id).where(Adoption.municipality_code.in_(codes))))
    adoption_count = (select(func.count(Adoption.id)).where(Adoption.solution_id == Solution.id)
                      .correlate(Solution).scalar_subquery())
    stmt = apply_sort(stmt, params.sort, {"name": Solution.name, "adoptions": adoption_count,
                                          "created_at": Solution.created_at, "updated_at": Solution.updated_at},
                      Solution.id, "name")
    return paginate(session, stmt, params)


def get_solution(session: Session, solution_id: int) -> Solution:
    return _get(session, Solution, solution_id, "solution")


def _apply_solution(session: Session, s: Solution, data: dict[str, Any]) -> None:
    _check_owner(session, data)
    if "themes" in data:
        s.themes = resolve_themes(session, data.pop("themes"))
    if "origin_project_id" in data:
        _ref(session, Project, data["origin_project_id"], "origin_project_id", "project")
    if "provider_organisation_id" in data:
        _ref(session, Organisation, data["provider_organisation_id"], "provider_organisation_id", "organisation")
    for key, value in data.items():
        setattr(s, key, value)


def create_solution(session: Session, data: SolutionIn, *, actor: Principal = SYSTEM,
                    is_demo: bool = False) -> Solution:
    with unit_of_work(session, f"Solution {data.name!r} cannot be created"):
        s = Solution(is_demo=is_demo)
        _apply_solution(session, s, data.model_dump())
        saved(session, actor, "create", "solution", s, solution_record)
    return s


def update_solution(session: Session, solution_id: int, data: SolutionPatch | SolutionIn, *,
                    actor: Principal = SYSTEM) -> Solution:
    with unit_of_work(session, "Solution cannot be updated"):
        s = get_solution(session, solution_id)
        before = solution_record(s)
        _apply_solution(session, s, data.model_dump(exclude_unset=isinstance(data, SolutionPatch)))
        saved(session, actor, "update", "solution", s, solution_record, before)
    return s


def delete_solution(session: Session, solution_id: int, *, actor: Principal = SYSTEM) -> None:
    with unit_of_work(session, "Solution cannot be deleted"):
        s = get_solution(session, solution_id)
        if s.adoptions:
            raise Conflict(f"Solution {s.id} has {len(s.adoptions)} adoption(s); delete those first")
        deleted(session, actor, "solution", s, solution_record, [("solution", s.id)])


# --- adoptions ------------------------------------------------------------------------------


def list_adoptions(session: Session, filters: RegistryFilters, params: ListParams,
                   solution_id: int | None = None) -> tuple[list[Adoption], int]:
    stmt = _filtered(session, select(Adoption), filters, city_col=Adoption.municipality_code,
                     status_col=Adoption.status, statuses=ADOPTION_STATUSES, text_cols=(Adoption.outcome,),
                     updated_col=Adoption.updated_at)
    if filters.theme:
        stmt = stmt.where(Adoption.solution_id.in_(select(solution_themes.c.solution_id).where(
            solution_themes.c.theme_code.in_(check_theme_filter(session, filters.theme)))))
    if solution_id is not None:
        stmt = stmt.where(Adoption.solution_id == solution_id)
    stmt = apply_sort(stmt, params.sort, {"adopted_on": Adoption.adopted_on, "created_at": Adoption.created_at,
                                          "updated_at": Adoption.updated_at}, Adoption.id, "adopted_on")
    return paginate(session, stmt, params)


def get_adoption(session: Session, adoption_id: int) -> Adoption:
    return _get(session, Adoption, adoption_id, "adoption")


def _apply_adoption(session: Session, a: Adoption, data: dict[str, Any]) -> None:
    _check_owner(session, data)
    if "solution_id" in data:
        _ref(session, Solution, data["solution_id"], "solution_id", "solution")
    if "city" in data:
        a.municipality_code = resolve_city(session, data.pop("city")).code
    if "project_id" in data:
        _ref(session, Project, data["project_id"], "project_id", "project")
    for key, value in data.items():
        setattr(a, key, value)


def create_adoption(session: Session, data: AdoptionIn, *, actor: Principal = SYSTEM,
                    is_demo: bool = False) -> Adoption | ModeratedContribution:
    """An adoption; of another organisation's solution it waits for that organisation (a contribution)."""
    with unit_of_work(session, "Adoption cannot be created"):
        solution = _ref(session, Solution, data.solution_id, "solution_id", "solution")
        if moderation.needs_consent(actor, solution.owner_organisation_id):
            _check_new_adoption(session, data.model_dump())
            return moderation.propose(session, "adoption", actor=actor,
                                      owner_organisation_id=solution.owner_organisation_id,
                                      contributor_organisation_id=data.owner_organisation_id,
                                      solution_id=solution.id, payload=data.model_dump(mode="json"))
        a = add_adoption(session, data.model_dump(), actor=actor, is_demo=is_demo)
    return a


def _check_new_adoption(session: Session, data: dict[str, Any]) -> None:
    exists = session.scalar(select(Adoption.id).where(Adoption.solution_id == data["solution_id"],
                                                      Adoption.municipality_code == data["city"]))
    if exists:
        raise Conflict(f"{data['city']} already has an adoption of solution {data['solution_id']} "
                       f"(adoption {exists})")
    resolve_city(session, data["city"])
    if data.get("project_id") is not None:
        _ref(session, Project, data["project_id"], "project_id", "project")


def add_adoption(session: Session, data: dict[str, Any], *, actor: Principal = SYSTEM,
                 is_demo: bool = False) -> Adoption:
    """Creates the adoption inside the caller's unit of work (also when a contribution is accepted)."""
    if isinstance(data.get("adopted_on"), str):
        from datetime import date

        data["adopted_on"] = date.fromisoformat(data["adopted_on"])
    _check_new_adoption(session, data)
    a = Adoption(is_demo=is_demo)
    _apply_adoption(session, a, data)
    saved(session, actor, "create", "adoption", a, adoption_record, searchable=False)
    _reindex_solution(session, a.solution_id)
    return a


def update_adoption(session: Session, adoption_id: int, data: AdoptionPatch | AdoptionIn, *,
                    actor: Principal = SYSTEM) -> Adoption:
    with unit_of_work(session, "Adoption cannot be updated"):
        a = get_adoption(session, adoption_id)
        before = adoption_record(a)
        old_solution = a.solution_id
        fields = data.model_dump(exclude_unset=isinstance(data, AdoptionPatch))
        if fields.get("solution_id", old_solution) != old_solution:
            target = _ref(session, Solution, fields["solution_id"], "solution_id", "solution")
            if moderation.needs_consent(actor, target.owner_organisation_id):
                raise Conflict("solution_id: an adoption cannot move to another organisation's solution; "
                               "create a new adoption (its owner accepts it)",
                               errors=[field_error(["body", "solution_id"], "owned by another organisation")])
        _apply_adoption(session, a, fields)
        saved(session, actor, "update", "adoption", a, adoption_record, before, searchable=False)
        for solution_id in {old_solution, a.solution_id}:
            _reindex_solution(session, solution_id)
    return a


def delete_adoption(session: Session, adoption_id: int, *, actor: Principal = SYSTEM) -> None:
    with unit_of_work(session, "Adoption cannot be deleted"):
        a = get_adoption(session, adoption_id)
        solution_id = a.solution_id
        deleted(session, actor, "adoption", a, adoption_record)
        _reindex_solution(session, solution_id)


def _reindex_solution(session: Session, solution_id: int) -> None:
    """A solution's search document lists its adopting cities, so adoptions change it."""
    solution = session.get(Solution, solution_id)
    if solution is not None:
        session.refresh(solution, ["adoptions"])
        indexer.index_object(session, solution)
