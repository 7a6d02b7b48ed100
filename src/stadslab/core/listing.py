"""Stable pagination, sorting and the list envelope used by every list endpoint.

Paging is offset based but always ordered with the primary key as final tie
breaker, so that a page boundary never duplicates or skips a row while the
data stays the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .errors import BadRequest

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next: str | None = None
    previous: str | None = None


@dataclass
class ListParams:
    limit: int
    offset: int
    sort: str | None


def list_params(request: Request,
                limit: int | None = Query(None, ge=1, description="Page size"),
                offset: int = Query(0, ge=0, description="Number of items to skip"),
                sort: str | None = Query(None, description="Sort key, prefix with - for descending")) -> ListParams:
    settings = request.app.state.settings
    size = limit or settings.page_size_default
    if size > settings.page_size_max:
        raise BadRequest(f"limit may be at most {settings.page_size_max}",
                         errors=[{"loc": ["query", "limit"], "field": "query.limit",
                                  "msg": f"at most {settings.page_size_max}"}])
    return ListParams(limit=size, offset=offset, sort=sort)


def apply_sort(stmt: Select, sort: str | None, columns: dict[str, Any], pk: Any, default: str) -> Select:
    key = sort or default
    desc = key.startswith("-")
    name = key.lstrip("-+")
    if name not in columns:
        allowed = ", ".join(sorted(columns))
        raise BadRequest(f"Cannot sort by '{name}'. Allowed: {allowed}",
                         errors=[{"loc": ["query", "sort"], "field": "query.sort",
                                  "msg": f"unknown sort key '{name}'"}])
    col = columns[name]
    return stmt.order_by(col.desc() if desc else col.asc(), pk.desc() if desc else pk.asc())


def paginate(session: Session, stmt: Select, params: ListParams) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(session.scalars(stmt.limit(params.limit).offset(params.offset)).unique())
    return rows, total


def page_links(request: Request, params: ListParams, total: int) -> tuple[str | None, str | None]:
    nxt = prev = None
    if params.offset + params.limit < total:
        nxt = str(request.url.include_query_params(offset=params.offset + params.limit, limit=params.limit))
    if params.offset > 0:
        prev = str(request.url.include_query_params(offset=max(0, params.offset - params.limit),
                                                    limit=params.limit))
    return nxt, prev


def make_page(request: Request, params: ListParams, items: list, total: int) -> dict[str, Any]:
    nxt, prev = page_links(request, params, total)
    return {"items": items, "total": total, "limit": params.limit, "offset": params.offset,
            "next": nxt, "previous": prev}


@dataclass
class RegistryFilters:
    """The filters every registry list understands: city, theme, status, text, modified since."""

    city: list[str]
    theme: list[str]
    status: list[str]
    q: str | None
    modified_since: Any


def registry_filters(
    city: list[str] = Query([], description="CBS code (GM0363) or municipality name; repeatable"),
    theme: list[str] = Query([], description="Theme code; repeatable"),
    status: list[str] = Query([], description="Status; repeatable"),
    q: str | None = Query(None, max_length=200, description="Text contained in name/title or description"),
    modified_since: datetime | None = Query(None, description="Only items changed at or after this time"),
) -> RegistryFilters:
    return RegistryFilters(city=city, theme=theme, status=status, q=(q or "").strip() or None,
                           modified_since=modified_since)


def like_pattern(text: str) -> str:
    """A LIKE pattern that matches ``text`` literally (escapes % and _ with backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
