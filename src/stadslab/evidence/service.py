"""Business rules for experiment designs and evaluations.

Writes are authorized by the caller (routes call ``authorize_write`` with the
project's owner organisation, as for any registry write) and audited inside the
same unit of work as the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab import __version__
from stadslab.core.auth import ANONYMOUS, SYSTEM, Principal
from stadslab.core.errors import Conflict, NotFound, ValidationFailed, field_error
from stadslab.core.unit_of_work import unit_of_work
from stadslab.governance import audit
from stadslab.labs.models import Project
from stadslab.labs.service import get_project
from stadslab.sensorthings.access.visibility import visible_ids

from . import design as design_rules
from .consistency import consistency
from .engine import ENGINE_VERSION
from .evaluation import evaluate
from .models import Evaluation, ExperimentDesign
from .schemas import DesignIn

#: What an evaluation records as the code that produced it.
def code_version() -> str:
    return f"stadslab {__version__}"


def design_out(session: Session, project: Project, row: ExperimentDesign, principal: Principal) -> dict[str, Any]:
    """The stored design plus how it resolves now for ``principal`` (or why it no longer does)."""
    out = {"project_id": project.id, "design": row.design, "updated_at": row.updated_at, "resolved": None,
           "problems": []}
    try:
        out["resolved"] = design_rules.resolve(session, project, DesignIn.model_validate(row.design),
                                               principal).as_dict()
    except ValidationFailed as exc:
        out["problems"] = exc.errors
    return out


def get_design(session: Session, project_id: int, principal: Principal = ANONYMOUS) -> dict[str, Any]:
    project = get_project(session, project_id)
    row = session.get(ExperimentDesign, project_id)
    if row is None:
        raise NotFound(f"Project {project_id} has no experiment design yet; create one with PUT "
                       f"/api/v1/projects/{project_id}/design")
    return design_out(session, project, row, principal)


def put_design(session: Session, project_id: int, data: DesignIn, *, actor: Principal = SYSTEM) -> dict[str, Any]:
    project = get_project(session, project_id)
    resolved = design_rules.resolve(session, project, data, actor)
    stored = data.model_dump()
    with unit_of_work(session, "Experiment design cannot be saved"):
        row = session.get(ExperimentDesign, project_id)
        before = dict(row.design) if row is not None else None
        if row is None:
            row = ExperimentDesign(project_id=project_id, design=stored)
            session.add(row)
        else:
            row.design = stored
        session.flush()
        audit.record(session, actor, "update" if before else "create", "experiment_design", project_id, before,
                     stored)
    out = design_out(session, project, row, actor)
    out["resolved"] = resolved.as_dict()
    return out


def _stored_design(session: Session, project_id: int) -> DesignIn:
    row = session.get(ExperimentDesign, project_id)
    if row is None:
        raise Conflict(f"Project {project_id} has no experiment design to evaluate; create one with PUT "
                       f"/api/v1/projects/{project_id}/design first")
    try:
        return DesignIn.model_validate(row.design)
    except ValidationError as exc:  # a design saved by an older version
        raise ValidationFailed("The stored experiment design is no longer valid; save it again",
                               errors=[field_error(["design", *e["loc"]], e["msg"]) for e in exc.errors()]) from None


def run_evaluation(session: Session, project_id: int, *, actor: Principal = SYSTEM) -> Evaluation:
    """Evaluate the project's design on the data in the hub now, and store the result."""
    project = get_project(session, project_id)
    resolved = design_rules.resolve(session, project, _stored_design(session, project_id), actor)
    results, fingerprint = evaluate(session, resolved)
    with unit_of_work(session, "Evaluation cannot be stored"):
        ev = Evaluation(project_id=project_id, design={"input": resolved.design, "resolved": resolved.as_dict()},
                        fingerprint=fingerprint, code_version=code_version(), engine_version=ENGINE_VERSION,
                        results=results)
        session.add(ev)
        session.flush()
        audit.record(session, actor, "evaluate", "project", project_id, None,
                     {"evaluation_id": ev.id, "summary": results["summary"],
                      "series_sha256": fingerprint["series_sha256"]})
    return ev


@dataclass(frozen=True)
class PublishedEvaluation:
    """A stored evaluation as one caller may see it (see :func:`published`)."""

    id: int
    project_id: int
    evaluated_at: datetime
    code_version: str
    engine_version: str
    design: dict[str, Any]
    fingerprint: dict[str, Any]
    results: dict[str, Any]


WITHHELD_MESSAGE = {"nl": "Dit resultaat is niet beschikbaar: niet alle meetreeksen waarop het berust zijn (nog) "
                          "openbaar.",
                    "en": "This result is not available: not all Datastreams it rests on are (still) public."}
