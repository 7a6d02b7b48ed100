"""What happens in the network: living labs, projects, solutions and who adopted what."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stadslab.core.database import NO_ID_REUSE, Base, Timestamped
from stadslab.network.models import Municipality, Organisation, Theme

LAB_STATUSES = ("planned", "active", "closed")
PROJECT_STATUSES = ("idea", "pilot", "evaluated", "scaled", "stopped")
#: The project lifecycle: idea → pilot → evaluated → scaled or stopped.
#: A project may be stopped at any stage; going back is not allowed.
PROJECT_TRANSITIONS = {
    "idea": {"pilot", "stopped"},
    "pilot": {"evaluated", "stopped"},
    "evaluated": {"scaled", "stopped"},
    "scaled": {"stopped"},
    "stopped": set(),
}
ADOPTION_STATUSES = ("planned", "piloting", "adopted", "abandoned")
INFRASTRUCTURE = ("fibre", "lorawan", "5g", "4g", "wifi", "nb-iot", "edge-computing", "open-data-platform",
                  "smart-lighting", "ev-charging", "sensor-network", "digital-twin")

lab_themes = Table(
    "living_lab_themes", Base.metadata,
    Column("living_lab_id", ForeignKey("living_labs.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_code", ForeignKey("themes.code"), primary_key=True),
)
project_themes = Table(
    "project_themes", Base.metadata,
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_code", ForeignKey("themes.code"), primary_key=True),
)
solution_themes = Table(
    "solution_themes", Base.metadata,
    Column("solution_id", ForeignKey("solutions.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_code", ForeignKey("themes.code"), primary_key=True),
)


class LivingLab(Timestamped, Base):
    __tablename__ = "living_labs"
    __table_args__ = (UniqueConstraint("name"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: GeoJSON Point or Polygon (WGS84) of the lab.
    geometry: Mapped[dict | None] = mapped_column(JSON)
    infrastructure: Mapped[list] = mapped_column(JSON, default=list)
    open_to_external: Mapped[bool] = mapped_column(Boolean, default=True)
    regulatory_exemptions: Mapped[list] = mapped_column(JSON, default=list)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    website: Mapped[str | None] = mapped_column(String(300))
    #: The test offer for outside parties (facilities are ``infrastructure``; contact is ``contact_*``).
    offer_conditions: Mapped[str] = mapped_column(Text, default="")
    offer_costs: Mapped[str] = mapped_column(Text, default="")
    offer_how_to_apply: Mapped[str] = mapped_column(Text, default="")
    #: The organisation whose editors may change this item (governance).
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    themes: Mapped[list[Theme]] = relationship(secondary=lab_themes, lazy="selectin")


class ProjectPartner(Base):
    __tablename__ = "project_partners"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    role: Mapped[str] = mapped_column(String(60), default="partner")
    organisation: Mapped[Organisation] = relationship(lazy="joined")


class Project(Timestamped, Base):
    __tablename__ = "projects"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    #: English versions (optional; pages fall back to the Dutch text and say so).
    title_en: Mapped[str | None] = mapped_column(String(300))
    summary_en: Mapped[str | None] = mapped_column(Text)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    living_lab_id: Mapped[int | None] = mapped_column(ForeignKey("living_labs.id", ondelete="SET NULL"),
                                                      index=True)
    status: Mapped[str] = mapped_column(String(20), default="idea", index=True)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    budget_eur: Mapped[float | None] = mapped_column(Float)
    funding_sources: Mapped[list] = mapped_column(JSON, default=list)
    links: Mapped[list] = mapped_column(JSON, default=list)
    #: The organisation whose editors may change this item (governance).
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    living_lab: Mapped[LivingLab | None] = relationship(lazy="joined")
    themes: Mapped[list[Theme]] = relationship(secondary=project_themes, lazy="selectin")
    partners: Mapped[list[ProjectPartner]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    kpis: Mapped[list[Kpi]] = relationship(lazy="selectin", cascade="all, delete-orphan",
                                           order_by="Kpi.position")
    lessons: Mapped[list[Lesson]] = relationship(lazy="selectin", cascade="all, delete-orphan",
                                                 order_by="Lesson.position")

    @property
    def lessons_en(self) -> list[str | None]:
        """The English version of each lesson, by position (None: only in Dutch)."""
        return [lesson.text_en for lesson in self.lessons]


class Kpi(Base):
    """A key performance indicator of a project: baseline, target and measured result."""

    __tablename__ = "project_kpis"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str | None] = mapped_column(String(200))
    unit_en: Mapped[str | None] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(10), default="higher")
    baseline: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    measured: Mapped[float | None] = mapped_column(Float)


class Lesson(Base):
    """A lesson learned in a project, searchable on its own."""

    __tablename__ = "project_lessons"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str | None] = mapped_column(Text)


class Solution(Timestamped, Base):
    """A reusable approach or product that came out of one or more projects."""

    __tablename__ = "solutions"
    __table_args__ = (UniqueConstraint("name"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    name_en: Mapped[str | None] = mapped_column(String(200))
    description_en: Mapped[str | None] = mapped_column(Text)
    origin_project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"),
                                                          index=True)
    provider_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"))
    maturity: Mapped[str] = mapped_column(String(20), default="pilot")
    #: What a city must have for this solution to make sense (codes of ``network.models.CITY_FACTS``).
    preconditions: Mapped[list] = mapped_column(JSON, default=list)
    #: The organisation whose editors may change this item (governance).
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    themes: Mapped[list[Theme]] = relationship(secondary=solution_themes, lazy="selectin")
    origin_project: Mapped[Project | None] = relationship(lazy="joined")
    adoptions: Mapped[list[Adoption]] = relationship(back_populates="solution", lazy="selectin",
                                                     order_by="Adoption.adopted_on")


class Adoption(Timestamped, Base):
    """City X adopted solution Y from project Z: one edge of the replication graph."""

    __tablename__ = "adoptions"
    __table_args__ = (UniqueConstraint("solution_id", "municipality_code"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    solution_id: Mapped[int] = mapped_column(ForeignKey("solutions.id", ondelete="RESTRICT"), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"), index=True)
    adopted_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="adopted", index=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    #: The organisation whose editors may change this item (governance).
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    solution: Mapped[Solution] = relationship(back_populates="adoptions", lazy="joined")
    municipality: Mapped[Municipality] = relationship(lazy="joined")
    project: Mapped[Project | None] = relationship(lazy="joined")


#: What one organisation can attach to another's content, and the test application to a lab.
CONTRIBUTION_KINDS = ("project_to_lab", "adoption", "lesson", "test_application")
CONTRIBUTION_STATUSES = ("pending", "accepted", "declined")


class ModeratedContribution(Timestamped, Base):
    """Something an organisation attaches to another organisation's content, pending the owner's consent.

    Nothing of it is public while it is pending or declined: the project keeps no link to the
    lab, the adoption and the lesson do not exist yet. Accepting makes the change (see
    ``labs.moderation``); only the two parties and administrators can see the contribution itself.
    """

    __tablename__ = "moderated_contributions"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    #: Who attaches (their editors follow it) and who decides (the owner of the target).
    contributor_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    living_lab_id: Mapped[int | None] = mapped_column(ForeignKey("living_labs.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    solution_id: Mapped[int | None] = mapped_column(ForeignKey("solutions.id", ondelete="CASCADE"), index=True)
    #: What is attached (the adoption's fields, the lesson's text, the application's who/what/when).
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str] = mapped_column(Text, default="")

    contributor: Mapped[Organisation | None] = relationship(foreign_keys=[contributor_organisation_id],
                                                            lazy="joined")
    owner: Mapped[Organisation | None] = relationship(foreign_keys=[owner_organisation_id], lazy="joined")
    living_lab: Mapped[LivingLab | None] = relationship(lazy="joined")
    project: Mapped[Project | None] = relationship(lazy="joined")
    solution: Mapped[Solution | None] = relationship(lazy="joined")

    @property
    def pending_location(self) -> str | None:
        """Where the API follows a contribution that is still waiting for the owner."""
        return f"/api/v1/contributions/{self.id}" if self.status == "pending" else None
