"""PostgreSQL full-text search: the generated ``tsv`` column (``to_tsvector('simple', stems)``).

The 'simple' configuration only lower-cases, so the lexemes are exactly our
stems. The tsquery text is built from analysed tokens, each a quoted lexeme,
combined with ``|``, ``&`` and ``<->``, and passed as a bound parameter.

Every match found through the GIN index costs a visit to its heap row, and
the rows of ``search_documents`` are wide. So the work that touches many
matches runs on ``search_narrow`` (migration 0009), one short row per
document kept by triggers: the title tier is ranked on its small title
vector, and the estimate sample (1 in ``SAMPLE_EVERY`` documents) carries the
full vector there. Only the exact counts of small match sets, the second
tier and phrase checks read ``search_documents``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from psycopg import pq
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from stadslab.search.models import SearchDocument
from stadslab.search.text import TITLE_PREFIX, ParsedQuery

from .base import DOC_COLUMNS, SAMPLE_EVERY, SearchBackend, safe_forms


def _lexeme(token: str) -> str:
    return "'" + token.replace("'", "''") + "'"


#: GIN pending list and work memory during a bulk rebuild (transaction-local settings).
BULK_MEMORY = "128MB"
#: Transaction-local setting that makes the row triggers of search_narrow stand aside.
BULK_SETTING = "stadslab.search_bulk"
_NARROW_FILL = ("INSERT INTO search_narrow (id, doc_type, city_code, status, themes_mask, title_tsv, sample_tsv) "
                "SELECT id, doc_type, city_code, status, themes_mask, to_tsvector('simple', title_stems), "
                f"CASE WHEN id % {SAMPLE_EVERY} = 0 THEN tsv END FROM search_documents")


class PostgreSQLBackend(SearchBackend):
    name = "postgresql"
    #: Each exact count visits one wide heap row per match (a few µs each, from the OS cache).
    exact_limit = 5_000
    #: A phrase is rechecked in the stored vector of every document holding all its words.
    phrase_cost_is_candidates = True

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

    def title_expression(self, query: ParsedQuery, prefix: str = TITLE_PREFIX) -> str | None:
        clauses = []
        for term in query.terms:
            forms = safe_forms(term.forms)
            if forms:
                clauses.append("(" + " | ".join(_lexeme(prefix + f) for f in forms) + ")")
        return " & ".join(clauses) if clauses else None

    def both(self, a: str, b: str) -> str:
        return f"({a}) & ({b})"

    def minus(self, a: str, b: str) -> str:
        return f"({a}) & ! ({b})"

    def marker_expression(self, marker: str) -> str:
        return _lexeme(marker)

    def _facet_rows_sql(self, sample: bool, param: str = "q") -> str:
        if sample:
            return ("SELECT d.doc_type, d.city_code, d.status, d.themes_mask FROM search_narrow AS d "
                    f"WHERE d.sample_tsv @@ to_tsquery('simple', :{param})")
        return ("SELECT d.doc_type, d.city_code, d.status, d.themes_mask FROM search_documents AS d "
                f"WHERE d.tsv @@ to_tsquery('simple', :{param})")

    def _ranked_sql(self, where: str, match: str) -> str:
        # Normalisation 32 maps the rank into [0, 1): title-tier scores (+1) stay above.
        return ("SELECT d.id, ts_rank(d.tsv, query, 32) AS score "
                f"FROM search_documents AS d, to_tsquery('simple', :{match}) AS query "
                f"WHERE d.tsv @@ query AND {where} "
                "ORDER BY score DESC, d.id LIMIT :limit OFFSET :offset")

    def _title_tier_sql(self, query: ParsedQuery, params: dict, where: str) -> str:
        """Ranked on the narrow table's title vector: a short title that is mostly the query ranks first.

        Every query word is in the title, so the document matches the words; only
        phrases still need the document's own vector, read for these candidates only.
        """
        params["tp"] = self.title_expression(query, prefix="")
        phrase = ("AND EXISTS (SELECT 1 FROM search_documents AS w WHERE w.id = d.id "
                  "AND w.tsv @@ to_tsquery('simple', :q)) " if query.phrases else "")
        return ("SELECT d.id, ts_rank(d.title_tsv, query, 1 | 32) AS score "
                "FROM search_narrow AS d, to_tsquery('simple', :tp) AS query "
                f"WHERE d.title_tsv @@ query AND {where} {phrase}"
                "ORDER BY score DESC, d.id LIMIT :limit OFFSET :offset")

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
    def bulk_replace(self, session: Session) -> Iterator[None]:
        """Refill search_narrow once, set-based, instead of row by row through its triggers.

        Ends with ANALYZE of both tables (allowed inside the transaction), so the
        planner's statistics describe the new index as soon as it is committed.
        """
        session.execute(text("SELECT set_config(:k, 'on', true)"), {"k": BULK_SETTING})
        # GIN indexes take bulk inserts through their pending list: a bigger list (for this
        # transaction only) merges in fewer, larger steps; it is emptied again at the end.
        before = session.execute(text(
            "SELECT current_setting('gin_pending_list_limit'), current_setting('work_mem'), "
            "set_config('gin_pending_list_limit', :v, true), set_config('work_mem', :v, true)"),
            {"v": BULK_MEMORY}).first()
        try:
            session.execute(text("DELETE FROM search_narrow"))
            session.execute(text("DELETE FROM search_documents"))
            yield
        except BaseException:
            # A failed COPY aborts the transaction (the caller must roll back); otherwise
            # make both tables agree, whatever the caller then commits.
            raw = session.connection().connection.driver_connection
            if raw.info.transaction_status != pq.TransactionStatus.INERROR:
                self._refill_narrow(session)
            raise
        self._refill_narrow(session)
        self._clean_pending_lists(session)
        session.execute(text("ANALYZE search_documents"))
        session.execute(text("ANALYZE search_narrow"))
        # The rest of the caller's transaction runs with the settings it had.
        session.execute(text("SELECT set_config('gin_pending_list_limit', :g, true), set_config('work_mem', :w, true)"),
                        {"g": before[0], "w": before[1]})

    @staticmethod
    def _clean_pending_lists(session: Session) -> None:
        """Merge what the bulk load left in the GIN pending lists, so that searches after the
        import do not scan them; needs ownership of the indexes, else autovacuum does it later."""
        try:
            with session.begin_nested():
                for index in ("ix_search_documents_tsv", "ix_search_narrow_title_tsv", "ix_search_narrow_sample_tsv"):
                    session.execute(text("SELECT gin_clean_pending_list(CAST(:i AS regclass))"), {"i": index})
        except DBAPIError:
            pass

    @staticmethod
    def _refill_narrow(session: Session) -> None:
        session.execute(text("DELETE FROM search_narrow"))
        session.execute(text(_NARROW_FILL))
        session.execute(text("SELECT set_config(:k, 'off', true)"), {"k": BULK_SETTING})

    @contextmanager
    def _bitmap_plans(self, session: Session) -> Iterator[None]:
        """Steer the planner to the GIN index for the benchmark's bare baseline query.

        For a very common word the planner may prefer a sequential scan (every row's
        tsvector re-checked). The setting is transaction-local and restored afterwards.
        Searches no longer need it: with the statistics that ``rebuild_index`` gathers,
        every search statement reads a GIN index for a bounded number of rows (the
        title tier, the sample, or a match set under the exact-count limit).
        """
        previous = session.execute(text("SELECT current_setting('enable_seqscan'), "
                                        "set_config('enable_seqscan', 'off', true)")).first()[0]
        try:
            yield
        finally:
            session.execute(text("SELECT set_config('enable_seqscan', :v, true)"), {"v": previous})

    def bare(self, session: Session, query: ParsedQuery) -> list[int]:
        with self._bitmap_plans(session):
            return super().bare(session, query)
