"""SQLite FTS5: the external-content table ``search_fts`` over ``search_documents.stems``.

Triggers from migration 0001 keep ``search_fts`` in step with every insert,
update and delete, so writes here are plain SQL on ``search_documents``. Each
token is written as an FTS5 string ("..."), the only FTS5 syntax we emit
besides AND, OR and parentheses.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from stadslab.search.models import SearchDocument
from stadslab.search.text import TITLE_PREFIX, ParsedQuery

from .base import DOC_COLUMNS, SearchBackend, safe_forms


def _string(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


class SQLiteBackend(SearchBackend):
    name = "sqlite"

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

    def marker_expression(self, marker: str) -> str:
        return _string(marker)

    def _matched_rows_sql(self) -> str:
        return ("SELECT doc_type, city_code, status, themes FROM search_documents "
                "WHERE id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH :q)")

    def _ranked_sql(self, where: str) -> str:
        # bm25() is lower for better matches; we report its negation.
        if where == "1 = 1":
            return ("SELECT rowid, -bm25(search_fts) AS score FROM search_fts WHERE search_fts MATCH :q "
                    "ORDER BY score DESC, rowid LIMIT :limit OFFSET :offset")
        return ("SELECT search_fts.rowid, -bm25(search_fts) AS score FROM search_fts "
                "JOIN search_documents AS d ON d.id = search_fts.rowid "
                f"WHERE search_fts MATCH :q AND {where} "
                "ORDER BY score DESC, search_fts.rowid LIMIT :limit OFFSET :offset")

    def _contains_sql(self, column: str, param: str) -> str:
        return f"instr({column}, :{param}) > 0"

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

    def insert_many(self, session: Session, rows: Sequence[dict]) -> None:
        if rows:
            session.execute(insert(SearchDocument.__table__), list(rows))

    def delete_marked(self, session: Session, doc_type: str, marker: str) -> None:
        session.execute(text("DELETE FROM search_documents WHERE doc_type = :t AND id IN "
                             "(SELECT rowid FROM search_fts WHERE search_fts MATCH :m)"),
                        {"t": doc_type, "m": self.marker_expression(marker)})
