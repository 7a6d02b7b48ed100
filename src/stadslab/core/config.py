"""One source of truth for configuration: ``STADSLAB_*`` environment variables.

Settings are read once per process (``get_settings``) and passed down explicitly;
tests build their own ``Settings`` objects instead of patching the environment.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STADSLAB_", extra="ignore")

    database_url: str = "sqlite:///./stadslab.db"
    #: External base URL (e.g. https://stadslab.example.nl) used for absolute links
    #: when the platform runs behind a reverse proxy that does not send X-Forwarded-*.
    external_base_url: str | None = None
    mqtt_url: str | None = None
    #: Largest accepted request body in bytes; larger bodies get 413.
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    page_size_default: int = Field(default=20, ge=1)
    page_size_max: int = Field(default=500, ge=1)
    #: Development only: accept writes without credentials (for conformance suites).
    anonymous_writes: bool = False
    secret_key: str = "change-me-in-production"
    log_level: str = "INFO"
    #: SensorThings API paging: default and largest ``$top``.
    sta_page_size_default: int = Field(default=100, ge=1)
    sta_page_size_max: int = Field(default=10_000, ge=1)
    #: ``$count=true``: "exact" always counts; "estimate" uses the PostgreSQL planner's
    #: row estimate for large results (see docs/sensorthings.md). SQLite always counts.
    sta_count_mode: Literal["exact", "estimate"] = "exact"
    #: Below this estimated row count an exact count is made even in "estimate" mode.
    sta_count_estimate_threshold: int = Field(default=100_000, ge=0)
    #: Map background tiles (XYZ template). Default: PDOK BRT-Achtergrondkaart (WMTS, EPSG:3857).
    #: Set to an empty string to show maps without background tiles.
    map_tile_url: str = "https://service.pdok.nl/brt/achtergrondkaart/wmts/v2_0/standaard/EPSG:3857/{z}/{x}/{y}.png"
    map_tile_attribution: str = "Kaartgegevens &copy; Kadaster / PDOK"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
