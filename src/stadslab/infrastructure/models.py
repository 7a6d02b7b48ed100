"""Storage of the infrastructure register, the coverage cells, neighbourhoods and investments.

This module owns: ``infra_assets`` (with the labs they serve), ``infra_coverage_cells`` and
the incremental watermark ``infra_coverage_state``, ``infra_neighbourhoods`` and the
investment agenda (``infra_investments`` with contributions, municipalities, assets and
loket requests). Gateway receptions themselves belong to the LoRaWAN ingest
(``sensorthings.lorawan.models``); an observed gateway becomes an asset here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Integer, String, Table,
                        Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stadslab.core.database import Base, Timestamped, utcnow

ASSET_TYPES = ("lorawan-gateway", "5g-site", "fibre", "public-wifi", "nb-iot", "other")
OPENNESS = ("open", "community", "private")
STATUSES = ("planned", "building", "live", "retired")
PHASES = ("idea", "committed", "realised")
PARTY_TYPES = ("state", "market", "regional", "local", "eu")
#: The coverage period of all receptions; other periods are calendar months ("2024-05").
ALL = "all"

asset_labs = Table(
    "infra_asset_labs", Base.metadata,
    Column("asset_id", ForeignKey("infra_assets.id", ondelete="CASCADE"), primary_key=True),
    Column("living_lab_id", ForeignKey("living_labs.id", ondelete="CASCADE"), primary_key=True),
)
investment_municipalities = Table(
    "infra_investment_municipalities", Base.metadata,
    Column("investment_id", ForeignKey("infra_investments.id", ondelete="CASCADE"), primary_key=True),
    Column("municipality_code", ForeignKey("municipalities.code"), primary_key=True),
)
investment_assets = Table(
    "infra_investment_assets", Base.metadata,
    Column("investment_id", ForeignKey("infra_investments.id", ondelete="CASCADE"), primary_key=True),
    Column("asset_id", ForeignKey("infra_assets.id", ondelete="CASCADE"), primary_key=True),
)
investment_requests = Table(
    "infra_investment_loket_requests", Base.metadata,
    Column("investment_id", ForeignKey("infra_investments.id", ondelete="CASCADE"), primary_key=True),
    Column("loket_request_id", ForeignKey("loket_requests.id", ondelete="CASCADE"), primary_key=True),
)


class Asset(Timestamped, Base):
    """A piece of digital infrastructure. ``observed``: a LoRaWAN gateway learned from traffic that
    no owner has claimed yet (no owner, operator or openness)."""

    __tablename__ = "infra_assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    operator_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    openness: Mapped[str | None] = mapped_column(String(12), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True, default="live")
    #: GeoJSON geometry (WGS 84): a Point for a site or point of presence, a (Multi)Polygon for an area.
    geometry: Mapped[dict | None] = mapped_column(JSON)
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"), index=True)
    #: The gateway heard in traffic that this asset is (LoRaWAN gateways only).
    gateway_ref: Mapped[int | None] = mapped_column(
        ForeignKey("lorawan_gateways.id", ondelete="SET NULL"), unique=True)
    observed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    labs = relationship("LivingLab", secondary=asset_labs, lazy="selectin")


class CoverageCell(Base):
    """Reception figures of one H3 cell in one period, recomputed when new receptions touch it."""

    __tablename__ = "infra_coverage_cells"
    __table_args__ = (UniqueConstraint("cell", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(7), index=True)
    municipality_code: Mapped[str | None] = mapped_column(String(6), index=True)
    receptions: Mapped[int] = mapped_column(Integer)
    gateways: Mapped[int] = mapped_column(Integer)
    best_rssi: Mapped[float] = mapped_column(Float)
    median_rssi: Mapped[float] = mapped_column(Float)
    best_snr: Mapped[float | None] = mapped_column(Float)
    median_snr: Mapped[float | None] = mapped_column(Float)
    first_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CoverageState(Base):
    """One row: the last reception folded into the coverage cells (the incremental watermark)."""

    __tablename__ = "infra_coverage_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_reception_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), default=0)


class Neighbourhood(Base):
    """A CBS neighbourhood (buurt) with households, average income and outline (imported)."""

    __tablename__ = "infra_neighbourhoods"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    households: Mapped[int | None] = mapped_column(Integer)
    #: Average standardised household income, thousands of euros (CBS kerncijfers).
    average_income: Mapped[float | None] = mapped_column(Float)
    outline: Mapped[dict] = mapped_column(JSON)


class Investment(Timestamped, Base):
    __tablename__ = "infra_investments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    technology: Mapped[str] = mapped_column(String(20), index=True)
    phase: Mapped[str] = mapped_column(String(12), index=True)
    cost_eur: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)

    contributions: Mapped[list[Contribution]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="Contribution.id")
    municipalities = relationship("Municipality", secondary=investment_municipalities, lazy="selectin")
    assets = relationship(Asset, secondary=investment_assets, lazy="selectin")
    loket_requests = relationship("LoketRequest", secondary=investment_requests, lazy="selectin")


class Contribution(Base):
    __tablename__ = "infra_contributions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    investment_id: Mapped[int] = mapped_column(ForeignKey("infra_investments.id", ondelete="CASCADE"), index=True)
    party_type: Mapped[str] = mapped_column(String(10), index=True)
    party: Mapped[str] = mapped_column(String(200), default="")
    amount_eur: Mapped[float] = mapped_column(Float)
    #: False: promised or hoped for; only committed amounts close the gap.
    committed: Mapped[bool] = mapped_column(Boolean, default=True)
