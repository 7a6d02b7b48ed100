"""API shapes of experiment designs and evaluations."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from stadslab.core.schemas import InputModel, validate_geojson

Resolution = Literal["day", "hour"]
Direction = Literal["lower", "higher"]


class SiteIn(InputModel):
    """A place measured in the experiment: its Datastreams, its Things, or an area (GeoJSON polygon)."""

    name: str | None = Field(default=None, max_length=120)
    datastream_ids: list[int] = Field(default_factory=list, max_length=500)
    thing_ids: list[int] = Field(default_factory=list, max_length=500)
    area: dict[str, Any] | None = None

    @field_validator("area")
    @classmethod
    def _area(cls, v):
        return validate_geojson(v, ("Polygon", "MultiPolygon"))

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in ("datastream_ids", "thing_ids", "area") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a site is given by exactly one of datastream_ids, thing_ids or area")
        return self


class PeriodIn(InputModel):
    """A period: dates are whole days (end inclusive); date-times are instants (end exclusive), UTC if no offset."""

    start: str = Field(min_length=10, max_length=40, examples=["2024-01-01"])
    end: str = Field(min_length=10, max_length=40, examples=["2024-03-31"])


class DesignKpiIn(InputModel):
    """A KPI to evaluate: a library indicator and/or one of the project's own KPIs, with its ObservedProperty."""

    kpi: str | None = Field(default=None, max_length=60, description="KPI library code, e.g. no2_concentration")
    project_kpi_id: int | None = None
    observed_property_id: int | None = None
    direction: Direction | None = None

    @model_validator(mode="after")
    def _something(self):
        if self.kpi is None and self.project_kpi_id is None:
            raise ValueError("give a library kpi code, a project_kpi_id, or both")
        return self


class DesignIn(InputModel):
    intervention_sites: list[SiteIn] = Field(min_length=1, max_length=100)
    control_sites: list[SiteIn] = Field(default_factory=list, max_length=100)
    baseline: PeriodIn
    intervention: PeriodIn
    kpis: list[DesignKpiIn] = Field(min_length=1, max_length=20)
    confidence_level: float = 0.95
    resolution: Resolution = "day"
    notes: str = Field(default="", max_length=5000)
