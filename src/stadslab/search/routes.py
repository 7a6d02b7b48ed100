"""GET /api/v1/search: full-text search over the knowledge base."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from stadslab.core.database import get_session
from stadslab.search import service
from stadslab.search.schemas import FacetValue, SearchResponse

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchResponse, summary="Search projects, labs, solutions, coalitions and lessons")
def search(request: Request,
           q: str | None = Query(None, description="Words to find (all must match); \"quoted words\" as a phrase"),
           type: list[str] = Query([], description="Filter by type (repeatable)"),
           theme: list[str] = Query([], description="Filter by theme code (repeatable)"),
           city: list[str] = Query([], description="Filter by municipality code, e.g. GM0363 (repeatable)"),
           status: list[str] = Query([], description="Filter by status (repeatable)"),
           limit: int = Query(20, description=f"Page size, 1–{service.MAX_LIMIT}"),
           offset: int = Query(0, description="Number of results to skip"),
           lang: str = Query("nl", description="Language of facet labels: nl or en"),
           session: Session = Depends(get_session)) -> SearchResponse:
    res = service.search(session, q, types=type, themes=theme, cities=city, statuses=status,
                         limit=limit, offset=offset, lang=lang)
    facets = {name: [FacetValue(value=v, label=res.facet_labels.get(name, {}).get(v, v), count=n)
                     for v, n in counts.items()]
              for name, counts in res.facets.items()}
    nxt = prev = None
    if offset + limit < res.total:
        nxt = str(request.url.include_query_params(offset=offset + limit, limit=limit))
    if offset > 0:
        prev = str(request.url.include_query_params(offset=max(0, offset - limit), limit=limit))
    return SearchResponse(query=res.query, terms=res.terms, total=res.total,
                          total_is_estimate=res.total_is_estimate, limit=res.limit, offset=res.offset,
                          items=[asdict(i) for i in res.items], facets=facets,
                          facets_estimated=res.facets_estimated, note=res.note, next=nxt, previous=prev)
