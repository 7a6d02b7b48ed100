"""Schema building blocks shared by every capability."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

CbsCode = Annotated[str, Field(pattern=r"^GM\d{4}$", description="CBS municipality code, e.g. GM0363",
                               examples=["GM0363"])]
ThemeCode = Annotated[str, Field(pattern=r"^[a-z0-9-]{2,40}$", examples=["mobility"])]
Url = Annotated[str, Field(pattern=r"^https?://[^\s]{1,290}$", max_length=300)]


class InputModel(BaseModel):
    """Strict input: unknown fields are rejected, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Link(InputModel):
    title: str = Field(min_length=1, max_length=200)
    url: Url


def validate_geojson(value: dict[str, Any] | None, allowed: tuple[str, ...]) -> dict[str, Any] | None:
    """Checks that a dict is a valid GeoJSON geometry of an allowed type in WGS84 ranges."""
    if value is None:
        return None
    from shapely.geometry import shape

    from .errors import BadRequest
    from .json_limits import check_value

    try:  # stored as given, members beyond the geometry too: it must be readable back
        check_value(value, ["geometry"])
    except BadRequest as exc:  # as a field error, like every other problem of a registry record
        raise ValueError(exc.errors[0]["msg"]) from None

    gtype = value.get("type") if isinstance(value, dict) else None
    if gtype not in allowed:
        raise ValueError(f"geometry type must be one of {', '.join(allowed)}, got {gtype!r}")
    try:
        geom = shape(value)
    except Exception as exc:  # noqa: BLE001 - shapely raises many types for bad input
        raise ValueError(f"invalid GeoJSON geometry: {exc}") from None
    if geom.is_empty:
        raise ValueError("geometry is empty")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValueError("coordinates must be WGS84 longitude/latitude")
    if not geom.is_valid:
        raise ValueError("geometry is not valid (e.g. self-intersecting polygon)")
    return value


class Unique:
    """Validator helper: rejects duplicate entries in a list field."""

    @staticmethod
    def check(values: list) -> list:
        seen = set()
        for v in values:
            if v in seen:
                raise ValueError(f"duplicate entry {v!r}")
            seen.add(v)
        return values


__all__ = ["CbsCode", "ThemeCode", "Url", "InputModel", "OutputModel", "Link", "validate_geojson",
           "Unique", "field_validator"]
