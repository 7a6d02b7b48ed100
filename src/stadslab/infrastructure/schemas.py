"""Request and response bodies of the infrastructure API: assets, investments, coverage."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AssetType = Literal["lorawan-gateway", "5g-site", "fibre", "public-wifi", "nb-iot", "other"]
Openness = Literal["open", "community", "private"]
Status = Literal["planned", "building", "live", "retired"]
Phase = Literal["idea", "committed", "realised"]
PartyType = Literal["state", "market", "regional", "local", "eu"]
GEOMETRY_TYPES = ("Point", "MultiPoint", "Polygon", "MultiPolygon", "LineString", "MultiLineString")


def _geometry(value: dict | None) -> dict | None:
    if value is None:
        return None
    from shapely.geometry import shape

    if value.get("type") not in GEOMETRY_TYPES:
        raise ValueError(f"must be a GeoJSON geometry of type {', '.join(GEOMETRY_TYPES)}")
    try:
        geom = shape(value)
    except Exception:  # noqa: BLE001
        raise ValueError("is not a valid GeoJSON geometry") from None
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValueError("coordinates must be WGS 84 longitude, latitude")
    return value


class AssetIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    type: AssetType
    description: str = Field("", max_length=5000)
    owner_organisation_id: int | None = None
    operator_organisation_id: int | None = None
    openness: Openness
    status: Status = "live"
    geometry: dict[str, Any] | None = None
    municipality_code: str | None = Field(None, max_length=6)
    living_lab_ids: list[int] = Field(default_factory=list, max_length=100)
    #: Claim an observed LoRaWAN gateway by its EUI (16 hex digits) or gateway id.
    gateway: str | None = Field(None, max_length=100)

    _geo = field_validator("geometry")(_geometry)


class AssetPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    type: AssetType | None = None
    description: str | None = Field(None, max_length=5000)
    owner_organisation_id: int | None = None
    operator_organisation_id: int | None = None
    openness: Openness | None = None
    status: Status | None = None
    geometry: dict[str, Any] | None = None
    municipality_code: str | None = Field(None, max_length=6)
    living_lab_ids: list[int] | None = Field(None, max_length=100)

    _geo = field_validator("geometry")(_geometry)


class GatewayOut(BaseModel):
    gateway_id: str
    eui: str | None
    reported_position: list[float] | None
    first_seen: datetime
    last_seen: datetime
    uplinks_heard: int
    messages_heard: int
    rejected_receptions: int


class AssetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    type: str
    description: str
    owner_organisation_id: int | None
    operator_organisation_id: int | None
    openness: str | None
    status: str
    geometry: dict[str, Any] | None
    municipality_code: str | None
    living_lab_ids: list[int] = []
    observed: bool
    gateway: GatewayOut | None = None
    created_at: datetime
    updated_at: datetime


class ContributionIn(BaseModel):
    party_type: PartyType
    party: str = Field("", max_length=200)
    amount_eur: float
    committed: bool = True


class ContributionOut(ContributionIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class InvestmentIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    technology: AssetType
    phase: Phase = "idea"
    cost_eur: float = Field(ge=0)
    description: str = Field("", max_length=5000)
    owner_organisation_id: int | None = None
    municipalities: list[str] = Field(default_factory=list, max_length=400)
    asset_ids: list[int] = Field(default_factory=list, max_length=200)
    loket_request_ids: list[int] = Field(default_factory=list, max_length=100)
    contributions: list[ContributionIn] = Field(default_factory=list, max_length=100)


class InvestmentOut(BaseModel):
    id: int
    title: str
    technology: str
    phase: str
    cost_eur: float
    description: str
    owner_organisation_id: int | None
    municipalities: list[str]
    asset_ids: list[int]
    loket_request_ids: list[int]
    contributions: list[ContributionOut]
    committed_eur: float
    gap_eur: float
    created_at: datetime
    updated_at: datetime
