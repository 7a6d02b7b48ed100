"""The KPI library: indicators from CITYkeys and ISO 37120/37122, kept as data (data/kpi_library.json).

The library says which SensorThings ObservedProperty measures an indicator and
which unit spellings mean the same unit, so an experiment design can be checked
before any number is computed.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from stadslab.core.errors import NotFound, ValidationFailed, field_error


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = (resources.files("stadslab.evidence") / "data" / "kpi_library.json").read_text(encoding="utf-8")
    return json.loads(text)


def library() -> list[dict[str, Any]]:
    return _data()["kpis"]


def sources() -> dict[str, Any]:
    return _data()["sources"]


def dimensions() -> dict[str, Any]:
    return _data()["dimensions"]


def by_code() -> dict[str, dict[str, Any]]:
    return {k["code"]: k for k in library()}


def get(code: str) -> dict[str, Any]:
    found = by_code().get(code)
    if found is None:
        raise NotFound(f"No KPI {code!r} in the library")
    return found


def listing(dimension: str | None = None, theme: str | None = None, measurable: bool | None = None) -> list[dict]:
    if dimension is not None and dimension not in dimensions():
        raise ValidationFailed(f"dimension must be one of {', '.join(dimensions())}",
                               errors=[field_error(["query", "dimension"], "unknown dimension")])
    out = []
    for k in library():
        if dimension and k["dimension"] != dimension:
            continue
        if theme and theme not in k["themes"]:
            continue
        if measurable is not None and (k["observed_property"] is not None) != measurable:
            continue
        out.append(k)
    return out


_SPACES = re.compile(r"\s+")


def normalise_unit(text: str | None) -> str:
    """Lower-case, micro sign for Greek mu, superscripts as digits, no spaces."""
    if not text:
        return ""
    t = text.strip().lower().replace("μ", "µ").replace("³", "3").replace("²", "2").replace("℃", "°c")
    return _SPACES.sub("", t)


def unit_spellings(kpi: dict[str, Any]) -> set[str]:
    return {normalise_unit(kpi["unit"])} | {normalise_unit(u) for u in kpi.get("unit_aliases", [])}


def datastream_unit(uom: dict | None) -> str:
    """The unit of a Datastream as written by its owner: symbol, else name."""
    uom = uom or {}
    return str(uom.get("symbol") or uom.get("name") or "")


def unit_matches(kpi: dict[str, Any], unit: str) -> bool:
    return normalise_unit(unit) in unit_spellings(kpi)


def canonical_unit(kpi: dict[str, Any] | None, unit: str) -> str:
    """The library's spelling of ``unit`` when it is one of the KPI's spellings, else a normalised form."""
    if kpi is not None and unit_matches(kpi, unit):
        return normalise_unit(kpi["unit"])
    return normalise_unit(unit)


def observed_property_matches(kpi: dict[str, Any], name: str, definition: str) -> bool:
    rule = kpi.get("observed_property")
    if not rule:
        return False
    if definition and definition in rule.get("definitions", []):
        return True
    return name.strip().lower() in {n.lower() for n in rule.get("names", [])}


def localised(kpi: dict[str, Any], lang: str) -> dict[str, Any]:
    """A library entry for the API: names and definitions in one language plus both originals."""
    lang = lang if lang in ("nl", "en") else "nl"
    refs = [{**r, "title": sources().get(r["source"], {}).get("title"),
             "url": sources().get(r["source"], {}).get("url")} for r in kpi["references"]]
    return {
        "code": kpi["code"], "dimension": kpi["dimension"],
        "dimension_label": dimensions()[kpi["dimension"]][lang],
        "name": kpi["name"][lang], "definition": kpi["definition"][lang],
        "names": kpi["name"], "definitions": kpi["definition"],
        "unit": kpi["unit"], "unit_aliases": kpi.get("unit_aliases", []), "direction": kpi["direction"],
        "valid_range": kpi.get("valid_range"), "themes": kpi["themes"],
        "observed_property": kpi.get("observed_property"), "measurable_with_sensors": kpi.get("observed_property") is not None,
        "references": refs,
    }
