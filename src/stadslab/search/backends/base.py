"""What both full-text backends share: filters, counting, the result shape.

A search ranks one page of document ids (tiered: documents with every query
word in the title first) and counts the total and four facets, each facet
under every filter except its own (so a user sees what choosing another value
would give). Counting never reads the wide document rows: it reads the four
narrow facet columns (``doc_type``, ``city_code``, ``status``, ``themes_mask``)
of the match set, through an index on SQLite and a narrow table on PostgreSQL.

Counting is exact while the match set (before facet filters) is at most the
backend's ``exact_limit``. Past that, counting every match would dominate the
response time for a 20-row page, so the total and the facets are estimated
from a fixed, deterministic sample: the documents whose id is a multiple of
``SAMPLE_EVERY``, each counted ``SAMPLE_EVERY`` times. Results then say so
(``total_is_estimate``, ``facets_estimated``); see docs/search.md.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from stadslab.search.text import ParsedQuery, Term
from stadslab.search.themebits import codes_of

FACETS = ("type", "theme", "city", "status")
_COLUMN = {"type": "doc_type", "city": "city_code", "status": "status", "theme": "themes_mask"}
#: Only our own analyser output ever reaches a query string; this is the last guard.
SAFE_TOKEN = re.compile(r"[^\W_]+")
DOC_COLUMNS = ("doc_type", "doc_id", "title", "body", "stems", "city_code", "status", "themes",
               "themes_mask", "title_stems", "updated_at")
#: The estimate sample: documents whose id is a multiple of this (migration 0009 uses the same number).
SAMPLE_EVERY = 16


@dataclass(frozen=True)
class Filters:
    """Within one facet the values are alternatives (OR); across facets all must hold (AND).

    ``theme_mask`` holds the bits of the chosen themes (``themebits``); a chosen
    theme that no document has ever carried has no bit, so ``themes`` can be
    non-empty while the mask is 0: then nothing matches, as it should.
    """

    types: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    theme_mask: int = 0

    def by_facet(self) -> dict[str, tuple[str, ...]]:
        return {"type": self.types, "theme": self.themes, "city": self.cities, "status": self.statuses}


@dataclass
class RawResults:
    total: int
    #: (search_documents.id, score, title_match) in rank order: documents with every
    #: query word in their title first, then by score (higher is better).
    hits: list[tuple[int, float, bool]] = field(default_factory=list)
    #: facet → value → count; theme values are codes.
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    #: ``total`` is a sample estimate (never below what the returned page proves).
    total_is_estimate: bool = False
    #: The facet counts are sample estimates.
    facets_estimated: bool = False
    #: Names of the cities in the city facet (read with the counts).
    city_names: dict[str, str] = field(default_factory=dict)


@dataclass
class _Counts:
    total: int = 0
    #: Matches before any filter: what exact counting would have to read.
    unfiltered: int = 0
    #: Documents a phrase check must read (phrases loosened to their words); None: the matches.
    candidates: int | None = None
    facets: dict[str, dict] = field(default_factory=lambda: {f: {} for f in FACETS})
    city_names: dict[str, str] = field(default_factory=dict)


def safe_forms(forms: Iterable[str]) -> list[str]:
    return [f for f in forms if SAFE_TOKEN.fullmatch(f)]


def relaxed(query: ParsedQuery) -> ParsedQuery:
    """The query with each phrase loosened to its words: the candidates a phrase check must read."""
    terms = list(query.terms) + [Term(s, (s,)) for p in query.phrases for s in p.stems]
    return ParsedQuery(terms=terms)


class SearchBackend(ABC):
    name: str
    #: Match sets (before facet filters) up to this size are counted exactly.
    exact_limit: int = 10_000
    #: Whether phrase candidates (not just matches) decide the cost of exact counting.
    phrase_cost_is_candidates: bool = False

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
    def _facet_rows_sql(self, sample: bool, param: str = "q") -> str:
        """SELECT doc_type, city_code, status, themes_mask (aliased ``d``) of the documents
        matching bound ``:<param>``; only those of the estimate sample when ``sample``."""

    @abstractmethod
    def _ranked_sql(self, where: str, match: str) -> str:
        """SELECT id, score in [0, 1) of documents matching bound ``:<match>`` and ``where``, best
        first, paged. Title-tier scores get 1 added, so scores fall down the whole result list."""

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

    # --- ranking --------------------------------------------------------------------

    def _ranked(self, session: Session, params: dict, where: str, match: str, limit: int,
                offset: int) -> list[tuple[int, float]]:
        if limit <= 0:
            return []
        rows = session.execute(text(self._ranked_sql(where, match)), {**params, "limit": limit, "offset": offset})
        return [(int(r[0]), float(r[1])) for r in rows]

    def _title_tier_sql(self, query: ParsedQuery, params: dict, where: str) -> str:
        """SELECT id, score in [0, 1) of the documents with every query word in the title (and
        matching the whole query), best first, paged by ``:limit``/``:offset``; may add params."""
        return self._ranked_sql(where, "tq")

    # --- filters --------------------------------------------------------------------

    def _filter_clauses(self, filters: Filters, params: dict) -> dict[str, str]:
        clauses: dict[str, str] = {}
        for facet, values in filters.by_facet().items():
            if not values:
                continue
            if facet == "theme":
                params["f_theme"] = filters.theme_mask
                clauses[facet] = "(d.themes_mask & :f_theme) <> 0"
                continue
            names = []
            for i, value in enumerate(values):
                name = f"f_{facet}_{i}"
                params[name] = value
                names.append(name)
            clauses[facet] = f"d.{_COLUMN[facet]} IN (" + ", ".join(f":{n}" for n in names) + ")"
        return clauses

    @staticmethod
    def _where(clauses: dict[str, str], without: str | None = None) -> str:
        parts = [sql for facet, sql in clauses.items() if facet != without]
        return " AND ".join(parts) if parts else "1 = 1"

    # --- the search -----------------------------------------------------------------

    def search(self, session: Session, query: ParsedQuery, filters: Filters, *, limit: int,
               offset: int, with_facets: bool = True, by_bit: Mapping[int, str] | None = None) -> RawResults:
        """Ranking is tiered: documents with every query word in the title come first.

        Besides being what searchers expect, this bounds the ranking work for very
        common words: the page is usually filled from the (much smaller) title tier.
        The second tier is ranked only when the first runs out.
        """
        full = self.match_expression(query)
        title = self.title_expression(query)
        params: dict = {"q": full}
        clauses = self._filter_clauses(filters, params)
        where = self._where(clauses)
        want = offset + limit
        if title is None:
            first_sql, params["limit"], params["offset"] = self._ranked_sql(where, "q"), limit, offset
        else:
            params["tq"] = self.both(full, title)
            params["rq"] = self.minus(full, title)
            first_sql, params["limit"], params["offset"] = self._title_tier_sql(query, params, where), want, 0
        # One round trip for the first ranking and the sample counts: under load every
        # round trip waits for the database process to be scheduled again.
        first, sample = self._rank_and_count(session, query, first_sql, params, clauses, with_facets)
        if title is None:
            hits = [(i, s, False) for i, s in first]
        else:
            hits = [(i, 1.0 + s, True) for i, s in first[offset:]]
            if len(first) < want:
                rest = self._ranked(session, params, where, "rq", limit - len(hits), max(0, offset - len(first)))
                hits += [(i, s, False) for i, s in rest]
        counts, estimated = self._decide(session, query, sample, params, clauses, with_facets)
        total, total_is_estimate = counts.total, estimated
        if len(hits) < limit and (hits or offset == 0):
            # A page that is not full shows where the match set ends: the total is known.
            total, total_is_estimate = offset + len(hits), False
        elif estimated:
            total = max(total, offset + len(hits) + (1 if len(hits) == limit else 0))
        facets = {f: {} for f in FACETS}
        for facet in FACETS if with_facets else ():
            values = counts.facets[facet]
            if facet == "theme":
                values = self._theme_counts(values, by_bit or {})
            facets[facet] = dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
        return RawResults(total=total, hits=hits, facets=facets, total_is_estimate=total_is_estimate,
                          facets_estimated=estimated and with_facets, city_names=counts.city_names)

    @staticmethod
    def _theme_counts(by_mask: dict[int, int], by_bit: Mapping[int, str]) -> dict[str, int]:
        """Counts per distinct theme combination, split into counts per theme code."""
        out: dict[str, int] = {}
        for mask, n in by_mask.items():
            for code in codes_of(mask, by_bit):
                out[code] = out.get(code, 0) + n
        return out

    def _rank_and_count(self, session: Session, query: ParsedQuery, rank_sql: str, params: dict,
                        clauses: dict[str, str], with_facets: bool) -> tuple[list[tuple[int, float]], _Counts]:
        """The first ranked page and the counts over the estimate sample, in one statement."""
        relax = self.phrase_cost_is_candidates and bool(query.phrases)
        if relax:
            params["cq"] = self.match_expression(relaxed(query))
        count_sql = self._count_sql(clauses, with_facets, sample=True, candidates=relax)
        sql = count_sql.replace(" SELECT 'all' AS facet", " SELECT 'hit' AS facet, CAST(r.id AS TEXT) AS value, "
                                f"r.score AS n, NULL AS label FROM ({rank_sql}) AS r UNION ALL SELECT 'all'", 1)
        rows = session.execute(text(sql), params).all()
        hits = sorted(((int(v), float(n)) for f, v, n, _label in rows if f == "hit"), key=lambda h: (-h[1], h[0]))
        return hits, self._read_counts(r for r in rows if r[0] != "hit")

    def _decide(self, session: Session, query: ParsedQuery, sample: _Counts, params: dict,
                clauses: dict[str, str], with_facets: bool) -> tuple[_Counts, bool]:
        """(counts, estimated): exact when the match set is small enough, else the scaled sample."""
        cost = sample.unfiltered if sample.candidates is None else sample.candidates
        if cost * SAMPLE_EVERY <= self.exact_limit:
            sql = self._count_sql(clauses, with_facets, sample=False)
            return self._read_counts(session.execute(text(sql), params)), False
        scaled = _Counts(total=sample.total * SAMPLE_EVERY, unfiltered=sample.unfiltered * SAMPLE_EVERY,
                         city_names=sample.city_names)
        for facet, values in sample.facets.items():
            scaled.facets[facet] = {v: n * SAMPLE_EVERY for v, n in values.items()}
        return scaled, True

    def _count_sql(self, clauses: dict[str, str], with_facets: bool, *, sample: bool,
                   candidates: bool = False) -> str:
        """Total and facets over the match set (or the sample) as rows (facet, value, n, label);
        with ``candidates``, also the size of the relaxed query ``:cq`` (phrases loosened to their
        words). Cities carry their name as label, saving a look-up afterwards."""
        parts = ["SELECT 'all' AS facet, NULL AS value, count(*) AS n, NULL AS label FROM m AS d",
                 f"SELECT 'total', NULL, count(*), NULL FROM m AS d WHERE {self._where(clauses)}"]
        if candidates:
            parts.append(f"SELECT 'cand', NULL, count(*), NULL FROM ({self._facet_rows_sql(sample, 'cq')}) AS c")
        for facet in FACETS if with_facets else ():
            column = _COLUMN[facet]
            value = f"CAST(d.{column} AS TEXT)" if facet == "theme" else f"d.{column}"
            label = ("(SELECT mu.name FROM municipalities AS mu WHERE mu.code = d.city_code)"
                     if facet == "city" else "NULL")
            parts.append(f"SELECT '{facet}', {value}, count(*), {label} FROM m AS d "
                         f"WHERE {self._where(clauses, without=facet)} GROUP BY d.{column}")
        return f"WITH m AS MATERIALIZED ({self._facet_rows_sql(sample)}) " + " UNION ALL ".join(parts)

    @staticmethod
    def _read_counts(rows) -> _Counts:
        out = _Counts()
        for facet, value, n, label in rows:
            if facet == "all":
                out.unfiltered = int(n)
            elif facet == "cand":
                out.candidates = int(n)
            elif facet == "total":
                out.total = int(n)
            elif value is not None:
                out.facets[facet][int(value) if facet == "theme" else value] = int(n)
                if label is not None:
                    out.city_names[value] = label
        return out

    def bare(self, session: Session, query: ParsedQuery) -> list[int]:
        return [int(r[0]) for r in session.execute(text(self.bare_sql()), {"q": self.match_expression(query)})]
