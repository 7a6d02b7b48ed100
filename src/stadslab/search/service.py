"""Searching the knowledge base: validation, ranking, facets and snippets.

``search`` is the one entry point for the API, the web pages and the CLI. The
query is analysed in Python (``search.text``); the database only ever sees our
own tokens as a bound parameter. Facets count the whole match set in SQL,
each under every filter except its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import get_args

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from stadslab.core.errors import ValidationFailed, field_error
from stadslab.labs.models import LAB_STATUSES, PROJECT_STATUSES, Lesson
from stadslab.labs.schemas import Maturity
from stadslab.network.models import Municipality, Theme
from stadslab.search import snippets
from stadslab.search.backends import Filters, backend_for
from stadslab.search.models import DOC_TYPES, SearchDocument, SearchThemeBit
from stadslab.search.text import ParsedQuery, parse_query

MAX_QUERY_LENGTH = 500
MAX_TERMS = 32
MAX_LIMIT = 100
MAX_OFFSET = 10_000
MAX_FILTER_VALUES = 50
LANGUAGES = ("nl", "en")
#: Statuses of every document type (solutions report their maturity as status).
STATUSES = tuple(dict.fromkeys([*PROJECT_STATUSES, *LAB_STATUSES, "active", "closed", *get_args(Maturity)]))
TYPE_LABELS = {
    "nl": {"project": "Project", "living_lab": "Living lab", "solution": "Oplossing", "coalition": "Coalitie",
           "lesson": "Les"},
    "en": {"project": "Project", "living_lab": "Living lab", "solution": "Solution", "coalition": "Coalition",
           "lesson": "Lesson"},
}
_URL = {"project": "/api/v1/projects/{id}", "living_lab": "/api/v1/living-labs/{id}",
        "solution": "/api/v1/solutions/{id}", "coalition": "/api/v1/coalitions/{id}"}


@dataclass
class SearchItem:
    type: str
    id: int
    title: str
    #: Escaped title with hits in <mark>.
    title_html: str
    #: Escaped excerpt of the body with hits in <mark>.
    snippet: str
    city_code: str | None
    status: str | None
    themes: list[str]
    score: float
    url: str
    #: Every query word occurs in the title: such results come first, whatever their score.
    title_match: bool = False
    #: For lessons: the project they belong to.
    project_id: int | None = None


@dataclass
class SearchResults:
    query: str
    #: The words and "phrases" actually searched for (after dropping stopwords).
    terms: list[str]
    total: int
    limit: int
    offset: int
    items: list[SearchItem] = field(default_factory=list)
    #: ``total`` is estimated from a sample (very large match sets); it is never
    #: below what the returned page proves to exist.
    total_is_estimate: bool = False
    #: The facet counts are estimated from a sample (very large match sets).
    facets_estimated: bool = False
    #: facet → value → count, most frequent first; keys: type, theme, city, status.
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    #: facet → value → human label in the requested language.
    facet_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Set when nothing could be searched for, to tell the user why there are no results.
    note: str | None = None


def _fail(loc: str, msg: str) -> ValidationFailed:
    return ValidationFailed(f"{loc}: {msg}", errors=[field_error(["query", loc], msg)])


def _values(name: str, values, allowed, *, normalise=str.strip) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(normalise(str(v)) for v in (values or ()) if str(v).strip()))
    if len(out) > MAX_FILTER_VALUES:
        raise _fail(name, f"at most {MAX_FILTER_VALUES} values")
    unknown = [v for v in out if v not in allowed]
    if unknown:
        shown = ", ".join(sorted(allowed)) if len(allowed) <= 20 else "see /api/v1/" + (
            "municipalities" if name == "city" else "themes")
        raise _fail(name, f"unknown value {unknown[0][:60]!r}; allowed: {shown}")
    return out


def validate_query(query: str | None) -> ParsedQuery:
    if query is None or not query.strip():
        raise _fail("q", "enter one or more words to search for")
    if len(query) > MAX_QUERY_LENGTH:
        raise _fail("q", f"at most {MAX_QUERY_LENGTH} characters (got {len(query)})")
    parsed = parse_query(query)
    if parsed.size > MAX_TERMS:
        raise _fail("q", f"at most {MAX_TERMS} different words")
    return parsed


def search(session: Session, query: str, *, types=None, themes=None, cities=None, statuses=None,
           limit: int = 20, offset: int = 0, lang: str = "nl", with_facets: bool = True) -> SearchResults:
    """Search the knowledge base; ``with_facets=False`` skips the facet counts.

    Totals and facets are exact unless the match set is very large; then they are
    estimated from a deterministic sample and ``total_is_estimate`` /
    ``facets_estimated`` say so (see docs/search.md).

    Raises ``ValidationFailed`` (422) naming the offending argument for bad input.
    """
    parsed = validate_query(query)
    if lang not in LANGUAGES:
        raise _fail("lang", f"unknown language {lang!r}; allowed: {', '.join(LANGUAGES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise _fail("limit", f"must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise _fail("offset", f"must be between 0 and {MAX_OFFSET}")
    theme_names, bits = _themes(session)
    chosen_themes = _values("theme", themes, theme_names)
    filters = Filters(
        types=_values("type", types, DOC_TYPES),
        themes=chosen_themes,
        cities=_values("city", cities, _known_cities(session, cities), normalise=lambda v: v.strip().upper()),
        statuses=_values("status", statuses, STATUSES, normalise=lambda v: v.strip().lower()),
        theme_mask=sum(1 << bits[c] for c in chosen_themes if c in bits),
    )
    results = SearchResults(query=query, terms=parsed.describe(), total=0, limit=limit, offset=offset,
                            facets={"type": {}, "theme": {}, "city": {}, "status": {}})
    if parsed.empty:
        results.note = "No searchable words: the query has only punctuation or very common words."
        results.facet_labels = _labels(session, results.facets, theme_names, lang)
        return results

    raw = backend_for(session).search(session, parsed, filters, limit=limit, offset=offset,
                                      with_facets=with_facets, by_bit={b: c for c, b in bits.items()})
    results.total = raw.total
    results.total_is_estimate = raw.total_is_estimate
    results.facets_estimated = raw.facets_estimated
    results.facets = raw.facets
    results.items = _items(session, raw.hits, parsed)
    results.facet_labels = _labels(session, raw.facets, theme_names, lang, city_names=raw.city_names)
    return results


def _themes(session: Session) -> tuple[dict[str, tuple[str, str]], dict[str, int]]:
    """Theme names (code → (nl, en)) and theme bits (code → bit), in one round trip."""
    T, B = Theme.__table__, SearchThemeBit.__table__
    names, bits = {}, {}
    stmt = select(func.coalesce(T.c.code, B.c.code), T.c.name_nl, T.c.name_en, B.c.bit).select_from(
        T.join(B, B.c.code == T.c.code, full=True))
    for code, nl, en, bit in session.execute(stmt):
        if nl is not None:
            names[code] = (nl, en)
        if bit is not None:
            bits[code] = bit
    return names, bits


_CITY_CODE = re.compile(r"GM\d{4}")


def _known_cities(session: Session, cities) -> set[str]:
    """The requested codes that exist; only well-formed codes are ever sent to the database."""
    wanted = {str(c).strip().upper() for c in (cities or ()) if str(c).strip()}
    wanted = {c for c in wanted if _CITY_CODE.fullmatch(c)}
    if not wanted or len(wanted) > MAX_FILTER_VALUES:
        return wanted
    return set(session.scalars(select(Municipality.code).where(Municipality.code.in_(wanted))))


def _items(session: Session, hits: list[tuple[int, float, bool]], parsed: ParsedQuery) -> list[SearchItem]:
    if not hits:
        return []
    D, L = SearchDocument.__table__, Lesson.__table__
    rows = {r.id: r for r in session.execute(
        select(D.c.id, D.c.doc_type, D.c.doc_id, D.c.title, D.c.body, D.c.city_code, D.c.status, D.c.themes,
               L.c.project_id)
        .select_from(D.outerjoin(L, and_(D.c.doc_type == "lesson", L.c.id == D.c.doc_id)))
        .where(D.c.id.in_([h[0] for h in hits])))}
    parents = {r.doc_id: r.project_id for r in rows.values() if r.doc_type == "lesson" and r.project_id}
    forms = parsed.highlight_forms()
    items = []
    for doc_id, score, title_match in hits:
        r = rows.get(doc_id)
        if r is None:
            continue
        project_id = parents.get(r.doc_id) if r.doc_type == "lesson" else None
        if r.doc_type == "lesson":
            url = f"/api/v1/projects/{project_id}#lesson-{r.doc_id}" if project_id else ""
        else:
            url = _URL[r.doc_type].format(id=r.doc_id)
        items.append(SearchItem(
            type=r.doc_type, id=r.doc_id, title=r.title, title_html=snippets.highlight(r.title, forms),
            snippet=snippets.snippet(r.body, forms), city_code=r.city_code, status=r.status,
            themes=(r.themes or "").split(), score=round(score, 6), url=url, title_match=title_match,
            project_id=project_id))
    return items


def _labels(session: Session, facets: dict[str, dict[str, int]], theme_names: dict, lang: str, *,
            city_names: dict[str, str] | None = None) -> dict:
    """Human labels; city names mostly come with the counts, the rest are looked up."""
    pick = 0 if lang == "nl" else 1
    known = dict(city_names or {})
    missing = set(facets.get("city", {})) - known.keys()
    if missing:
        known.update(session.execute(select(Municipality.code, Municipality.name)
                                     .where(Municipality.code.in_(missing))).all())
    city_names = known
    return {
        "type": {v: TYPE_LABELS[lang].get(v, v) for v in facets.get("type", {})},
        "theme": {v: theme_names[v][pick] if v in theme_names else v for v in facets.get("theme", {})},
        "city": {v: city_names.get(v, v) for v in facets.get("city", {})},
        "status": {v: v for v in facets.get("status", {})},
    }
