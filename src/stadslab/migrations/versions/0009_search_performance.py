"""Search performance: theme bitmask, title stems, narrow facet/ranking structures

Revision ID: 0009
Revises: 0001

Why (see docs/search.md): a very common word matches a quarter of the index,
and counting facets or ranking over it must not touch the wide rows (title,
body, stems, tsvector) of ``search_documents``.

* ``search_documents.themes_mask``: the document's themes as a bitmask
  (bits from ``search_theme_bits``), so that facet counting and theme filters
  are integer arithmetic on a narrow column.
* ``search_documents.title_stems``: the analysed forms of the title (empty for
  lessons), the source of PostgreSQL's title vector.
* ``search_theme_bits``: which bit stands for which theme code; a bit, once
  given, never changes (new codes get the next free bit when first indexed).
* SQLite: a covering index ``(id, doc_type, city_code, status, themes_mask)``:
  the facet columns of an FTS5 match are read from the index, not the table;
  and ``search_fts_sample``, an FTS5 index of the 1-in-16 estimate sample only
  (content: the view ``search_sample_content``), kept by triggers.
* PostgreSQL: ``search_narrow``, one short row per document (facet columns,
  a title tsvector, and for the 1-in-16 sample the full tsvector), kept by row
  triggers and rebuilt set-based by ``rebuild_index``; the document tsvector
  is stored inline (``STORAGE MAIN``) while body and stems may move out of line.
"""
from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Must equal ``stadslab.search.backends.base.SAMPLE_EVERY``.
SAMPLE_EVERY = 16

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION search_narrow_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id <> NEW.id) THEN
        DELETE FROM search_narrow WHERE id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO search_narrow AS n (id, doc_type, city_code, status, themes_mask, title_tsv, sample_tsv)
        VALUES (NEW.id, NEW.doc_type, NEW.city_code, NEW.status, NEW.themes_mask,
                to_tsvector('simple', NEW.title_stems),
                CASE WHEN NEW.id % {SAMPLE_EVERY} = 0 THEN NEW.tsv END)
        ON CONFLICT (id) DO UPDATE SET doc_type = EXCLUDED.doc_type, city_code = EXCLUDED.city_code,
            status = EXCLUDED.status, themes_mask = EXCLUDED.themes_mask, title_tsv = EXCLUDED.title_tsv,
            sample_tsv = EXCLUDED.sample_tsv;
    END IF;
    RETURN NULL;
END $$
"""

PG_TRUNCATE_FUNCTION = """
CREATE OR REPLACE FUNCTION search_narrow_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE search_narrow;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "search_theme_bits",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("bit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_search_theme_bits")),
        sa.UniqueConstraint("bit", name=op.f("uq_search_theme_bits_bit")),
    )
    # Plain ADD COLUMN (no batch table copy): SQLite's FTS5 triggers stay as they are.
    op.add_column("search_documents", sa.Column("themes_mask", sa.BigInteger(), nullable=False,
                                                server_default="0"))
    op.add_column("search_documents", sa.Column("title_stems", sa.Text(), nullable=False, server_default=""))
    _backfill()
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_search_documents_facets", "search_documents",
                        ["id", "doc_type", "city_code", "status", "themes_mask"])
        _create_sqlite_sample()
    else:
        _create_postgresql()


def _backfill() -> None:
    """Existing documents get their mask and title stems (``stadslab search rebuild`` does the same)."""
    from stadslab.search.text import title_stems_for

    bind = op.get_bind()
    codes = [c for (c,) in bind.execute(sa.text("SELECT code FROM themes ORDER BY position, code"))][:63]
    if codes:
        bind.execute(sa.text("INSERT INTO search_theme_bits (code, bit) VALUES (:c, :b)"),
                     [{"c": c, "b": b} for b, c in enumerate(codes)])
    bits = {c: b for b, c in enumerate(codes)}
    rows = bind.execute(sa.text("SELECT id, doc_type, title, themes FROM search_documents")).all()
    updates = [{"i": i, "m": sum(1 << bits[c] for c in (themes or "").split() if c in bits),
                "t": "" if doc_type == "lesson" else title_stems_for(title or "")}
               for i, doc_type, title, themes in rows]
    if updates:
        bind.execute(sa.text("UPDATE search_documents SET themes_mask = :m, title_stems = :t WHERE id = :i"),
                     updates)


