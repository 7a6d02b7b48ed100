"""The international calendar and funding calls.

Instants are stored in UTC; each event also keeps its own IANA zone so that a
conference in Barcelona is shown, exported and repeated in Barcelona time (a
weekly 09:00 meeting stays at 09:00 local across a DST change, which a UTC
recurrence would not). ``uid`` is minted once and never changes, so calendar
clients recognise an event after a rename; ``sequence`` grows on every change
(RFC 5545 §3.8.7.4) so that they replace their copy.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stadslab.core.database import NO_ID_REUSE, Base, Timestamped
from stadslab.network.models import Municipality, Organisation, Theme

EVENT_KINDS = ("trade_mission", "conference", "eu_info_day", "network_meeting", "webinar", "other")
CALL_STATUSES = ("forthcoming", "open", "closed")
PROGRAMME_LEVELS = ("eu", "national", "regional")

event_themes = Table(
    "event_themes", Base.metadata,
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_code", ForeignKey("themes.code"), primary_key=True),
)
funding_call_themes = Table(
    "funding_call_themes", Base.metadata,
    Column("funding_call_id", ForeignKey("funding_calls.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_code", ForeignKey("themes.code"), primary_key=True),
)


class Event(Timestamped, Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("uid"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(30), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    #: First occurrence, UTC. For all-day events: local midnight of the first day.
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    #: End of the first occurrence, UTC (exclusive; all-day: midnight after the last day).
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: End of the last occurrence of a recurring series (UTC); None = repeats forever.
    series_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    rrule: Mapped[str | None] = mapped_column(String(500))
    location_name: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(120), index=True)
    #: ISO 3166-1 alpha-2 country code of the venue.
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    links: Mapped[list] = mapped_column(JSON, default=list)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    themes: Mapped[list[Theme]] = relationship(secondary=event_themes, lazy="selectin")
    representatives: Mapped[list[EventRepresentative]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="EventRepresentative.position")


class EventRepresentative(Base):
    """Who represents which Dutch city (CBS code) or organisation at an event."""

    __tablename__ = "event_representatives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True)

    municipality: Mapped[Municipality | None] = relationship(lazy="joined")
    organisation: Mapped[Organisation | None] = relationship(lazy="joined")


class FundingProgramme(Timestamped, Base):
    """A funding scheme such as Horizon Europe, CEF Digital, Interreg or the Regio Deal."""

    __tablename__ = "funding_programmes"
    __table_args__ = (UniqueConstraint("code"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20), default="eu")
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(300))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)


class FundingCall(Timestamped, Base):
    __tablename__ = "funding_calls"
    __table_args__ = (UniqueConstraint("uid"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(255))
    programme_id: Mapped[int] = mapped_column(ForeignKey("funding_programmes.id", ondelete="RESTRICT"), index=True)
    #: The programme's own call identifier (e.g. HORIZON-MISS-2025-CIT-01).
    identifier: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    opens_on: Mapped[date | None] = mapped_column(Date)
    #: UTC instant of the deadline (all-day deadlines: the end of that day in ``deadline_timezone``).
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    deadline_timezone: Mapped[str] = mapped_column(String(64), default="Europe/Brussels")
    deadline_all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    budget_eur: Mapped[float | None] = mapped_column(Float)
    url: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    programme: Mapped[FundingProgramme] = relationship(lazy="joined")
    themes: Mapped[list[Theme]] = relationship(secondary=funding_call_themes, lazy="selectin")
