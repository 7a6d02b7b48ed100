"""Funding matches: projects against open calls, read through the registry's own services."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.labs import service as labs
from stadslab.labs.models import Kpi, Lesson, Project, project_themes

from . import matching, timeutil
from .funding import days_until, get_call, open_calls
from .models import FundingCall

#: Projects that can still use money (a stopped or scaled project is not looking).
SEEKING_STATUSES = ("idea", "pilot", "evaluated")


def _project_text(title: str, summary: str | None, lessons: list[str], kpi_names: list[str]) -> str:
    """What of a project is compared with a call: the title (twice), summary, lessons and KPI names."""
    return " ".join([title, title, summary or "", *lessons, *kpi_names])


def project_doc(p: Project) -> matching.Doc:
    text = _project_text(p.title, p.summary, [lesson.text for lesson in p.lessons], [k.name for k in p.kpis])
    return matching.analyse_doc(p.id, text, {t.code for t in p.themes})


def _seeking_docs(session: Session) -> tuple[dict[int, matching.Doc], dict[int, Any]]:
    """The documents of every project still seeking money, read as plain rows (no entity loading):
    the same text as :func:`project_doc`, a city page's worth of work instead of a full load."""
    seeking = select(Project.id).where(Project.status.in_(SEEKING_STATUSES))
    rows = {r.id: r for r in session.execute(
        select(Project.id, Project.title, Project.summary, Project.status, Project.municipality_code)
        .where(Project.status.in_(SEEKING_STATUSES)).order_by(Project.id))}
    themes: dict[int, set[str]] = defaultdict(set)
    for pid, code in session.execute(select(project_themes.c.project_id, project_themes.c.theme_code)
                                     .where(project_themes.c.project_id.in_(seeking))):
        themes[pid].add(code)
    lessons: dict[int, list[str]] = defaultdict(list)
    for pid, text in session.execute(select(Lesson.project_id, Lesson.text).where(Lesson.project_id.in_(seeking))
                                     .order_by(Lesson.project_id, Lesson.position)):
        lessons[pid].append(text)
    kpis: dict[int, list[str]] = defaultdict(list)
    for pid, name in session.execute(select(Kpi.project_id, Kpi.name).where(Kpi.project_id.in_(seeking))
                                     .order_by(Kpi.project_id, Kpi.position)):
        kpis[pid].append(name)
    docs = {pid: matching.analyse_doc(pid, _project_text(r.title, r.summary, lessons[pid], kpis[pid]), themes[pid])
            for pid, r in rows.items()}
    return docs, rows


def call_doc(c: FundingCall) -> matching.Doc:
    text = " ".join([c.title, c.title, c.description or "", c.programme.name if c.programme else ""])
    return matching.analyse_doc(c.id, text, {t.code for t in c.themes})


def _call_summary(c: FundingCall, now: datetime) -> dict[str, Any]:
    return {"id": c.id, "title": c.title, "programme": c.programme.code, "status": c.status,
            "deadline_utc": timeutil.aware_utc(c.deadline_at).isoformat(), "url": c.url,
            "days_left": days_until(c.deadline_at, now)}


def _match_out(m: matching.Match, days_left: int | None, **extra) -> dict[str, Any]:
    return {"score": m.score, "theme_score": m.theme_score, "text_score": m.text_score,
            "shared_themes": m.shared_themes, "common_terms": m.common_terms, "days_left": days_left,
            "explanation": matching.explain(m, days_left), **extra}


def _seeking_projects(session: Session) -> list[Project]:
    return list(session.scalars(select(Project).where(Project.status.in_(SEEKING_STATUSES))
                                .order_by(Project.id).execution_options(yield_per=500)))


def project_matches(session: Session, project_id: int, *, limit: int = 10,
                    now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or matching.now_utc()
    project = labs.get_project(session, project_id)
    calls = open_calls(session, now)
    call_docs = [call_doc(c) for c in calls]
    by_id = {c.id: c for c in calls}
    query = project_doc(project)
    corpus = call_docs + [query] + [project_doc(p) for p in _seeking_projects(session) if p.id != project.id]
    out = []
    for doc, m in matching.rank(query, call_docs, corpus)[:limit]:
        c = by_id[doc.key]
        days = days_until(c.deadline_at, now)
        out.append(_match_out(m, days, funding_call=_call_summary(c, now)))
    return out


def call_matches(session: Session, call_id: int, *, limit: int = 10,
                 now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or matching.now_utc()
    call = get_call(session, call_id)
    projects = _seeking_projects(session)
    docs = [project_doc(p) for p in projects]
    by_id = {p.id: p for p in projects}
    query = call_doc(call)
    corpus = docs + [call_doc(c) for c in open_calls(session, now) if c.id != call.id] + [query]
    days = days_until(call.deadline_at, now)
    out = []
    for doc, m in matching.rank(query, docs, corpus)[:limit]:
        p = by_id[doc.key]
        out.append(_match_out(m, days, project={"id": p.id, "title": p.title, "city": p.municipality_code,
                                                 "status": p.status}))
    return out


def city_matches(session: Session, code: str, *, limit: int = 5, per_call: int = 3,
                 now: datetime | None = None) -> list[dict[str, Any]]:
    """Open calls that fit the city's projects (those still seeking money), best call first.

    One corpus for all of the city's projects, so a city page costs one pass over the calls.
    Each call carries the city's projects that fit it, with the structured reasons
    (shared themes, common terms, days left) for the reader's language.
    """
    from stadslab.network.service import get_municipality

    code = get_municipality(session, code).code  # 404 for an unknown city
    now = now or matching.now_utc()
    if session.scalar(select(Project.id).where(Project.municipality_code == code,
                                               Project.status.in_(SEEKING_STATUSES)).limit(1)) is None:
        return []
    project_docs, rows = _seeking_docs(session)
    own = [r for r in rows.values() if r.municipality_code == code]
    calls = open_calls(session, now)
    call_docs = [call_doc(c) for c in calls]
    by_id = {c.id: c for c in calls}
    corpus = call_docs + list(project_docs.values())
    found: dict[int, dict[str, Any]] = {}
    for p in own:
        for doc, m in matching.rank(project_docs[p.id], call_docs, corpus):
            c = by_id[doc.key]
            days = days_until(c.deadline_at, now)
            entry = found.setdefault(c.id, {"funding_call": _call_summary(c, now), "score": 0.0, "projects": []})
            entry["score"] = max(entry["score"], m.score)
            entry["projects"].append(_match_out(m, days, project={"id": p.id, "title": p.title, "status": p.status}))
    out = sorted(found.values(), key=lambda e: (-e["score"], e["funding_call"]["deadline_utc"], e["funding_call"]["id"]))
    for e in out:
        e["projects"] = sorted(e["projects"], key=lambda x: (-x["score"], x["project"]["id"]))[:per_call]
    return out[:limit]
