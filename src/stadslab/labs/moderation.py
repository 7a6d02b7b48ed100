"""Moderated contributions: what one organisation attaches to another organisation's content.

A project linked to another organisation's living lab, an adoption of another
organisation's solution, a lesson added to another organisation's project and an
application to test in a lab are *pending* until an editor of the owner accepts
them. The rule of who decides is the registry's one write rule (``authorize_write``
on the owner organisation): whoever may write the target attaches directly, anyone
else proposes.

Nothing pending is public, by construction: the project keeps no link to the lab,
the adoption and the lesson are not created, until the owner accepts. The
contribution itself is visible to both organisations (and administrators) only;
to anyone else it does not exist (404).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM, Principal, authorize_write, may_write, require_authenticated
from stadslab.core.errors import BadRequest, Conflict, NotFound
from stadslab.core.listing import ListParams, paginate
from stadslab.core.unit_of_work import unit_of_work
from stadslab.network.writes import saved

from .models import CONTRIBUTION_KINDS, CONTRIBUTION_STATUSES, Lesson, LivingLab, ModeratedContribution, Project

SCOPE = "registry:write"
DIRECTIONS = ("incoming", "outgoing", "all")


def contribution_record(c: ModeratedContribution) -> dict[str, Any]:
    return {"kind": c.kind, "status": c.status, "contributor_organisation_id": c.contributor_organisation_id,
            "owner_organisation_id": c.owner_organisation_id, "living_lab_id": c.living_lab_id,
            "project_id": c.project_id, "solution_id": c.solution_id, "payload": c.payload,
            "decision_note": c.decision_note}


def needs_consent(actor: Principal, owner_organisation_id: int | None) -> bool:
    """Whether attaching to content of ``owner_organisation_id`` waits for its editors (the write rule)."""
    return not may_write(actor, owner_organisation_id, SCOPE)


def propose(session: Session, kind: str, *, actor: Principal, owner_organisation_id: int | None,
            contributor_organisation_id: int | None = None, payload: dict | None = None,
            living_lab_id: int | None = None, project_id: int | None = None,
            solution_id: int | None = None) -> ModeratedContribution:
    """Records a pending contribution inside the caller's unit of work (does not commit)."""
    assert kind in CONTRIBUTION_KINDS, kind
    c = ModeratedContribution(
        kind=kind, status="pending", owner_organisation_id=owner_organisation_id,
        contributor_organisation_id=(contributor_organisation_id if contributor_organisation_id is not None
                                     else actor.organisation_id),
        payload=payload or {}, living_lab_id=living_lab_id, project_id=project_id, solution_id=solution_id,
        decision_note="")
    saved(session, actor, "create", "contribution", c, contribution_record, searchable=False)
    return c


def pending_link(session: Session, project_id: int, lab_id: int) -> ModeratedContribution | None:
    return session.scalar(select(ModeratedContribution).where(
        ModeratedContribution.kind == "project_to_lab", ModeratedContribution.status == "pending",
        ModeratedContribution.project_id == project_id, ModeratedContribution.living_lab_id == lab_id))


# --- reading: the two parties only -----------------------------------------------------------


def _party_clause(p: Principal):
    if p.is_admin:
        return None
    if p.organisation_id is None:
        return ModeratedContribution.id.is_(None)  # nobody's party
    return or_(ModeratedContribution.owner_organisation_id == p.organisation_id,
               ModeratedContribution.contributor_organisation_id == p.organisation_id)


def is_party(p: Principal, c: ModeratedContribution) -> bool:
    return p.is_admin or (p.organisation_id is not None and p.organisation_id in (
        c.owner_organisation_id, c.contributor_organisation_id))


def list_contributions(session: Session, p: Principal, params: ListParams, *, direction: str = "all",
                       status: list[str] | None = None, kind: list[str] | None = None,
                       living_lab_id: int | None = None) -> tuple[list[ModeratedContribution], int]:
    """The contributions the caller is a party to: ``incoming`` (to decide), ``outgoing`` (to follow)."""
    require_authenticated(p)
    _check_choice("direction", [direction], DIRECTIONS)
    _check_choice("status", status or [], CONTRIBUTION_STATUSES)
    _check_choice("kind", kind or [], CONTRIBUTION_KINDS)
    stmt = select(ModeratedContribution)
    party = _party_clause(p)
    if party is not None:
        stmt = stmt.where(party)
    own = p.organisation_id
    if direction == "incoming":
        if own is not None or not p.is_admin:  # a platform admin without organisation decides for all
            stmt = stmt.where(ModeratedContribution.owner_organisation_id == own)
    elif direction == "outgoing":
        stmt = stmt.where(ModeratedContribution.contributor_organisation_id == own)
    if status:
        stmt = stmt.where(ModeratedContribution.status.in_(status))
    if kind:
        stmt = stmt.where(ModeratedContribution.kind.in_(kind))
    if living_lab_id is not None:
        stmt = stmt.where(ModeratedContribution.living_lab_id == living_lab_id)
    stmt = stmt.order_by(ModeratedContribution.created_at.desc(), ModeratedContribution.id.desc())
    return paginate(session, stmt, params)


