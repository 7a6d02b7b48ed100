"""JSON shaping of STA entities: properties, ``@iot.id``, ``@iot.selfLink`` and navigation links.

Links are absolute. The base honours a reverse proxy's ``X-Forwarded-Proto``,
``X-Forwarded-Host`` and ``X-Forwarded-Prefix``; without those,
``Settings.external_base_url``; otherwise the URL the request came in on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model.entities import EntityType, Prop
from ..model.values import format_instant, format_interval, format_time_object

STA_PREFIX = "/sta/v1.1"


@dataclass(frozen=True)
class Links:
    root: str  # e.g. https://stadslab.example.nl/sta/v1.1

    def entity(self, et: EntityType, id_: int) -> str:
        return f"{self.root}/{et.set_name}({id_})"

    def nav(self, et: EntityType, id_: int, nav: str) -> str:
        return f"{self.root}/{et.set_name}({id_})/{nav}"

    def path(self, path: str) -> str:
        return f"{self.root}/{path.lstrip('/')}"


def links_for(headers: Mapping[str, str], base_url: str, external_base_url: str | None) -> Links:
    """``base_url`` is the request's own scheme://host/ (with any ASGI root path)."""
    proto = _first(headers.get("x-forwarded-proto"))
    host = _first(headers.get("x-forwarded-host"))
    prefix = _first(headers.get("x-forwarded-prefix")) or ""
    if proto or host or prefix:
        scheme, _, rest = base_url.partition("://")
        own_host = rest.split("/", 1)[0]
        base = f"{proto or scheme}://{host or own_host}"
        prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        return Links(f"{base}{prefix}{STA_PREFIX}")
    if external_base_url:
        return Links(external_base_url.rstrip("/") + STA_PREFIX)
    return Links(base_url.rstrip("/") + STA_PREFIX)


def _first(value: str | None) -> str | None:
    if not value:
        return None
    return value.split(",")[0].strip() or None


def property_value(prop: Prop, row: Mapping[str, Any]) -> Any:
    cols = prop.columns
    if prop.kind == "instant":
        return format_instant(row[cols[0]])
    if prop.kind == "interval":
        return format_interval(row[cols[0]], row[cols[1]])
    if prop.kind == "time":
        return format_time_object(row[cols[0]], row[cols[1]])
    return row[cols[0]]


#: per entity type: (name, kind, first column, second column) of each property, and the navigation
#: names: looked up once instead of for every row of every page.
_SHAPES: dict[str, tuple[tuple[tuple[str, str, str, str | None], ...], tuple[str, ...]]] = {}


def _shape(et: EntityType):
    shape = _SHAPES.get(et.name)
    if shape is None:
        props = tuple((name, p.kind, p.columns[0], p.columns[1] if len(p.columns) > 1 else None)
                      for name, p in et.props.items())
        shape = _SHAPES[et.name] = (props, tuple(et.navs))
    return shape


def entity_json(et: EntityType, row: Mapping[str, Any], links: Links, select: list[str] | None) -> dict:
    id_ = row["id"]
    if select is not None:
        return _selected_json(et, row, links, select, id_)
    props, navs = _shape(et)
    self_link = f"{links.root}/{et.set_name}({id_})"
    out: dict[str, Any] = {"@iot.id": id_, "@iot.selfLink": self_link}
    for name, kind, first, second in props:
        if kind == "instant":
            out[name] = format_instant(row[first])
        elif kind == "time":
            out[name] = format_time_object(row[first], row[second])
        elif kind == "interval":
            out[name] = format_interval(row[first], row[second])
        else:
            out[name] = row[first]
    for name in navs:
        out[f"{name}@iot.navigationLink"] = f"{self_link}/{name}"
    return out


def _selected_json(et: EntityType, row: Mapping[str, Any], links: Links, select: list[str], id_) -> dict:
    out: dict[str, Any] = {}
    if "id" in select:
        out["@iot.id"] = id_
    for name, prop in et.props.items():
        if name in select:
            out[name] = property_value(prop, row)
    for name in et.navs:
        if name in select:
            out[f"{name}@iot.navigationLink"] = links.nav(et, id_, name)
    return out


def collection_json(items: list[dict], count: int | None, next_link: str | None) -> dict:
    out: dict[str, Any] = {}
    if count is not None:
        out["@iot.count"] = count
    if next_link:
        out["@iot.nextLink"] = next_link
    out["value"] = items
    return out
