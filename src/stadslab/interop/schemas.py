"""API shapes of events, funding programmes and funding calls."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from stadslab.core.schemas import CbsCode, InputModel, Link, OutputModel, ThemeCode, Unique, Url
from stadslab.network.schemas import CityRef, OrganisationRef, ThemeRef

from . import timeutil
from .models import CALL_STATUSES, EVENT_KINDS, PROGRAMME_LEVELS

EventKind = Literal[EVENT_KINDS]  # type: ignore[valid-type]
CallStatus = Literal[CALL_STATUSES]  # type: ignore[valid-type]
ProgrammeLevel = Literal[PROGRAMME_LEVELS]  # type: ignore[valid-type]
CountryCode = str


def _zone(v: str | None) -> str | None:
    return timeutil.check_zone(v) if v is not None else v


def _rrule(v: str | None) -> str | None:
    return timeutil.check_rrule(v) if v not in (None, "") else None


def _date_only(v):
    """A plain ``YYYY-MM-DD`` is a date (an all-day deadline), not midnight."""
    if isinstance(v, str) and len(v.strip()) == 10 and v.strip()[4] == "-" and v.strip()[7] == "-":
        try:
            return date.fromisoformat(v.strip())
        except ValueError:
            return v
    return v


def _unique(v):
    return Unique.check(v) if v is not None else v


class EventLocation(InputModel):
    name: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=120)
    country: CountryCode | None = Field(default=None, pattern=r"^[A-Z]{2}$",
                                        description="ISO 3166-1 alpha-2, e.g. ES")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_coordinates(self):
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


class RepresentativeIn(InputModel):
    name: str | None = Field(default=None, max_length=200, description="Person (optional)")
    role: str = Field(min_length=1, max_length=200, examples=["wethouder economie"])
    city: CbsCode | None = Field(default=None, description="The Dutch city represented")
    organisation_id: int | None = Field(default=None, description="The organisation represented")

    @model_validator(mode="after")
    def _represents_something(self):
        if self.city is None and self.organisation_id is None:
            raise ValueError("a representative represents a city (CBS code) or an organisation")
        return self


class EventFields(InputModel):
    owner_organisation_id: int | None = None
    description: str = Field(default="", max_length=20000)
    all_day: bool = False
    rrule: str | None = Field(default=None, max_length=500, description="RFC 5545 RRULE, e.g. FREQ=YEARLY;COUNT=3",
                              examples=["FREQ=MONTHLY;BYDAY=1TU;COUNT=10"])
    location: EventLocation | None = None
    themes: list[ThemeCode] = Field(default_factory=list, max_length=20)
    links: list[Link] = Field(default_factory=list, max_length=20)
    representatives: list[RepresentativeIn] = Field(default_factory=list, max_length=100)

    _themes = field_validator("themes")(_unique)
    _rr = field_validator("rrule")(_rrule)


class EventIn(EventFields):
    kind: EventKind
    title: str = Field(min_length=3, max_length=300)
    start: datetime = Field(description="Naive = wall-clock time in `timezone`; all-day events: the first day")
    end: datetime = Field(description="Exclusive end; all-day events: the last day (inclusive)")
    timezone: str = Field(default=timeutil.HOME_ZONE, max_length=64, description="IANA zone of the venue")

    _tz = field_validator("timezone")(_zone)


class EventPatch(EventFields):
    kind: EventKind | None = None
    title: str | None = Field(default=None, min_length=3, max_length=300)
    start: datetime | None = None
    end: datetime | None = None
    timezone: str | None = Field(default=None, max_length=64)
    all_day: bool | None = None  # type: ignore[assignment]

    _tz = field_validator("timezone")(_zone)


class RepresentativeOut(BaseModel):
    name: str | None
    role: str
    city: CityRef | None
    organisation: OrganisationRef | None


class EventOut(BaseModel):
    id: int
    uid: str
    kind: str
    title: str
    description: str
    start: str = Field(description="Local start in the event's zone (date for all-day events)")
    end: str
    start_utc: datetime
    end_utc: datetime
    timezone: str
    all_day: bool
    rrule: str | None
    series_end_utc: datetime | None
    location: dict[str, Any]
    themes: list[ThemeRef]
    links: list[dict[str, Any]]
    representatives: list[RepresentativeOut]
    sequence: int
    owner_organisation_id: int | None
    is_demo: bool
    created_at: datetime
    updated_at: datetime


# --- funding ------------------------------------------------------------------------------------


class ProgrammeIn(InputModel):
    code: str = Field(pattern=r"^[a-z0-9-]{2,60}$", examples=["horizon-europe"])
    name: str = Field(min_length=2, max_length=200)
    level: ProgrammeLevel = "eu"
    description: str = Field(default="", max_length=10000)
    url: Url | None = None


class ProgrammePatch(InputModel):
    code: str | None = Field(default=None, pattern=r"^[a-z0-9-]{2,60}$")
    name: str | None = Field(default=None, min_length=2, max_length=200)
    level: ProgrammeLevel | None = None
    description: str | None = Field(default=None, max_length=10000)
    url: Url | None = None


class ProgrammeOut(OutputModel):
    id: int
    code: str
    name: str
    level: str
    description: str
    url: str | None
    is_demo: bool


class FundingCallFields(InputModel):
    owner_organisation_id: int | None = None
    identifier: str | None = Field(default=None, max_length=120, examples=["HORIZON-MISS-2025-CIT-01"])
    description: str = Field(default="", max_length=20000)
    themes: list[ThemeCode] = Field(default_factory=list, max_length=20)
    opens_on: date | None = None
    budget_eur: float | None = Field(default=None, ge=0)
    url: Url | None = None

    _themes = field_validator("themes")(_unique)


class FundingCallIn(FundingCallFields):
    programme: str = Field(min_length=2, max_length=60, description="Programme code, e.g. horizon-europe")
    title: str = Field(min_length=3, max_length=300)
    deadline: datetime | date = Field(description="Date (all-day) or date-time; naive = in deadline_timezone")
    deadline_timezone: str = Field(default="Europe/Brussels", max_length=64)
    status: CallStatus = "open"

    _tz = field_validator("deadline_timezone")(_zone)
    _deadline = field_validator("deadline", mode="before")(_date_only)


class FundingCallPatch(FundingCallFields):
    programme: str | None = Field(default=None, min_length=2, max_length=60)
    title: str | None = Field(default=None, min_length=3, max_length=300)
    deadline: datetime | date | None = None
    deadline_timezone: str | None = Field(default=None, max_length=64)
    status: CallStatus | None = None

    _tz = field_validator("deadline_timezone")(_zone)
    _deadline = field_validator("deadline", mode="before")(_date_only)


class FundingCallOut(BaseModel):
    id: int
    uid: str
    programme: ProgrammeOut
    identifier: str | None
    title: str
    description: str
    themes: list[ThemeRef]
    opens_on: date | None
    deadline: str = Field(description="Local deadline in deadline_timezone (a date when all-day)")
    deadline_utc: datetime
    deadline_timezone: str
    deadline_all_day: bool
    budget_eur: float | None
    url: str | None
    status: str
    sequence: int
    owner_organisation_id: int | None
    is_demo: bool
    created_at: datetime
    updated_at: datetime


class MatchOut(BaseModel):
    score: float = Field(description="0..1: theme overlap and text similarity")
    theme_score: float
    text_score: float
    shared_themes: list[str]
    common_terms: list[str]
    days_left: int | None
    explanation: str
    funding_call: dict[str, Any] | None = None
    project: dict[str, Any] | None = None