def _check_choice(name: str, values: list[str], allowed) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise BadRequest(f"{name}: unknown value {', '.join(map(repr, bad))}; allowed: {', '.join(allowed)}",
                         errors=[{"loc": ["query", name], "field": f"query.{name}",
                                  "msg": f"allowed: {', '.join(allowed)}"}])


def get_contribution(session: Session, p: Principal, contribution_id: int) -> ModeratedContribution:
    c = session.get(ModeratedContribution, contribution_id)
    if c is None or not is_party(p, c):
        raise NotFound(f"No contribution with id {contribution_id}")
    return c


def may_decide(p: Principal, c: ModeratedContribution) -> bool:
    return c.status == "pending" and may_write(p, c.owner_organisation_id, SCOPE)


# --- deciding ----------------------------------------------------------------------------------


def decide(session: Session, contribution_id: int, accept: bool, *, actor: Principal,
           note: str = "") -> ModeratedContribution:
    """Accept (the change is made now) or decline a pending contribution; owner's editors only.

    Not a party: 404. A party that may not write the owner's content: 403. Decided already: 409.
    """
    with unit_of_work(session, "The contribution cannot be decided"):
        c = get_contribution(session, actor, contribution_id)
        authorize_write(actor, c.owner_organisation_id, SCOPE)
        if c.status != "pending":
            raise Conflict(f"Contribution {c.id} is already {c.status}")
        before = contribution_record(c)
        if accept:
            _carry_out(session, c, actor)
        c.status = "accepted" if accept else "declined"
        c.decided_at = datetime.now(timezone.utc)
        c.decision_note = note or ""
        saved(session, actor, "accept" if accept else "decline", "contribution", c, contribution_record, before,
              searchable=False)
    return c


def _carry_out(session: Session, c: ModeratedContribution, actor: Principal) -> None:
    from . import service

    if c.kind == "project_to_lab":
        project = session.get(Project, c.project_id)
        from .records import project_record

        before = project_record(project)
        project.living_lab_id = c.living_lab_id
        saved(session, actor, "update", "project", project, project_record, before)
    elif c.kind == "adoption":
        service.add_adoption(session, dict(c.payload), actor=actor)
    elif c.kind == "lesson":
        project = session.get(Project, c.project_id)
        from .records import project_record

        before = project_record(project)
        project.lessons.append(Lesson(position=len(project.lessons), text=c.payload.get("text", "")))
        saved(session, actor, "update", "project", project, project_record, before)
    # a test application changes nothing but its own status


# --- proposing through the API and the pages -----------------------------------------------------


def apply_to_test(session: Session, lab_id: int, data, *, actor: Principal = SYSTEM) -> ModeratedContribution:
    """An application to test in a lab: always pending in the lab owner's inbox."""
    with unit_of_work(session, "The application cannot be sent"):
        lab = session.get(LivingLab, lab_id)
        if lab is None:
            raise NotFound(f"No living lab with id {lab_id}")
        if not lab.open_to_external and needs_consent(actor, lab.owner_organisation_id):
            raise Conflict(f"Living lab {lab.id} is not open to outside parties")
        payload = data.model_dump(mode="json")
        c = propose(session, "test_application", actor=actor, owner_organisation_id=lab.owner_organisation_id,
                    payload=payload, living_lab_id=lab.id)
    return c


def add_lesson(session: Session, project_id: int, text: str, *,
               actor: Principal = SYSTEM) -> Project | ModeratedContribution:
    """A lesson for a project: added at once by whoever may edit the project, else pending."""
    with unit_of_work(session, "The lesson cannot be added"):
        project = session.get(Project, project_id)
        if project is None:
            raise NotFound(f"No project with id {project_id}")
        if needs_consent(actor, project.owner_organisation_id):
            result: Project | ModeratedContribution = propose(
                session, "lesson", actor=actor, owner_organisation_id=project.owner_organisation_id,
                payload={"text": text}, project_id=project.id)
        else:
            from .records import project_record

            before = project_record(project)
            project.lessons.append(Lesson(position=len(project.lessons), text=text))
            saved(session, actor, "update", "project", project, project_record, before)
            result = project
    return result
