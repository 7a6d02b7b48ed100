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
from collections.abc import Iterable, Sequence
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
    #: (search_documents.id, score) in rank order; a higher score is a better match.
    hits: list[tuple[int, float]] = field(default_factory=list)
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
    def marker_expression(self, marker: str) -> str:
        """A full-text query string for one internal marker token."""

    @abstractmethod
    def _matched_rows_sql(self) -> str:
        """SELECT doc_type, city_code, status, themes of every document matching ``:q``."""

    @abstractmethod
    def _ranked_sql(self, where: str) -> str:
        """SELECT id, score of matching documents passing ``where``, best first, paged."""

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
    def insert_many(self, session: Session, rows: Sequence[dict]) -> None:
        """Insert documents known to be absent, as fast as the dialect allows."""

    @abstractmethod
    def delete_marked(self, session: Session, doc_type: str, marker: str) -> None:
        """Delete documents of ``doc_type`` whose stems carry ``marker``."""

    def clear(self, session: Session) -> None:
        session.execute(text("DELETE FROM search_documents"))

    def prepare_bulk(self, session: Session, expected_rows: int) -> None:
        """Called before a large ``insert_many`` into an empty index."""

    def finish_bulk(self, session: Session) -> None:
        """Called after the large load announced by ``prepare_bulk``."""

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

    def search(self, session: Session, query: ParsedQuery, filters: Filters, *, limit: int,
               offset: int) -> RawResults:
        params: dict = {"q": self.match_expression(query)}
        clauses = self._filter_clauses(filters, params)
        hits = [(int(r[0]), float(r[1])) for r in session.execute(
            text(self._ranked_sql(self._where(clauses))), {**params, "limit": limit, "offset": offset})]

        parts = [f"SELECT 'total' AS facet, NULL AS value, count(*) AS n FROM m AS d WHERE {self._where(clauses)}"]
        for facet in FACETS:
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
