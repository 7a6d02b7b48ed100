"""The search index: one row per searchable item, with pre-stemmed text.

Stemming happens in Python (Snowball, Dutch and English) so that SQLite FTS5
and PostgreSQL full-text search index exactly the same tokens and rank alike.
The dialect-specific full-text structures (FTS5 table, tsvector column) are
created by the migration, not declared here; so is PostgreSQL's narrow copy
``search_narrow`` (migration 0009, see docs/search.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stadslab.core.database import Base, utcnow

DOC_TYPES = ("project", "living_lab", "solution", "coalition", "lesson")


class SearchDocument(Base):
    __tablename__ = "search_documents"
    __table_args__ = (UniqueConstraint("doc_type", "doc_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(20), index=True)
    doc_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    #: Space-separated stems of title and body (both Dutch and English stems).
    stems: Mapped[str] = mapped_column(Text, default="")
    city_code: Mapped[str | None] = mapped_column(String(6), index=True)
    status: Mapped[str | None] = mapped_column(String(20), index=True)
    #: Space-separated theme codes, wrapped in spaces for exact LIKE matching.
    themes: Mapped[str] = mapped_column(String(500), default="")
    #: The same themes as bits (see ``SearchThemeBit``): facets and filters on a narrow integer.
    themes_mask: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: Analysed forms of the title words (empty for lessons, whose title is not indexed).
    title_stems: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SearchThemeBit(Base):
    """Which bit of ``themes_mask`` stands for a theme code. A bit, once given, never changes."""

    __tablename__ = "search_theme_bits"
    __table_args__ = (UniqueConstraint("bit"),)

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    bit: Mapped[int] = mapped_column(Integer)
