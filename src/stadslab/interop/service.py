"""Funding matches: projects against open calls, read through the registry's own services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.labs import service as labs
from stadslab.labs.models import Project

from . import matching, timeutil
from .funding import days_until, get_call, open_calls
from .models import FundingCall

#: Projects that can still use money (a stopped or scaled project is not looking).
SEEKING_STATUSES = ("idea", "pilot", "evaluated")


def project_doc(p: Project) -> matching.Doc:
    text = " ".join([p.title, p.title, p.summary or "", *(lesson.text for lesson in p.lessons),
                     *(k.name for k in p.kpis)])
    return matching.analyse_doc(p.id, text, {t.code for t in p.themes})


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
    seeking = _seeking_projects(session)
    own = [p for p in seeking if p.municipality_code == code]
    if not own:
        return []
    calls = open_calls(session, now)
    call_docs = [call_doc(c) for c in calls]
    by_id = {c.id: c for c in calls}
    project_docs = {p.id: project_doc(p) for p in seeking}
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
