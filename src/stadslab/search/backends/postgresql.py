"""PostgreSQL full-text search: the generated ``tsv`` column (``to_tsvector('simple', stems)``).

The 'simple' configuration only lower-cases, so the lexemes are exactly our
stems. The tsquery text is built from analysed tokens, each a quoted lexeme,
combined with ``|``, ``&`` and ``<->``, and passed as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from stadslab.search.models import SearchDocument
from stadslab.search.text import TITLE_PREFIX, ParsedQuery

from .base import DOC_COLUMNS, SearchBackend, safe_forms


def _lexeme(token: str) -> str:
    return "'" + token.replace("'", "''") + "'"


class PostgreSQLBackend(SearchBackend):
    name = "postgresql"

    def match_expression(self, query: ParsedQuery) -> str:
        clauses = []
        for term in query.terms:
            forms = safe_forms(term.forms)
            if forms:
                alternatives = [*forms, *(TITLE_PREFIX + f for f in forms)]
                clauses.append("(" + " | ".join(_lexeme(f) for f in alternatives) + ")")
        for phrase in query.phrases:
            stems = safe_forms(phrase.stems)
            if stems:
                clauses.append("(" + " <-> ".join(_lexeme(s) for s in stems) + ")")
        if not clauses:
            raise ValueError("query has no searchable words")
        return " & ".join(clauses)

    def title_expression(self, query: ParsedQuery) -> str | None:
        clauses = []
        for term in query.terms:
            forms = safe_forms(term.forms)
            if forms:
                clauses.append("(" + " | ".join(_lexeme(TITLE_PREFIX + f) for f in forms) + ")")
        return " & ".join(clauses) if clauses else None

    def both(self, a: str, b: str) -> str:
        return f"({a}) & ({b})"

    def minus(self, a: str, b: str) -> str:
        return f"({a}) & ! ({b})"

    def marker_expression(self, marker: str) -> str:
        return _lexeme(marker)

    def _matched_rows_sql(self) -> str:
        return ("SELECT doc_type, city_code, status, themes FROM search_documents "
                "WHERE tsv @@ to_tsquery('simple', :q)")

    def _ranked_sql(self, where: str, match: str) -> str:
        return ("SELECT d.id, ts_rank(d.tsv, query) AS score "
                f"FROM search_documents AS d, to_tsquery('simple', :{match}) AS query "
                f"WHERE d.tsv @@ query AND {where} "
                "ORDER BY score DESC, d.id LIMIT :limit OFFSET :offset")

    def _contains_sql(self, column: str, param: str) -> str:
        return f"strpos({column}, :{param}) > 0"

    def bare_sql(self) -> str:
        return "SELECT id FROM search_documents WHERE tsv @@ to_tsquery('simple', :q) LIMIT 20"

    def upsert(self, session: Session, rows: Sequence[dict]) -> None:
        if not rows:
            return
        stmt = pg_insert(SearchDocument.__table__)
        stmt = stmt.on_conflict_do_update(
            index_elements=["doc_type", "doc_id"],
            set_={c: stmt.excluded[c] for c in DOC_COLUMNS if c not in ("doc_type", "doc_id")})
        session.execute(stmt, list(rows))

    def insert_many(self, session: Session, rows: Iterable[dict]) -> int:
        """COPY, fed row by row: the server parses stems into tsvectors while we build the next row."""
        raw = session.connection().connection.driver_connection
        columns = ", ".join(DOC_COLUMNS)
        n = 0
        with raw.cursor() as cur, cur.copy(f"COPY search_documents ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in DOC_COLUMNS))
                n += 1
        return n

    def delete_marked(self, session: Session, doc_type: str, marker: str) -> None:
        session.execute(text("DELETE FROM search_documents WHERE doc_type = :t "
                             "AND tsv @@ to_tsquery('simple', :m)"),
                        {"t": doc_type, "m": self.marker_expression(marker)})

    @contextmanager
    def _bitmap_plans(self, session: Session) -> Iterator[None]:
        """Steer the planner to the GIN index for the duration of one search.

        For a very common word the planner prefers a sequential scan (every row's
        tsvector re-checked), which costs several times a bitmap scan of the GIN
        index. The setting is transaction-local and restored afterwards, so other
        queries in the same unit of work are unaffected.
        """
        previous = session.execute(text("SELECT current_setting('enable_seqscan')")).scalar_one()
        session.execute(text("SELECT set_config('enable_seqscan', 'off', true)"))
        try:
            yield
        finally:
            session.execute(text("SELECT set_config('enable_seqscan', :v, true)"), {"v": previous})

    def search(self, session: Session, *args, **kwargs):
        with self._bitmap_plans(session):
            return super().search(session, *args, **kwargs)

    def bare(self, session: Session, query: ParsedQuery) -> list[int]:
        with self._bitmap_plans(session):
            return super().bare(session, query)
