"""Who is in the network: municipalities, themes, organisations, coalitions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stadslab.core.database import NO_ID_REUSE, Base, Timestamped, utcnow

ORGANISATION_KINDS = ("municipality", "company", "knowledge_institution", "government", "other")
CITY_NETWORKS = ("G4", "G40")
#: What a city has that a solution may need (reference data ``city_facts.json``; a solution's
#: ``preconditions`` use the same codes).
CITY_FACTS = ("seaport", "inland_port", "coast", "metro")


class Municipality(Base):
    """A current Dutch municipality (gemeente), keyed by its CBS code (GMxxxx)."""

    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    province: Mapped[str] = mapped_column(String(40), index=True)
    population: Mapped[int] = mapped_column(Integer)
    land_area_km2: Mapped[float] = mapped_column(Float)
    centroid_lat: Mapped[float] = mapped_column(Float)
    centroid_lon: Mapped[float] = mapped_column(Float)
    #: Simplified outline as a GeoJSON geometry string (WGS84).
    outline: Mapped[str | None] = mapped_column(Text, deferred=True)
    #: Codes of ``CITY_FACTS`` that hold for this city (reference data).
    facts: Mapped[list] = mapped_column(JSON, default=list)

    memberships: Mapped[list[CityNetworkMembership]] = relationship(
        back_populates="municipality", lazy="selectin", cascade="all, delete-orphan")

    @property
    def networks(self) -> list[str]:
        return sorted(m.network for m in self.memberships)

    @property
    def density(self) -> float | None:
        return round(self.population / self.land_area_km2, 1) if self.land_area_km2 else None


class CityNetworkMembership(Base):
    """Membership of a city network such as the G4 or the G40 stedennetwerk."""

    __tablename__ = "city_network_memberships"

    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code", ondelete="CASCADE"),
                                                   primary_key=True)
    network: Mapped[str] = mapped_column(String(10), primary_key=True)
    since: Mapped[int | None] = mapped_column(Integer)
    municipality: Mapped[Municipality] = relationship(back_populates="memberships")


class Theme(Base):
    __tablename__ = "themes"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_nl: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    description_nl: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class CitySpecialisation(Base):
    """A lead role a city took on in the national Smart City strategy."""

    __tablename__ = "city_specialisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    theme_code: Mapped[str] = mapped_column(ForeignKey("themes.code"))
    label_nl: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    #: Other cities sharing this specialisation (e.g. Amersfoort with Utrecht).
    partner_codes: Mapped[str] = mapped_column(String(200), default="")


class Organisation(Timestamped, Base):
    __tablename__ = "organisations"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"), index=True)
    website: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)


coalition_cities = Table(
    "coalition_cities", Base.metadata,
    Column("coalition_id", ForeignKey("coalitions.id", ondelete="CASCADE"), primary_key=True),
    Column("municipality_code", ForeignKey("municipalities.code"), primary_key=True),
)
coalition_organisations = Table(
    "coalition_organisations", Base.metadata,
    Column("coalition_id", ForeignKey("coalitions.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
)
coalition_themes = Table(
    "coalition_themes", Base.metadata,
    Column("coalition_id", ForeignKey("coalitions.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_code", ForeignKey("themes.code"), primary_key=True),
)


class Coalition(Timestamped, Base):
    """A question several cities and partners work on together, with a lead city."""

    __tablename__ = "coalitions"
    __table_args__ = (UniqueConstraint("title"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    question: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    lead_municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    #: The organisation whose editors may change this item (governance).
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    cities: Mapped[list[Municipality]] = relationship(secondary=coalition_cities, lazy="selectin")
    organisations: Mapped[list[Organisation]] = relationship(secondary=coalition_organisations,
                                                             lazy="selectin")
    themes: Mapped[list[Theme]] = relationship(secondary=coalition_themes, lazy="selectin")


class RegistryTombstone(Base):
    """A registry item that was deleted: the change feed's record of it (``network.writes.deleted``).

    Peers that harvest this node read them (``/api/v1/federation/tombstones``) and drop their
    copy; only the type, the id and the time are kept. Ids are never reused (``NO_ID_REUSE``),
    so a tombstone can never hide a later item.
    """

    __tablename__ = "registry_tombstones"
    __table_args__ = (Index("ix_registry_tombstones_type_deleted", "entity_type", "deleted_at", "id"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(Integer)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