_SITE_GROUPS = ("intervention", "control")


def published(session: Session, ev: Evaluation, principal: Principal = ANONYMOUS) -> PublishedEvaluation:
    """``ev`` with every KPI withheld that rests on a Datastream ``principal`` may not read *now*.

    An evaluation was public when it was made (only open data feeds one), but its series and
    effects are derived from the Datastreams, so they follow the Datastreams' current access
    class: one made restricted later takes the KPI's series, effect and site list out of every
    public view. A deleted Datastream does the same, so a hidden one looks exactly like one that
    no longer exists. The stored row is never changed (the audit trail's fingerprint refers to it).
    """
    resolved = ev.design.get("resolved") or {}
    streams = {k.get("index"): {s["datastream_id"] for g in _SITE_GROUPS for s in k.get(g, [])}
               for k in resolved.get("kpis", [])}
    seen = visible_ids(session, principal, "Datastream", set().union(*streams.values()))
    withheld = {i for i, ids in streams.items() if not ids <= seen}
    design, fingerprint, results = ev.design, ev.fingerprint, ev.results
    if withheld:
        design = {**ev.design, "resolved": {**resolved, "kpis": [
            {**k, **{g: [] for g in _SITE_GROUPS}} if k.get("index") in withheld else k
            for k in resolved.get("kpis", [])]}}
        fingerprint = {**ev.fingerprint, "per_kpi": {i: fp for i, fp in (ev.fingerprint.get("per_kpi") or {}).items()
                                                     if int(i) not in withheld}}
        kpis = [_withheld(r) if r.get("index") in withheld else r for r in ev.results.get("kpis", [])]
        summary = {v: sum(1 for r in kpis if r.get("verdict") == v) for v in ev.results.get("summary", {})
                   if v != "not_evaluable"}
        summary["not_evaluable"] = sum(1 for r in kpis if r.get("status") != "ok")
        results = {**ev.results, "kpis": kpis, "summary": summary}
    return PublishedEvaluation(ev.id, ev.project_id, ev.evaluated_at, ev.code_version, ev.engine_version, design,
                               fingerprint, results)


def _withheld(r: dict[str, Any]) -> dict[str, Any]:
    keep = ("index", "kpi", "project_kpi_id", "name", "unit", "direction", "observed_property", "method")
    return {**{k: r.get(k) for k in keep}, "status": "withheld", "effect": None, "verdict": None,
            "verdict_text": None, "messages": [WITHHELD_MESSAGE]}


def evaluation_out(ev: PublishedEvaluation) -> dict[str, Any]:
    return {"id": ev.id, "project_id": ev.project_id, "evaluated_at": ev.evaluated_at,
            "code_version": ev.code_version, "engine_version": ev.engine_version, "design": ev.design,
            "fingerprint": ev.fingerprint, "results": ev.results}


def evaluation_summary(ev: PublishedEvaluation) -> dict[str, Any]:
    return {"id": ev.id, "evaluated_at": ev.evaluated_at, "code_version": ev.code_version,
            "engine_version": ev.engine_version, "summary": ev.results.get("summary"),
            "series_sha256": ev.fingerprint.get("series_sha256")}


def latest_evaluation(session: Session, project_id: int,
                      principal: Principal = ANONYMOUS) -> PublishedEvaluation | None:
    """The newest evaluation as ``principal`` may see it (comparisons, advice and reports are public)."""
    ev = session.scalars(select(Evaluation).where(Evaluation.project_id == project_id)
                         .order_by(Evaluation.evaluated_at.desc(), Evaluation.id.desc()).limit(1)).first()
    return None if ev is None else published(session, ev, principal)


def evaluations(session: Session, project_id: int, limit: int = 50,
                principal: Principal = ANONYMOUS) -> dict[str, Any]:
    project = get_project(session, project_id)
    rows = [published(session, e, principal) for e in session.scalars(
        select(Evaluation).where(Evaluation.project_id == project_id)
        .order_by(Evaluation.evaluated_at.desc(), Evaluation.id.desc()).limit(limit))]
    return {"project_id": project_id, "latest": evaluation_out(rows[0]) if rows else None,
            "history": [evaluation_summary(e) for e in rows],
            "consistency": consistency(session, project, rows[0]) if rows else None}


def get_evaluation(session: Session, project_id: int, evaluation_id: int,
                   principal: Principal = ANONYMOUS) -> PublishedEvaluation:
    ev = session.get(Evaluation, evaluation_id)
    if ev is None or ev.project_id != project_id:
        raise NotFound(f"Project {project_id} has no evaluation {evaluation_id}")
    return published(session, ev, principal)
