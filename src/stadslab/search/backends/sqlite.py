"""SQLite FTS5: the external-content table ``search_fts`` over ``search_documents.stems``.

Triggers from migration 0001 keep ``search_fts`` in step with every insert,
update and delete, so writes here are plain SQL on ``search_documents``. Each
token is written as an FTS5 string ("..."), the only FTS5 syntax we emit
besides AND, OR and parentheses.

``search_fts_sample`` (migration 0009) indexes only the estimate sample
(documents whose id is a multiple of ``SAMPLE_EVERY``), so that estimating a
huge match set reads a sixteenth of its doclists.

A full rebuild does not go through the triggers: maintaining FTS5 row by row
is several times slower than one ``'rebuild'`` of the whole index from its
content table. The triggers are set aside inside the caller's transaction and
put back, exactly as the migration defined them, before it ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from stadslab.search.models import SearchDocument
from stadslab.search.text import TITLE_PREFIX, ParsedQuery

from .base import DOC_COLUMNS, SearchBackend, safe_forms

#: Migration 0009: (id, doc_type, city_code, status, themes_mask).
FACET_INDEX = "ix_search_documents_facets"


def _string(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


class SQLiteBackend(SearchBackend):
    name = "sqlite"
    #: Reading 10,000 facet rows from the covering index and grouping them takes a few ms.
    exact_limit = 10_000

    def match_expression(self, query: ParsedQuery) -> str:
        clauses = []
        for term in query.terms:
            forms = safe_forms(term.forms)
            if forms:
                alternatives = [*forms, *(TITLE_PREFIX + f for f in forms)]
                clauses.append("(" + " OR ".join(_string(f) for f in alternatives) + ")")
        for phrase in query.phrases:
            stems = safe_forms(phrase.stems)
            if stems:
                clauses.append(_string(" ".join(stems)))
        if not clauses:
            raise ValueError("query has no searchable words")
        return " AND ".join(clauses)

    def title_expression(self, query: ParsedQuery) -> str | None:
        clauses = []
        for term in query.terms:
            forms = safe_forms(term.forms)
            if forms:
                clauses.append("(" + " OR ".join(_string(TITLE_PREFIX + f) for f in forms) + ")")
        return " AND ".join(clauses) if clauses else None

    def both(self, a: str, b: str) -> str:
        return f"({a}) AND ({b})"

    def minus(self, a: str, b: str) -> str:
        return f"({a}) NOT ({b})"

    def marker_expression(self, marker: str) -> str:
        return _string(marker)

    def _facet_rows_sql(self, sample: bool, param: str = "q") -> str:
        # The facet columns come from the covering index, never from the wide rows;
        # FTS5 hands out rowids in order, so the index is read front to back.
        fts = "search_fts_sample" if sample else "search_fts"
        return (f"SELECT d.doc_type, d.city_code, d.status, d.themes_mask FROM {fts} AS f "
                f"JOIN search_documents AS d INDEXED BY {FACET_INDEX} ON d.id = f.rowid "
                f"WHERE {fts} MATCH :{param}")

    def _title_tier_sql(self, query: ParsedQuery, params: dict, where: str) -> str:
        """Ranked by BM25 of the title tokens alone: every query word is in the title, so the
        document matches the words; only phrases need the whole expression (and cost more)."""
        if query.phrases:
            return self._ranked_sql(where, "tq")
        params["tt"] = self.title_expression(query)
        return self._ranked_sql(where, "tt")

    def _ranked_sql(self, where: str, match: str) -> str:
        # bm25() is lower for better matches; its negation s >= 0 is reported as s / (1 + s),
        # in [0, 1) like PostgreSQL's ts_rank(..., 32), so that title-tier scores (+1) stay above.
        score = "(-bm25(search_fts)) / (1.0 - bm25(search_fts))"
        if where == "1 = 1":
            return (f"SELECT rowid AS id, {score} AS score FROM search_fts WHERE search_fts MATCH :{match} "
                    "ORDER BY score DESC, rowid LIMIT :limit OFFSET :offset")
        return (f"SELECT search_fts.rowid AS id, {score} AS score FROM search_fts "
                f"JOIN search_documents AS d INDEXED BY {FACET_INDEX} ON d.id = search_fts.rowid "
                f"WHERE search_fts MATCH :{match} AND {where} "
                "ORDER BY score DESC, search_fts.rowid LIMIT :limit OFFSET :offset")

    def bare_sql(self) -> str:
        return "SELECT rowid FROM search_fts WHERE search_fts MATCH :q LIMIT 20"

    def upsert(self, session: Session, rows: Sequence[dict]) -> None:
        if not rows:
            return
        stmt = sqlite_insert(SearchDocument.__table__)
        stmt = stmt.on_conflict_do_update(
            index_elements=["doc_type", "doc_id"],
            set_={c: stmt.excluded[c] for c in DOC_COLUMNS if c not in ("doc_type", "doc_id")})
        session.execute(stmt, list(rows))

    def insert_many(self, session: Session, rows: Iterable[dict]) -> int:
        """executemany straight on the driver, fed by a generator (no per-row Core overhead)."""
        conn = session.connection()
        to_db = SearchDocument.__table__.c.updated_at.type.bind_processor(conn.dialect) or (lambda v: v)
        written = 0

        def values() -> Iterator[tuple]:
            nonlocal written
            for row in rows:
                written += 1
                yield (*(row[c] for c in DOC_COLUMNS[:-1]), to_db(row["updated_at"]))

        assert DOC_COLUMNS[-1] == "updated_at"
        sql = (f"INSERT INTO search_documents ({', '.join(DOC_COLUMNS)}) "
               f"VALUES ({', '.join('?' for _ in DOC_COLUMNS)})")
        conn.connection.driver_connection.executemany(sql, values())
        return written

    def delete_marked(self, session: Session, doc_type: str, marker: str) -> None:
        session.execute(text("DELETE FROM search_documents WHERE doc_type = :t AND id IN "
                             "(SELECT rowid FROM search_fts WHERE search_fts MATCH :m)"),
                        {"t": doc_type, "m": self.marker_expression(marker)})

    @contextmanager
    def bulk_replace(self, session: Session) -> Iterator[None]:
        raw = session.connection().connection.driver_connection
        # The sqlite3 module opens a transaction only before DML; make sure one is open so
        # that dropping the triggers is rolled back with everything else on failure.
        session.execute(text("UPDATE search_documents SET id = id WHERE 0 = 1"))
        if not raw.in_transaction:
            with super().bulk_replace(session):
                yield
            return
        triggers = [sql for (sql,) in session.execute(text(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'search_documents' "
            "ORDER BY name"))]
        names = [name for (name,) in session.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'search_documents'"))]
        for name in names:
            session.execute(text(f'DROP TRIGGER "{name}"'))
        try:
            session.execute(text("DELETE FROM search_documents"))
            yield
        finally:
            # Also on failure: whatever the caller then commits, index and content agree.
            session.execute(text("INSERT INTO search_fts(search_fts) VALUES ('rebuild')"))
            session.execute(text("INSERT INTO search_fts_sample(search_fts_sample) VALUES ('rebuild')"))
            for sql in triggers:
                session.execute(text(sql))