def _create_sqlite_sample() -> None:
    """A second FTS5 index over the estimate sample only (its content is a view of the sample rows)."""
    op.execute(f"CREATE VIEW search_sample_content AS SELECT id, stems FROM search_documents "
               f"WHERE id % {SAMPLE_EVERY} = 0")
    op.execute("CREATE VIRTUAL TABLE search_fts_sample USING fts5(stems, content='search_sample_content', "
               "content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
    op.execute(f"CREATE TRIGGER search_documents_sample_ai AFTER INSERT ON search_documents "
               f"WHEN new.id % {SAMPLE_EVERY} = 0 BEGIN "
               "INSERT INTO search_fts_sample(rowid, stems) VALUES (new.id, new.stems); END")
    op.execute(f"CREATE TRIGGER search_documents_sample_ad AFTER DELETE ON search_documents "
               f"WHEN old.id % {SAMPLE_EVERY} = 0 BEGIN "
               "INSERT INTO search_fts_sample(search_fts_sample, rowid, stems) VALUES ('delete', old.id, old.stems); "
               "END")
    op.execute(f"CREATE TRIGGER search_documents_sample_au AFTER UPDATE ON search_documents "
               f"WHEN old.id % {SAMPLE_EVERY} = 0 OR new.id % {SAMPLE_EVERY} = 0 BEGIN "
               "INSERT INTO search_fts_sample(search_fts_sample, rowid, stems) "
               f"SELECT 'delete', old.id, old.stems WHERE old.id % {SAMPLE_EVERY} = 0; "
               "INSERT INTO search_fts_sample(rowid, stems) "
               f"SELECT new.id, new.stems WHERE new.id % {SAMPLE_EVERY} = 0; END")
    op.execute("INSERT INTO search_fts_sample(search_fts_sample) VALUES ('rebuild')")


def _create_postgresql() -> None:
    op.execute("ALTER TABLE search_documents ALTER COLUMN tsv SET STORAGE MAIN")
    op.execute("ALTER TABLE search_documents ALTER COLUMN body SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE search_documents ALTER COLUMN stems SET STORAGE EXTERNAL")
    op.execute("""
        CREATE TABLE search_narrow (
            id integer PRIMARY KEY,
            doc_type varchar(20) NOT NULL,
            city_code varchar(6),
            status varchar(20),
            themes_mask bigint NOT NULL DEFAULT 0,
            title_tsv tsvector NOT NULL,
            sample_tsv tsvector
        )""")
    op.execute("ALTER TABLE search_narrow ALTER COLUMN sample_tsv SET STORAGE MAIN")
    op.execute("CREATE INDEX ix_search_narrow_title_tsv ON search_narrow USING gin (title_tsv)")
    op.execute("CREATE INDEX ix_search_narrow_sample_tsv ON search_narrow USING gin (sample_tsv) "
               "WHERE sample_tsv IS NOT NULL")
    op.execute(PG_FUNCTION)
    # Skipped while rebuild_index refills everything set-based (it sets stadslab.search_bulk).
    op.execute("CREATE TRIGGER search_narrow_sync AFTER INSERT OR UPDATE OR DELETE ON search_documents "
               "FOR EACH ROW WHEN (coalesce(current_setting('stadslab.search_bulk', true), '') <> 'on') "
               "EXECUTE FUNCTION search_narrow_sync()")
    op.execute(PG_TRUNCATE_FUNCTION)
    op.execute("CREATE TRIGGER search_narrow_truncate AFTER TRUNCATE ON search_documents "
               "FOR EACH STATEMENT EXECUTE FUNCTION search_narrow_truncate()")
    op.execute("INSERT INTO search_narrow (id, doc_type, city_code, status, themes_mask, title_tsv, sample_tsv) "
               "SELECT id, doc_type, city_code, status, themes_mask, to_tsvector('simple', title_stems), "
               f"CASE WHEN id % {SAMPLE_EVERY} = 0 THEN tsv END FROM search_documents")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("search_documents_sample_ai", "search_documents_sample_ad", "search_documents_sample_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts_sample")
        op.execute("DROP VIEW IF EXISTS search_sample_content")
        op.drop_index("ix_search_documents_facets", table_name="search_documents")
    else:
        op.execute("DROP TRIGGER IF EXISTS search_narrow_sync ON search_documents")
        op.execute("DROP TRIGGER IF EXISTS search_narrow_truncate ON search_documents")
        op.execute("DROP FUNCTION IF EXISTS search_narrow_sync()")
        op.execute("DROP FUNCTION IF EXISTS search_narrow_truncate()")
        op.execute("DROP TABLE IF EXISTS search_narrow")
        op.execute("ALTER TABLE search_documents ALTER COLUMN tsv SET STORAGE EXTENDED")
        op.execute("ALTER TABLE search_documents ALTER COLUMN body SET STORAGE EXTENDED")
        op.execute("ALTER TABLE search_documents ALTER COLUMN stems SET STORAGE EXTENDED")
    op.drop_column("search_documents", "title_stems")
    op.drop_column("search_documents", "themes_mask")
    op.drop_table("search_theme_bits")
