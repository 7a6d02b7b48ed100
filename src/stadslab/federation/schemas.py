"""Federation API shapes. A peer's token goes in, never out (``has_token`` says whether one is set)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field


class PeerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    base_url: AnyHttpUrl
    token: str | None = Field(default=None, min_length=1, max_length=500)
    active: bool = True


class PeerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    base_url: AnyHttpUrl | None = None
    #: An empty string removes the token.
    token: str | None = Field(default=None, max_length=500)
    active: bool | None = None


class PeerOut(BaseModel):
    id: int
    name: str
    base_url: str
    active: bool
    has_token: bool
    created_at: datetime
    updated_at: datetime


class PeerHealth(BaseModel):
    peer_id: int
    name: str
    healthy: bool | None = Field(description="None until the first harvest")
    stale: bool = Field(description="No successful harvest for STADSLAB_FEDERATION_STALE_AFTER_SECONDS")
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    skipped: list[str]
    items: int
    latency_ms: float | None
    next_attempt_at: datetime | None
    high_water: dict[str, str]


class Source(BaseModel):
    node: str
    url: str


class NetworkItem(BaseModel):
    type: str
    id: str
    title: str
    summary: str = ""
    city_code: str | None = None
    status: str | None = None
    themes: list[str] = []
    url: str
    source: Source
    harvested: bool = Field(default=False, description="True: harvested from the peer named in source")
    stale: bool = Field(default=False, description="Its peer has not been harvested successfully for "
                                                   "STADSLAB_FEDERATION_STALE_AFTER_SECONDS")
    last_harvested_at: datetime | None = None
    updated_at: datetime | None = None
    page_url: str | None = Field(default=None, description="The item's page on its own node (harvested items)")


class NetworkItemsOut(BaseModel):
    type: str
    total: int
    local_total: int
    federated_total: int
    items: list[NetworkItem]


class Tombstone(BaseModel):
    type: str
    id: int
    deleted_at: datetime


class TombstonesOut(BaseModel):
    total: int
    items: list[Tombstone]


class NetworkSearchOut(BaseModel):
    query: str
    local_total: int
    federated_total: int
    items: list[NetworkItem]


class GraphNode(BaseModel):
    key: str
    id: str
    name: str
    maturity: str | None = None
    source: Source


class GraphEdge(BaseModel):
    solution: str
    city_code: str | None
    status: str | None
    adoption_id: str
    source: Source


class ReplicationGraph(BaseModel):
    solutions: list[GraphNode]
    adoptions: list[GraphEdge]


class HarvestOut(BaseModel):
    peers: list[dict[str, Any]]
