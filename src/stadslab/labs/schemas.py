"""API shapes of living labs, projects, solutions and adoptions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from stadslab.core.schemas import CbsCode, InputModel, Link, OutputModel, ThemeCode, Unique, Url, validate_geojson
from stadslab.network.models import CITY_FACTS
from stadslab.network.schemas import CityRef, OrganisationRef, ThemeRef

from .models import INFRASTRUCTURE

LabStatus = Literal["planned", "active", "closed"]
ProjectStatus = Literal["idea", "pilot", "evaluated", "scaled", "stopped"]
AdoptionStatus = Literal["planned", "piloting", "adopted", "abandoned"]
Maturity = Literal["pilot", "proven", "mature"]
Precondition = Literal[CITY_FACTS]  # type: ignore[valid-type]
Infrastructure = Literal[INFRASTRUCTURE]  # type: ignore[valid-type]
Email = str


def _unique_or_none(v):
    return Unique.check(v) if v is not None else v


class LivingLabFields(InputModel):
    owner_organisation_id: int | None = None
    description: str = Field(default="", max_length=10000)
    geometry: dict[str, Any] | None = None
    themes: list[ThemeCode] = Field(default_factory=list, max_length=20)
    infrastructure: list[Infrastructure] = Field(default_factory=list, max_length=20)
    open_to_external: bool = True
    regulatory_exemptions: list[str] = Field(default_factory=list, max_length=50)
    contact_name: str | None = Field(default=None, max_length=200)
    contact_email: Email | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    status: LabStatus = "active"
    website: Url | None = None
    #: The test offer (facilities are ``infrastructure``, the contact ``contact_name``/``contact_email``).
    offer_conditions: str = Field(default="", max_length=5000)
    offer_costs: str = Field(default="", max_length=2000)
    offer_how_to_apply: str = Field(default="", max_length=5000)

    @field_validator("geometry")
    @classmethod
    def _geometry(cls, v):
        return validate_geojson(v, ("Point", "Polygon", "MultiPolygon"))

    _unique = field_validator("themes", "infrastructure")(_unique_or_none)


class LivingLabIn(LivingLabFields):
    name: str = Field(min_length=2, max_length=200)
    city: CbsCode


class LivingLabPatch(LivingLabFields):
    name: str | None = Field(default=None, min_length=2, max_length=200)
    city: CbsCode | None = None


class LivingLabOut(OutputModel):
    id: int
    name: str
    city: CityRef = Field(validation_alias="municipality")
    description: str
    geometry: dict[str, Any] | None
    themes: list[ThemeRef]
    infrastructure: list[str]
    open_to_external: bool
    regulatory_exemptions: list[str]
    contact_name: str | None
    contact_email: str | None
    status: str
    website: str | None
    offer_conditions: str
    offer_costs: str
    offer_how_to_apply: str
    owner_organisation_id: int | None
    is_demo: bool
    created_at: datetime
    updated_at: datetime


class KpiIn(InputModel):
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=40)
    name_en: str | None = Field(default=None, max_length=200)
    unit_en: str | None = Field(default=None, max_length=40)
    direction: Literal["higher", "lower"] = "higher"
    baseline: float | None = None
    target: float | None = None
    measured: float | None = None


class KpiOut(OutputModel):
    id: int
    name: str
    unit: str
    name_en: str | None = None
    unit_en: str | None = None
    direction: str
    baseline: float | None
    target: float | None
    measured: float | None


class FundingSource(InputModel):
    name: str = Field(min_length=1, max_length=200)
    amount_eur: float | None = Field(default=None, ge=0)


class PartnerIn(InputModel):
    organisation_id: int
    role: str = Field(default="partner", max_length=60)


class PartnerOut(OutputModel):
    organisation: OrganisationRef
    role: str


class ProjectFields(InputModel):
    owner_organisation_id: int | None = None
    summary: str = Field(default="", max_length=20000)
    #: English versions (optional): pages in English fall back to the Dutch text and say so.
    title_en: str | None = Field(default=None, max_length=300)
    summary_en: str | None = Field(default=None, max_length=20000)
    living_lab_id: int | None = None
    themes: list[ThemeCode] = Field(default_factory=list, max_length=20)
    start_date: date | None = None
    end_date: date | None = None
    budget_eur: float | None = Field(default=None, ge=0)
    funding_sources: list[FundingSource] = Field(default_factory=list, max_length=50)
    partners: list[PartnerIn] = Field(default_factory=list, max_length=100)
    kpis: list[KpiIn] = Field(default_factory=list, max_length=100)
    lessons: list[str] = Field(default_factory=list, max_length=100)
    #: English versions of ``lessons``, by position ("" or a shorter list: no English text for those).
    lessons_en: list[str] = Field(default_factory=list, max_length=100)
    links: list[Link] = Field(default_factory=list, max_length=50)

    _unique = field_validator("themes")(_unique_or_none)

    @model_validator(mode="after")
    def _dates(self):
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class ProjectIn(ProjectFields):
    title: str = Field(min_length=3, max_length=300)
    city: CbsCode
    status: ProjectStatus = "idea"


class ProjectPatch(ProjectFields):
    title: str | None = Field(default=None, min_length=3, max_length=300)
    city: CbsCode | None = None
    status: ProjectStatus | None = None


class LabRef(OutputModel):
    id: int
    name: str


class ProjectOut(OutputModel):
    id: int
    title: str
    summary: str
    title_en: str | None = None
    summary_en: str | None = None
    city: CityRef = Field(validation_alias="municipality")
    living_lab: LabRef | None
    themes: list[ThemeRef]
    status: str
    start_date: date | None
    end_date: date | None
    budget_eur: float | None
    funding_sources: list[dict[str, Any]]
    partners: list[PartnerOut]
    kpis: list[KpiOut]
    lessons: list[str]
    lessons_en: list[str | None] = Field(default_factory=list)
    links: list[dict[str, Any]]
    owner_organisation_id: int | None
    is_demo: bool
    created_at: datetime
    updated_at: datetime

    @field_validator("lessons", mode="before")
    @classmethod
    def _lessons(cls, v):
        return [getattr(lesson, "text", lesson) for lesson in v]


class SolutionFields(InputModel):
    owner_organisation_id: int | None = None
    description: str = Field(default="", max_length=20000)
    name_en: str | None = Field(default=None, max_length=200)
    description_en: str | None = Field(default=None, max_length=20000)
    themes: list[ThemeCode] = Field(default_factory=list, max_length=20)
    origin_project_id: int | None = None
    provider_organisation_id: int | None = None
    maturity: Maturity = "pilot"
    preconditions: list[Precondition] = Field(
        default_factory=list, max_length=len(CITY_FACTS),
        description="What a city must have for the solution to make sense (e.g. inland_port); "
                    "advice only suggests it where the city's facts include every one")

    _unique = field_validator("themes", "preconditions")(_unique_or_none)


class SolutionIn(SolutionFields):
    name: str = Field(min_length=2, max_length=200)


class SolutionPatch(SolutionFields):
    name: str | None = Field(default=None, min_length=2, max_length=200)
    maturity: Maturity | None = None


class ProjectRef(OutputModel):
    id: int
    title: str


class SolutionOut(OutputModel):
    id: int
    name: str
    description: str
    name_en: str | None = None
    description_en: str | None = None
    themes: list[ThemeRef]
    origin_project: ProjectRef | None
    provider_organisation_id: int | None
    maturity: str
    preconditions: list[str] = []
    adoption_count: int = 0
    owner_organisation_id: int | None
    is_demo: bool
    created_at: datetime
    updated_at: datetime


class AdoptionFields(InputModel):
    owner_organisation_id: int | None = None
    project_id: int | None = None
    adopted_on: date | None = None
    status: AdoptionStatus = "adopted"
    outcome: str = Field(default="", max_length=10000)


class AdoptionIn(AdoptionFields):
    solution_id: int
    city: CbsCode


class AdoptionPatch(AdoptionFields):
    status: AdoptionStatus | None = None
    outcome: str | None = Field(default=None, max_length=10000)


class SolutionRef(OutputModel):
    id: int
    name: str


class AdoptionOut(OutputModel):
    id: int
    solution: SolutionRef
    city: CityRef = Field(validation_alias="municipality")
    project: ProjectRef | None
    adopted_on: date | None
    status: str
    outcome: str
    owner_organisation_id: int | None
    is_demo: bool
    created_at: datetime
    updated_at: datetime


# --- moderated contributions ------------------------------------------------------------------

ContributionKind = Literal["project_to_lab", "adoption", "lesson", "test_application"]
ContributionStatus = Literal["pending", "accepted", "declined"]


class TestApplicationIn(InputModel):
    """An application to test in a living lab: who, what, when."""

    __test__ = False  # not a pytest class

    contact_name: str = Field(min_length=2, max_length=200)
    contact_email: Email = Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    what: str = Field(min_length=10, max_length=5000)
    start_date: date
    end_date: date

    @model_validator(mode="after")
    def _dates(self):
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class LessonIn(InputModel):
    text: str = Field(min_length=3, max_length=5000)


class DecisionIn(InputModel):
    note: str = Field(default="", max_length=2000)


class OrgRef(OutputModel):
    id: int
    name: str


class ContributionOut(OutputModel):
    id: int
    kind: str
    status: str
    contributor_organisation: OrgRef | None = Field(validation_alias="contributor")
    owner_organisation: OrgRef | None = Field(validation_alias="owner")
    living_lab: LabRef | None
    project: ProjectRef | None
    solution: SolutionRef | None
    payload: dict[str, Any]
    decided_at: datetime | None
    decision_note: str
    created_at: datetime
    updated_at: datetime
