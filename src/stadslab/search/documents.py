"""What a registry record looks like as a search document.

Each builder takes plain values so that the same code serves single writes
(from ORM objects) and bulk rebuilds (from Core rows). ``title`` and ``body``
are what a searcher sees (the snippet is cut from the body); ``context`` is
searchable but not shown: the city's name, theme names in both languages,
partner names and similar words people search with.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from stadslab.core.database import utcnow
from stadslab.search.text import PARENT_PREFIX, stems_for, title_stems_for

TITLE_MAX = 300
STATUS_MAX = 20


def parent_marker(project_id: int) -> str:
    """The token that ties a lesson document to its project, for removing stale lessons."""
    return f"{PARENT_PREFIX}{project_id}"


def themes_field(codes: Iterable[str]) -> str:
    codes = sorted(set(codes))
    return f" {' '.join(codes)} " if codes else ""


def flatten_text(value: Any) -> str:
    """Strings found anywhere in a JSON value (lists of exemptions, infrastructure codes)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(flatten_text(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return " ".join(flatten_text(v) for v in value)
    return ""


def _row(doc_type: str, doc_id: int, title: str, body: str, *, context: str, city_code: str | None,
         status: str | None, themes: str, updated_at: datetime | None, markers: tuple[str, ...] = (),
         index_title: bool = True) -> dict:
    title = (title or "").strip()
    body = body or ""
    return {
        "doc_type": doc_type, "doc_id": doc_id, "title": title[:TITLE_MAX], "body": body,
        "stems": stems_for(title=title if index_title else "", body=body, context=context, markers=markers),
        "title_stems": title_stems_for(title) if index_title else "",
        "city_code": city_code, "status": (status or None) and status[:STATUS_MAX], "themes": themes,
        "updated_at": updated_at or utcnow(),
    }


def _context(*parts: Any) -> str:
    return " ".join(flatten_text(p) for p in parts if p)


def project_row(*, id: int, title: str, summary: str, city_code: str, status: str | None,
                updated_at: datetime | None, city_name: str | None, lab_name: str | None,
                theme_codes: Iterable[str], theme_names: Iterable[str], kpi_names: Iterable[str],
                partner_names: Iterable[str]) -> dict:
    return _row("project", id, title, summary,
                context=_context(city_name, lab_name, list(theme_names), list(kpi_names), list(partner_names)),
                city_code=city_code, status=status, themes=themes_field(theme_codes), updated_at=updated_at)


def lesson_row(*, id: int, text: str, project_id: int, project_title: str, city_code: str,
               status: str | None, themes: str, updated_at: datetime | None, city_name: str | None) -> dict:
    # The project title is shown as the lesson's heading but not indexed: otherwise a
    # search for a project's name would list every one of its lessons too.
    return _row("lesson", id, project_title, text, context=_context(city_name), city_code=city_code,
                status=status, themes=themes, updated_at=updated_at,
                markers=(parent_marker(project_id),), index_title=False)


def living_lab_row(*, id: int, name: str, description: str, city_code: str, status: str | None,
                   updated_at: datetime | None, city_name: str | None, theme_codes: Iterable[str],
                   theme_names: Iterable[str], infrastructure: Any, exemptions: Any) -> dict:
    return _row("living_lab", id, name, description,
                context=_context(city_name, list(theme_names), infrastructure, exemptions),
                city_code=city_code, status=status, themes=themes_field(theme_codes), updated_at=updated_at)


def solution_row(*, id: int, name: str, description: str, maturity: str | None, updated_at: datetime | None,
                 origin_city_code: str | None, origin_title: str | None, provider_name: str | None,
                 theme_codes: Iterable[str], theme_names: Iterable[str],
                 adopter_city_names: Iterable[str]) -> dict:
    # A solution belongs to no city; its origin project's city is the most useful facet value.
    return _row("solution", id, name, description,
                context=_context(origin_title, provider_name, list(theme_names), list(adopter_city_names)),
                city_code=origin_city_code, status=maturity, themes=themes_field(theme_codes),
                updated_at=updated_at)


def coalition_row(*, id: int, title: str, question: str, description: str, lead_city_code: str,
                  status: str | None, updated_at: datetime | None, city_names: Iterable[str],
                  organisation_names: Iterable[str], theme_codes: Iterable[str],
                  theme_names: Iterable[str]) -> dict:
    body = "\n\n".join(p for p in (question, description) if p)
    return _row("coalition", id, title, body,
                context=_context(list(city_names), list(organisation_names), list(theme_names)),
                city_code=lead_city_code, status=status, themes=themes_field(theme_codes),
                updated_at=updated_at)
