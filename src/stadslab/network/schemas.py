"""API shapes of the network registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from stadslab.core.schemas import CbsCode, InputModel, OutputModel, ThemeCode, Unique, Url

OrganisationKind = Literal["municipality", "company", "knowledge_institution", "government", "other"]


class Centroid(OutputModel):
    lat: float
    lon: float


class MunicipalityOut(OutputModel):
    code: str
    name: str
    province: str
    population: int
    land_area_km2: float
    density: float | None
    networks: list[str]
    centroid: Centroid
    #: What the city has that a solution may need (seaport, inland_port, coast, metro).
    facts: list[str] = []


class SpecialisationOut(OutputModel):
    theme: str
    label_nl: str
    label_en: str
    partners: list[str]


class MunicipalityDetail(MunicipalityOut):
    outline: dict[str, Any] | None = None
    specialisations: list[SpecialisationOut] = []


class ThemeOut(OutputModel):
    code: str
    name_nl: str
    name_en: str
    description_nl: str
    description_en: str


class CityRef(OutputModel):
    code: str
    name: str


class ThemeRef(OutputModel):
    code: str
    name_nl: str
    name_en: str


class OrganisationIn(InputModel):
    name: str = Field(min_length=2, max_length=200)
    kind: OrganisationKind
    city: CbsCode | None = None
    website: Url | None = None
    description: str = Field(default="", max_length=5000)


class OrganisationPatch(InputModel):
    name: str | None = Field(default=None, min_length=2, max_length=200)
    kind: OrganisationKind | None = None
    city: CbsCode | None = None
    website: Url | None = None
    description: str | None = Field(default=None, max_length=5000)


class OrganisationOut(OutputModel):
    id: int
    name: str
    kind: str
    city: str | None = Field(validation_alias="municipality_code")
    website: str | None
    description: str
    is_demo: bool
    created_at: datetime
    updated_at: datetime


class OrganisationRef(OutputModel):
    id: int
    name: str
    kind: str


class CoalitionIn(InputModel):
    owner_organisation_id: int | None = None
    title: str = Field(min_length=3, max_length=300)
    question: str = Field(default="", max_length=2000)
    description: str = Field(default="", max_length=10000)
    lead_city: CbsCode
    cities: list[CbsCode] = Field(default_factory=list, max_length=400)
    organisations: list[int] = Field(default_factory=list, max_length=500)
    themes: list[ThemeCode] = Field(default_factory=list, max_length=20)
    status: Literal["active", "closed"] = "active"

    _unique = field_validator("cities", "organisations", "themes")(Unique.check)


class CoalitionPatch(InputModel):
    """Fields left out stay as they are. Every field but the owner always has a value, so
    ``null`` is refused for them (a 422 naming the field): the default ``None`` only marks
    "not given" and is never validated."""

    owner_organisation_id: int | None = None
    title: str = Field(default=None, min_length=3, max_length=300)  # type: ignore[assignment]
    question: str = Field(default=None, max_length=2000)  # type: ignore[assignment]
    description: str = Field(default=None, max_length=10000)  # type: ignore[assignment]
    lead_city: CbsCode = None  # type: ignore[assignment]
    cities: list[CbsCode] = Field(default=None, max_length=400)  # type: ignore[assignment]
    organisations: list[int] = Field(default=None, max_length=500)  # type: ignore[assignment]
    themes: list[ThemeCode] = Field(default=None, max_length=20)  # type: ignore[assignment]
    status: Literal["active", "closed"] = None  # type: ignore[assignment]

    _unique = field_validator("cities", "organisations", "themes")(Unique.check)


class CoalitionOut(OutputModel):
    id: int
    title: str
    question: str
    description: str
    lead_city: str = Field(validation_alias="lead_municipality_code")
    cities: list[CityRef]
    organisations: list[OrganisationRef]
    themes: list[ThemeRef]
    status: str
    owner_organisation_id: int | None
    is_demo: bool
    created_at: datetime
    updated_at: datetime
