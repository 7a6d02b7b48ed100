"""Move an embedded SQLite installation to PostgreSQL without losing a row.

The target schema is built by the same Alembic migrations as always (never
``create_all``); then every table is copied in foreign-key order, in batches,
inside ONE target transaction: if anything fails the target stays empty and
the command can simply be run again. Audit rows are copied verbatim (the
append-only triggers allow INSERT), so the hash chain still verifies. Sequences
are moved past the copied ids, the search index is rebuilt with the PostgreSQL
backend, and finally every table is compared by row count and content hash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Integer, func, select, text

from stadslab.core.database import Database
from stadslab.core.errors import BadRequest, Conflict
from stadslab.core.migrate import upgrade

from .backup import dialect_of
from .fingerprint import data_tables, table_fingerprints

#: Seeded by the migrations themselves (the audit chain's genesis head): replaced by the source's rows.
MIGRATION_SEEDED = frozenset({"audit_chain_head"})
#: The search index, derived from the registry and rebuilt on the target (a stale index in the
#: source would otherwise show as a loss): not compared; ``report.search_documents`` says what was built.
DERIVED_TABLES = frozenset({"search_documents", "search_theme_bits"})

Progress = Callable[[str, int, int], None]  # (table, rows copied so far, rows in table)


@dataclass
class MigrationReport:
    rows: dict[str, int] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    mismatches: dict[str, tuple] = field(default_factory=dict)
    audit_chain_ok: bool | None = None
    search_documents: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.audit_chain_ok is not False


def migrate_to_postgres(source_url: str, target_url: str, batch: int = 5000,
                        progress: Progress | None = None) -> MigrationReport:
    if dialect_of(source_url) != "sqlite":
        raise BadRequest("database_url: the source must be the SQLite database (STADSLAB_DATABASE_URL)")
    if dialect_of(target_url) != "postgresql":
        raise BadRequest("--to: must be a postgresql:// URL")
    upgrade(source_url)  # both sides at the same schema revision
    upgrade(target_url)
    source, target = Database(source_url), Database(target_url)
    try:
        tables = data_tables()
        _require_empty(target, tables)
        report = MigrationReport()
        with source.engine.connect() as src, target.engine.begin() as dst:
            for table in tables:
                if table.name in MIGRATION_SEEDED:
                    dst.execute(table.delete())
                if table.name == "sta_observations":
                    _observation_partitions(src, dst)
                total = src.scalar(select(func.count()).select_from(table))
                done = 0
                result = src.execution_options(stream_results=True, yield_per=batch).execute(select(table))
                for rows in result.mappings().partitions(batch):
                    dst.execute(table.insert(), [dict(r) for r in rows])
                    done += len(rows)
                    if progress:
                        progress(table.name, done, total)
                if progress and total == 0:
                    progress(table.name, 0, 0)
                report.rows[table.name] = done
            report.sequences = _fix_sequences(dst, tables, _sqlite_sequences(src))
        report.search_documents = _rebuild_search(target)
        _verify(source, target, tables, report)
        return report
    finally:
        source.dispose()
        target.dispose()


def _observation_partitions(src, dst) -> None:
    """Month partitions for the months the source holds, so its rows do not all land in DEFAULT."""
    from datetime import datetime, timezone

    from stadslab.sensorthings.storage import partitions

    months = src.execute(text("SELECT DISTINCT substr(phenomenon_time_start, 1, 7) FROM sta_observations"))
    found = {datetime.strptime(m[0], "%Y-%m").replace(tzinfo=timezone.utc) for m in months if m[0]}
    partitions.ensure_partitions(dst, months=partitions.up_to_horizon(found))


def _require_empty(target: Database, tables) -> None:
    with target.engine.connect() as conn:
        filled = [t.name for t in tables if t.name not in MIGRATION_SEEDED and conn.execute(select(1).select_from(t).limit(1)).first()]
    if filled:
        raise Conflict(f"--to: the target database is not empty (rows in {', '.join(filled[:5])}"
                       f"{', ...' if len(filled) > 5 else ''}); migrate into a fresh database")


def _sqlite_sequences(src) -> dict[str, int]:
    """The highest id each AUTOINCREMENT table ever handed out (deleted rows included)."""
    if src.dialect.name != "sqlite" or not src.execute(
            text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
        return {}
    return {name: seq for name, seq in src.execute(text("SELECT name, seq FROM sqlite_sequence"))}


def _fix_sequences(conn, tables, floors: dict[str, int] | None = None) -> dict[str, int]:
    """``setval`` every serial/identity sequence past the largest id ever used (next id = that + 1).

    ``floors``: the source's own high-water marks (SQLite ``sqlite_sequence``), so an id of a
    row deleted before the move is not handed out again after it.
    """
    fixed = {}
    for table in tables:
        for col in table.primary_key.columns:
            if not isinstance(col.type, Integer):
                continue
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": f'public."{table.name}"', "c": col.name}).scalar()
            if not seq:
                continue
            top = conn.scalar(select(func.max(col)))
            floor = (floors or {}).get(table.name)
            if floor and (top is None or floor > top):
                top = floor
            conn.execute(text("SELECT setval(CAST(:s AS regclass), :v, :called)"),
                         {"s": seq, "v": top or 1, "called": top is not None})
            fixed[table.name] = top or 0
    return fixed


def _rebuild_search(target: Database) -> dict[str, int]:
    from stadslab.search.indexer import rebuild_index

    with target.session() as s:
        counts = rebuild_index(s)
        s.commit()
    return counts


def _verify(source: Database, target: Database, tables, report: MigrationReport) -> None:
    compared = [t for t in tables if t.name not in DERIVED_TABLES]
    before = table_fingerprints(source.engine, compared)
    after = table_fingerprints(target.engine, compared)
    report.mismatches = {name: (before[name], after.get(name)) for name in before if before[name] != after.get(name)}
    try:
        from stadslab.governance.audit import verify_chain
    except ImportError:  # governance not installed: nothing to verify
        return
    with target.session() as s:
        report.audit_chain_ok = verify_chain(s)[0]
