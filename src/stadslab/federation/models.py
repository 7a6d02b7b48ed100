"""Federation tables: the peers a node harvests, what it harvested, and how each peer is doing.

Harvested items are keyed by (peer, type, remote id): two nodes may both have a
project 12, and they stay two items.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from stadslab.core.database import Base, Timestamped, utcnow


class FederationPeer(Timestamped, Base):
    __tablename__ = "federation_peers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    #: The peer's API token, Fernet-encrypted with a key derived from ``secret_key``; never returned.
    token_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class FederatedItem(Base):
    __tablename__ = "federated_items"
    __table_args__ = (UniqueConstraint("peer_id", "item_type", "remote_id",
                                       name="uq_federated_items_peer_type_remote"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id", ondelete="CASCADE"), index=True)
    item_type: Mapped[str] = mapped_column(String(30), index=True)
    remote_id: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(500), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    city_code: Mapped[str | None] = mapped_column(String(10), nullable=True, index=True)
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str | None] = mapped_column(String(40), nullable=True)
    remote_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_url: Mapped[str] = mapped_column(String(1000), default="")
    #: Analysed words (``stadslab.search.text``), space-delimited with a leading and trailing space.
    stems: Mapped[str] = mapped_column(Text, default="")
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PeerStatus(Base):
    __tablename__ = "peer_status"

    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peers.id", ondelete="CASCADE"), primary_key=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Records skipped in the last harvest (bad shape), with the reason: a list of strings.
    skipped: Mapped[list[str]] = mapped_column(JSON, default=list)
    items: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Scheduled harvests leave the peer alone until then (backoff after failures).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Per item type, the largest ``updated_at`` seen in the last complete harvest (ISO text).
    high_water: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class FederationLease(Base):
    """One row per job; whoever holds an unexpired lease runs it (several workers, one harvest)."""

    __tablename__ = "federation_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
