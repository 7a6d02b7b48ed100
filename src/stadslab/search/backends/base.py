"""What both full-text backends share: filters, the facet query and the result shape.

A search runs two statements. The first ranks the match set and returns one
page of document ids. The second materialises the match set once (ids and the
four facet columns, no text) and counts everything from it with UNION ALL:
the filtered total and, per facet, the counts under all *other* filters (so a
user sees what choosing another value would give). Themes are stored as one
space-wrapped string per document; they are counted per distinct combination in
SQL, and the few combinations are split afterwards.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from stadslab.search.text import ParsedQuery

FACETS = ("type", "theme", "city", "status")
_COLUMN = {"type": "doc_type", "city": "city_code", "status": "status"}
#: Only our own analyser output ever reaches a query string; this is the last guard.
SAFE_TOKEN = re.compile(r"[^\W_]+")
DOC_COLUMNS = ("doc_type", "doc_id", "title", "body", "stems", "city_code", "status", "themes", "updated_at")


@dataclass(frozen=True)
class Filters:
    """Within one facet the values are alternatives (OR); across facets all must hold (AND)."""

    types: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def by_facet(self) -> dict[str, tuple[str, ...]]:
        return {"type": self.types, "theme": self.themes, "city": self.cities, "status": self.statuses}


@dataclass
class RawResults:
    total: int
    #: (search_documents.id, score, title_match) in rank order: documents with every
    #: query word in their title first, then by score (higher is better).
    hits: list[tuple[int, float, bool]] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


def safe_forms(forms: Iterable[str]) -> list[str]:
    return [f for f in forms if SAFE_TOKEN.fullmatch(f)]


class SearchBackend(ABC):
    name: str

    # --- dialect pieces -----------------------------------------------------------

    @abstractmethod
    def match_expression(self, query: ParsedQuery) -> str:
        """The dialect's full-text query string, built only from analysed tokens."""

    @abstractmethod
    def title_expression(self, query: ParsedQuery) -> str | None:
        """Matches documents whose title holds every query word (None when the query has no words)."""

    @abstractmethod
    def both(self, a: str, b: str) -> str:
        """Full-text expression matching ``a`` and ``b``."""

    @abstractmethod
    def minus(self, a: str, b: str) -> str:
        """Full-text expression matching ``a`` but not ``b``."""

    @abstractmethod
    def marker_expression(self, marker: str) -> str:
        """A full-text query string for one internal marker token."""

    @abstractmethod
    def _matched_rows_sql(self) -> str:
        """SELECT doc_type, city_code, status, themes of every document matching ``:q``."""

    @abstractmethod
    def _ranked_sql(self, where: str, match: str) -> str:
        """SELECT id, score of documents matching bound ``:<match>`` and ``where``, best first, paged."""

    @abstractmethod
    def _contains_sql(self, column: str, param: str) -> str:
        """True when string ``column`` contains the bound parameter ``param``."""

    @abstractmethod
    def bare_sql(self) -> str:
        """The plainest full-text query on the same data (benchmark baseline): ids LIMIT 20."""

    @abstractmethod
    def upsert(self, session: Session, rows: Sequence[dict]) -> None:
        """Insert or replace documents keyed by (doc_type, doc_id)."""

    @abstractmethod
    def insert_many(self, session: Session, rows: Iterable[dict]) -> int:
        """Insert documents known to be absent, as fast as the dialect allows; returns how many."""

    @abstractmethod
    def delete_marked(self, session: Session, doc_type: str, marker: str) -> None:
        """Delete documents of ``doc_type`` whose stems carry ``marker``."""

    @contextmanager
    def bulk_replace(self, session: Session) -> Iterator[None]:
        """Empty the index; the body refills it with ``insert_many``. In the caller's transaction."""
        session.execute(text("DELETE FROM search_documents"))
        yield

    # --- shared ---------------------------------------------------------------------

    def _filter_clauses(self, filters: Filters, params: dict) -> dict[str, str]:
        clauses: dict[str, str] = {}
        for facet, values in filters.by_facet().items():
            if not values:
                continue
            names = []
            for i, value in enumerate(values):
                name = f"f_{facet}_{i}"
                params[name] = f" {value} " if facet == "theme" else value
                names.append(name)
            if facet == "theme":
                clauses[facet] = "(" + " OR ".join(self._contains_sql("d.themes", n) for n in names) + ")"
            else:
                clauses[facet] = f"d.{_COLUMN[facet]} IN (" + ", ".join(f":{n}" for n in names) + ")"
        return clauses

    @staticmethod
    def _where(clauses: dict[str, str], without: str | None = None) -> str:
        parts = [sql for facet, sql in clauses.items() if facet != without]
        return " AND ".join(parts) if parts else "1 = 1"

    def _ranked(self, session: Session, params: dict, where: str, match: str, limit: int,
                offset: int) -> list[tuple[int, float]]:
        if limit <= 0:
            return []
        rows = session.execute(text(self._ranked_sql(where, match)), {**params, "limit": limit, "offset": offset})
        return [(int(r[0]), float(r[1])) for r in rows]

    def search(self, session: Session, query: ParsedQuery, filters: Filters, *, limit: int,
               offset: int, with_facets: bool = True) -> RawResults:
        """Ranking is tiered: documents with every query word in the title come first.

        Besides being what searchers expect, this bounds the ranking work for very
        common words: the page is usually filled from the (much smaller) title tier,
        so BM25/ts_rank is computed for those documents only. The second tier is
        ranked only when the first runs out.
        """
        full = self.match_expression(query)
        title = self.title_expression(query)
        params: dict = {"q": full}
        clauses = self._filter_clauses(filters, params)
        where = self._where(clauses)
        if title is None:
            hits = [(i, s, False) for i, s in self._ranked(session, params, where, "q", limit, offset)]
        else:
            params["tq"] = self.both(full, title)
            params["rq"] = self.minus(full, title)
            want = offset + limit
            tier1 = self._ranked(session, params, where, "tq", want, 0)
            hits = [(i, s, True) for i, s in tier1[offset:]]
            if len(tier1) < want:
                rest = self._ranked(session, params, where, "rq", limit - len(hits), max(0, offset - len(tier1)))
                hits += [(i, s, False) for i, s in rest]

        parts = [f"SELECT 'total' AS facet, NULL AS value, count(*) AS n FROM m AS d WHERE {self._where(clauses)}"]
        for facet in FACETS if with_facets else ():
            column = "themes" if facet == "theme" else _COLUMN[facet]
            parts.append(f"SELECT '{facet}', d.{column}, count(*) FROM m AS d "
                         f"WHERE {self._where(clauses, without=facet)} GROUP BY d.{column}")
        sql = f"WITH m AS MATERIALIZED ({self._matched_rows_sql()}) " + " UNION ALL ".join(parts)
        total = 0
        facets: dict[str, dict[str, int]] = {f: {} for f in FACETS}
        for facet, value, n in session.execute(text(sql), params):
            if facet == "total":
                total = int(n)
            elif value is None:
                continue
            elif facet == "theme":
                for code in value.split():
                    facets["theme"][code] = facets["theme"].get(code, 0) + int(n)
            else:
                facets[facet][value] = int(n)
        for facet in FACETS:
            facets[facet] = dict(sorted(facets[facet].items(), key=lambda kv: (-kv[1], kv[0])))
        return RawResults(total=total, hits=hits, facets=facets)

    def bare(self, session: Session, query: ParsedQuery) -> list[int]:
        return [int(r[0]) for r in session.execute(text(self.bare_sql()), {"q": self.match_expression(query)})]
