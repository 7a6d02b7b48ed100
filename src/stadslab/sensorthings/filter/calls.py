"""Compiling the built-in functions (a mixin of the compiler).

Temporal functions take instants or intervals (an instant ``t`` is the interval
``[t, t]``; an interval property with no end is an instant). With ``a = [s1, e1]``
and ``b = [s2, e2]``, all bounds inclusive:

=================  ==========================================
``before(a, b)``   a ends before b starts: ``e1 < s2``
``after(a, b)``    a starts after b ends: ``s1 > e2``
``meets(a, b)``    a ends where b starts: ``e1 = s2``
``during(a, b)``   a lies within b: ``s2 <= s1 and e1 <= e2``
``overlaps(a, b)`` a and b share an instant: ``s1 <= e2 and s2 <= e1``
``starts(a, b)``   same start, a no longer: ``s1 = s2 and e1 <= e2``
``finishes(a, b)`` same end, a no earlier: ``e1 = e2 and s1 >= s2``
=================  ==========================================

Date parts are taken in UTC (the server stores UTC), so ``totaloffsetminutes``
of a stored instant is 0; of a literal it is the literal's own offset.
``fractionalseconds`` has millisecond precision on SQLite.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, cast, func, literal
from sqlalchemy.dialects.postgresql import JSONB

from . import ast as A
from .functions import FUNCTIONS
from .spatial import PREDICATES, pg_from_geojson, pg_from_wkt, sqlite_name
from .sqlexpr import to_utc
from .unparse import describe
from .typed import (DATE, DATETIME, GEOMETRY, INSTANTS, INTERVAL, JSON, NUMBER, STRING, TIME,
                    Val)

MIN_DATETIME = datetime(1, 1, 1, tzinfo=timezone.utc)
MAX_DATETIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
_DE9IM = re.compile(r"[0-2TF*]{9}", re.IGNORECASE)
_PARTS = ("year", "month", "day", "hour", "minute", "second")


class CallsMixin:
    def call(self, node: A.Function) -> Val:
        group = FUNCTIONS[node.name].group
        return getattr(self, f"call_{group}")(node)

    # --- strings ----------------------------------------------------------------------------

    def call_string(self, node: A.Function) -> Val:
        name, d = node.name, self.d
        args = [self.value(a) for a in node.args]
        if name == "substring":  # literal positions are clamped in Python: shallower SQL
            s = self.string(args[0])
            pos = [v.lit if v.kind == NUMBER and v.is_lit else self.number(v) for v in args[1:]]
            return Val(STRING, node, expr=d.substring(s, *pos))
        if name == "length":
            return Val(NUMBER, node, expr=d.length(self.string(args[0])), integral=True)
        if name in ("tolower", "toupper", "trim"):
            fn = {"tolower": d.lower, "toupper": d.upper, "trim": func.trim}[name]
            return Val(STRING, node, expr=fn(self.string(args[0])))
        a, b = self.string(args[0]), self.string(args[1])
        if name == "indexof":
            return Val(NUMBER, node, expr=d.indexof(a, b), integral=True)
        if name == "concat":
            return Val(STRING, node, expr=d.concat(a, b))
        if name == "substringof":
            return self.cond(node, d.contains(b, a))
        if name == "contains":
            return self.cond(node, d.contains(a, b))
        if name == "startswith":
            return self.cond(node, d.startswith(a, b))
        return self.cond(node, d.endswith(a, b))  # endswith

    # --- date and time ----------------------------------------------------------------------

    def call_datetime(self, node: A.Function) -> Val:
        name = node.name
        if name == "now":
            return Val(DATETIME, node, lit=self.now)
        if name == "mindatetime":
            return Val(DATETIME, node, lit=MIN_DATETIME)
        if name == "maxdatetime":
            return Val(DATETIME, node, lit=MAX_DATETIME)
        v = self.value(node.args[0])
        if v.is_lit and v.kind in (DATETIME, INTERVAL, DATE):
            return self.fold_datetime(node, v)
        if v.kind == DATE:
            if name in ("year", "month", "day"):
                return Val(NUMBER, node, expr=self.d.dt_part(name, v.expr, is_date=True),
                           integral=True)
            if name == "date":
                return Val(DATE, node, expr=v.expr)
            raise self.fail(f"{name}() needs a date-time, but '{self.describe(v)}' is a date", node)
        if v.kind not in INSTANTS:
            raise self.fail(f"{name}() needs a date-time, but '{self.describe(v)}' is a {v.kind}",
                            node)
        expr = v.expr  # an interval's start
        if name in _PARTS:
            return Val(NUMBER, node, expr=self.d.dt_part(name, expr), integral=True)
        if name == "fractionalseconds":
            return Val(NUMBER, node, expr=self.d.fractional_seconds(expr))
        if name == "date":
            return Val(DATE, node, expr=self.d.date_of(expr))
        if name == "time":
            return Val(TIME, node, expr=self.d.time_of(expr))
        return Val(NUMBER, node, lit=0, integral=True)  # totaloffsetminutes: stored in UTC

    def fold_datetime(self, node: A.Function, v: Val) -> Val:
        name = node.name
        if v.kind == DATE:
            day = v.lit
            if name in ("year", "month", "day"):
                return Val(NUMBER, node, lit=getattr(day, name), integral=True)
            if name == "date":
                return Val(DATE, node, lit=day)
            if name == "time":
                return Val(TIME, node, lit=time())
            if name == "fractionalseconds":
                return Val(NUMBER, node, lit=Decimal(0))
            return Val(NUMBER, node, lit=0, integral=True)
        original = v.lit
        moment = to_utc(original)
        if name in _PARTS:
            return Val(NUMBER, node, lit=getattr(moment, name), integral=True)
        if name == "fractionalseconds":
            return Val(NUMBER, node, lit=Decimal(moment.microsecond) / Decimal(1_000_000))
        if name == "date":
            return Val(DATE, node, lit=moment.date())
        if name == "time":
            return Val(TIME, node, lit=moment.time())
        offset = original.utcoffset()
        return Val(NUMBER, node, lit=int(offset.total_seconds() // 60) if offset else 0,
                   integral=True)

    # --- math -------------------------------------------------------------------------------

    def call_math(self, node: A.Function) -> Val:
        v = self.value(node.args[0])
        if v.kind == NUMBER and v.is_lit:
            x = Decimal(v.lit)
            if node.name == "round":
                out = int(x.to_integral_value(rounding=ROUND_HALF_UP))
            else:
                out = (math.floor if node.name == "floor" else math.ceil)(x)
            return Val(NUMBER, node, lit=out, integral=True)
        fn = {"round": self.d.round, "floor": self.d.floor, "ceiling": self.d.ceiling}[node.name]
        return Val(NUMBER, node, expr=fn(self.number(v)), integral=True)

    # --- geospatial -------------------------------------------------------------------------

    def geometry(self, v: Val):
        postgres = self.d.name == "postgresql"
        if v.kind == GEOMETRY and v.is_lit:
            if postgres:
                import shapely.wkt
                return pg_from_wkt(shapely.wkt.loads(v.lit).wkt)
            return self.d.bind_string(v.lit)
        if v.kind == GEOMETRY:
            return pg_from_geojson(cast(v.expr, JSONB)) if postgres else v.expr
        if v.kind == JSON:
            return pg_from_geojson(self.d.json_member(v.rv)) if postgres else self.d.json_geometry(v.rv)
        raise self.fail(f"expected a geometry, but '{self.describe(v)}' is a {v.kind}", v.node)

    def call_geo(self, node: A.Function) -> Val:
        name = node.name
        postgres = self.d.name == "postgresql"
        if not getattr(self.root, "spatial", True):
            raise self.fail(f"{name}(): geospatial functions are not available on this server "
                            "(PostGIS is not installed)", node)
        args = [self.value(a) for a in node.args]
        if name == "geo.length":
            g = self.geometry(args[0])
            return Val(NUMBER, node, expr=func.ST_Length(g) if postgres else
                       func.stadslab_geo_length(g))
        a, b = self.geometry(args[0]), self.geometry(args[1])
        if name == "geo.distance":
            return Val(NUMBER, node, expr=func.ST_Distance(a, b) if postgres else
                       func.stadslab_geo_distance(a, b))
        if name == "st_relate":
            pattern = node.args[2]
            if not isinstance(pattern, A.StringLit) or not _DE9IM.fullmatch(pattern.value):
                raise self.fail("st_relate() needs a DE-9IM pattern string of 9 characters from "
                                "0, 1, 2, T, F and *, such as 'T*F**F***'", pattern)
            p = literal(pattern.value.upper())
            return self.cond(node, func.ST_Relate(a, b, p) if postgres else
                             func.stadslab_st_relate(a, b, p) == 1)
        method, pg_name = PREDICATES[name]
        if postgres:
            return self.cond(node, getattr(func, pg_name)(a, b))
        return self.cond(node, getattr(func, sqlite_name(method))(a, b) == 1)

    # --- temporal ---------------------------------------------------------------------------

    def call_temporal(self, node: A.Function) -> Val:
        a, b = (self.value(x) for x in node.args)
        for v in (a, b):
            if v.kind not in INSTANTS and not (v.kind == DATE and v.is_lit):
                raise self.fail(f"{node.name}() compares date-times or time intervals, but "
                                f"'{self.describe(v)}' is a {v.kind}", v.node)
        like = self.column_of(a, b)
        s1, e1 = self.bounds(a, like)
        s2, e2 = self.bounds(b, like)
        expr = {
            "before": lambda: e1 < s2,
            "after": lambda: s1 > e2,
            "meets": lambda: e1 == s2,
            "during": lambda: and_(s2 <= s1, e1 <= e2),
            "overlaps": lambda: and_(s1 <= e2, s2 <= e1),
            "starts": lambda: and_(s1 == s2, e1 <= e2),
            "finishes": lambda: and_(e1 == e2, s1 >= s2),
        }[node.name]()
        return self.cond(node, expr)

    @staticmethod
    def describe(v: Val) -> str:
        return describe(v.node)


__all__ = ["CallsMixin", "MIN_DATETIME", "MAX_DATETIME"]
