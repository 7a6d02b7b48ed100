"""API shapes of search results."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchItemOut(BaseModel):
    type: str = Field(description="project, living_lab, solution, coalition or lesson")
    id: int
    title: str
    title_html: str = Field(description="HTML-escaped title; matched words in <mark>")
    snippet: str = Field(description="HTML-escaped excerpt; matched words in <mark>")
    city_code: str | None
    status: str | None
    themes: list[str]
    score: float = Field(description="Relevance in [0, 2), higher is better: results with every query word "
                                     "in the title score 1 or more and come first")
    url: str
    title_match: bool = Field(False, description="Every query word is in the title; such results come first")
    project_id: int | None = Field(None, description="For lessons: the project they belong to")


class FacetValue(BaseModel):
    value: str
    label: str
    count: int


class SearchResponse(BaseModel):
    query: str
    terms: list[str] = Field(description="Words and quoted phrases searched for, after dropping stopwords")
    total: int = Field(description="Number of matches; an estimate when total_is_estimate is true")
    total_is_estimate: bool = Field(
        False, description="True for very large match sets: total is then estimated from a deterministic "
                           "1-in-16 sample of the index (and never below what the returned page proves)")
    limit: int
    offset: int
    items: list[SearchItemOut]
    facets: dict[str, list[FacetValue]] = Field(
        description="Counts over the whole match set per type, theme, city and status; "
                    "each facet applies every filter except its own; estimates when facets_estimated is true")
    facets_estimated: bool = Field(
        False, description="True for very large match sets: facet counts are then estimated from a "
                           "deterministic 1-in-16 sample, and values absent from the sample are not listed")
    note: str | None = None
    next: str | None = None
    previous: str | None = None
