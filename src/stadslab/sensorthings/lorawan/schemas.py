"""Request and response shapes of the LoRaWAN admin API and webhook."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    kind: Literal["tts", "chirpstack"]
    #: Leave out to have the server generate a strong secret (returned once).
    secret: str | None = Field(default=None, min_length=16, max_length=200)
    #: Default: the caller's organisation. Only administrators may name another one.
    owner_organisation_id: int | None = Field(default=None, ge=1)


class IntegrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    kind: str
    active: bool
    owner_organisation_id: int | None = None
    webhook_path: str = ""


class IntegrationCreated(IntegrationOut):
    #: Only when the server generated it; it is not stored and cannot be shown again.
    secret: str | None = None


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dev_eui: str = Field(min_length=16, max_length=23, description="16 hex digits; '-' or ':' separators allowed")
    thing_id: int
    name: str | None = Field(default=None, max_length=255)


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str = Field(min_length=1, max_length=200, description="decoded payload field; dots for nesting")
    datastream_id: int
    scale: float | None = None
    offset: float | None = None


class MappingOut(MappingIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    integration_id: int
    dev_eui: str
    thing_id: int
    name: str | None
    mappings: list[MappingOut] = []


class UplinkResult(BaseModel):
    status: Literal["stored", "duplicate", "ignored"]
    note: str
    message_id: str | None = None
    observations: list[int] = []
    #: Mapped fields this uplink did not contain, and decoded fields nobody mapped.
    missing: list[str] = []
    unmapped: list[str] = []
    #: Gateway receptions stored with this uplink, and those refused for impossible values (why).
    receptions: int = 0
    rejected_receptions: list[str] = []
