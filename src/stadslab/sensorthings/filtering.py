"""``$filter`` for the hub: adapts the ``sensorthings.filter`` package to these models.

The parser and compiler live in ``stadslab.sensorthings.filter`` (built
separately); this module is the only place that knows how to reach it, so the
read path stays the same whether or not filtering is available.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement

from stadslab.core.errors import BadRequest

from .entities import EntityType


def available() -> bool:
    try:
        from . import filter as _filter  # noqa: F401
    except ImportError:
        return False
    return hasattr(_filter, "compile_filter") or hasattr(_filter, "parse")


def compile_filter(entity: EntityType, text: str, where: str) -> ColumnElement:
    if not available():
        raise BadRequest(f"{where}: $filter is not available on this server yet",
                         errors=[{"loc": ["query", *where.split("/")], "field": where,
                                  "msg": "$filter is not implemented yet"}])
    raise BadRequest(f"{where}: $filter is not wired up yet")
