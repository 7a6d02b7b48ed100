"""Typed intermediate values of the compiler: SQL (or a still-unbound literal) plus a kind.

Literals stay Python values until the compiler knows what they are compared
with, so an instant is bound with the column's own SQL type and a string that
looks like a number can meet a numeric id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import ast as A
from .resolver import ResolvedValue

NUMBER, STRING, BOOLEAN, DATETIME, DATE, TIME = "number", "string", "boolean", "datetime", "date", "time"
DURATION, INTERVAL, JSON, GEOMETRY, NULL = "duration", "time interval", "JSON value", "geometry", "null"

#: Kinds that place something on the time line.
INSTANTS = frozenset({DATETIME, INTERVAL})


class _NoLiteral:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_LITERAL"


NO_LITERAL: Any = _NoLiteral()


@dataclass(frozen=True)
class Val:
    kind: str
    node: A.Node
    expr: Any = None            # SQL expression (None while a literal is unbound)
    lit: Any = NO_LITERAL       # the Python value of a literal
    end: Any = None             # INTERVAL only: SQL end column, or Python end of a literal
    rv: ResolvedValue | None = None  # JSON only: where the document is
    integral: bool = False      # NUMBER known to hold whole numbers (integer division applies)
    predicate: bool = False     # BOOLEAN computed by a condition (NULL there means false)

    @property
    def is_lit(self) -> bool:
        return self.lit is not NO_LITERAL
