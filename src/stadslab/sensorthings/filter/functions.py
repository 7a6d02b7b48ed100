"""The built-in ``$filter`` functions of OGC SensorThings API 1.1 (OData 4.0 plus STA additions).

The parser checks names and argument counts here, so "unknown function" and
"wrong number of arguments" are syntax errors with a position; the compiler
checks argument types.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Signature:
    name: str
    min_args: int
    max_args: int
    group: str

    def arity_text(self) -> str:
        if self.min_args == self.max_args:
            n = self.min_args
            return "no arguments" if n == 0 else f"{n} argument{'s' if n != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


def _sigs(group: str, spec: dict[str, tuple[int, int]]) -> dict[str, Signature]:
    return {name: Signature(name, lo, hi, group) for name, (lo, hi) in spec.items()}


FUNCTIONS: dict[str, Signature] = {
    **_sigs("string", {
        "substringof": (2, 2), "endswith": (2, 2), "startswith": (2, 2), "contains": (2, 2),
        "length": (1, 1), "indexof": (2, 2), "substring": (2, 3), "tolower": (1, 1),
        "toupper": (1, 1), "trim": (1, 1), "concat": (2, 2),
    }),
    **_sigs("datetime", {
        "year": (1, 1), "month": (1, 1), "day": (1, 1), "hour": (1, 1), "minute": (1, 1),
        "second": (1, 1), "fractionalseconds": (1, 1), "date": (1, 1), "time": (1, 1),
        "totaloffsetminutes": (1, 1), "now": (0, 0), "mindatetime": (0, 0), "maxdatetime": (0, 0),
    }),
    **_sigs("math", {"round": (1, 1), "floor": (1, 1), "ceiling": (1, 1)}),
    **_sigs("geo", {
        "geo.distance": (2, 2), "geo.length": (1, 1), "geo.intersects": (2, 2),
        "st_equals": (2, 2), "st_disjoint": (2, 2), "st_touches": (2, 2), "st_within": (2, 2),
        "st_overlaps": (2, 2), "st_crosses": (2, 2), "st_intersects": (2, 2),
        "st_contains": (2, 2), "st_relate": (3, 3),
    }),
    **_sigs("temporal", {
        "before": (2, 2), "after": (2, 2), "meets": (2, 2), "during": (2, 2),
        "overlaps": (2, 2), "starts": (2, 2), "finishes": (2, 2),
    }),
}


def lookup(name: str) -> Signature | None:
    return FUNCTIONS.get(name.lower())
