"""Comparisons and ``in`` (a mixin of the compiler): which SQL a comparison becomes per kind.

See the module docstring of ``compiler`` for the null, JSON and interval rules.
"""

from __future__ import annotations

import re

from sqlalchemy import and_, false, not_, or_, true

from . import ast as A
from .typed import (BOOLEAN, DATE, DATETIME, DURATION, GEOMETRY, INSTANTS, INTERVAL, JSON, NULL,
                    NUMBER, STRING, TIME, Val)
from .sqlexpr import to_utc
from .unparse import describe, format_datetime

_DIGITS = re.compile(r"-?[0-9]{1,18}")
_ORDER = {"gt": "__gt__", "ge": "__ge__", "lt": "__lt__", "le": "__le__"}


class CompareMixin:
    def compare(self, op: str, a: Val, b: Val, node: A.Node):
        if a.kind == NULL or b.kind == NULL:
            return self.compare_null(op, a, b)
        if a.kind == JSON or b.kind == JSON:
            return self.compare_json(op, a, b, node)
        ka, kb = a.kind, b.kind
        if ka == NUMBER and kb == STRING and b.is_lit:
            b = self.numeric_string(b, node)
        elif kb == NUMBER and ka == STRING and a.is_lit:
            a = self.numeric_string(a, node)
        ka, kb = a.kind, b.kind
        if ka == kb == NUMBER:
            return self.sql_cmp(op, *self.numbers(a, b), a, b)
        if ka == kb == STRING:
            return self.sql_cmp(op, self.string(a), self.string(b), a, b, text=True)
        if ka == kb == BOOLEAN:
            if op not in ("eq", "ne"):
                raise self.fail(f"true/false values cannot be ordered with '{op}'", node)
            return self.sql_cmp(op, self.boolean(a), self.boolean(b), a, b)
        if (ka in INSTANTS or kb in INSTANTS) and {ka, kb} <= INSTANTS | {DATE}:
            return self.compare_time(op, a, b)
        if ka == kb and ka in (DATE, TIME, DURATION):
            conv = {DATE: self.d.bind_date, TIME: self.d.bind_time,
                    DURATION: lambda td: self.d.bind_seconds(td.total_seconds())}[ka]
            x = conv(a.lit) if a.is_lit else a.expr
            y = conv(b.lit) if b.is_lit else b.expr
            return self.sql_cmp(op, x, y, a, b)
        if GEOMETRY in (ka, kb):
            raise self.fail("geometries cannot be compared with eq/gt/...; use st_equals(), "
                            "geo.intersects() or geo.distance()", node)
        raise self.fail(f"cannot compare a {ka} with a {kb} in '{describe(node)}'", node)

    def numeric_string(self, v: Val, node: A.Node) -> Val:
        """``id eq '1'`` (as the STA examples write it): a string of digits meets a number."""
        if not _DIGITS.fullmatch(v.lit):
            raise self.fail(f"cannot compare a number with the string '{v.lit[:40]}'", node)
        return Val(NUMBER, v.node, lit=int(v.lit), integral=True)

    def sql_cmp(self, op: str, x, y, a: Val, b: Val, text: bool = False):
        if op == "eq":
            if a.is_lit or b.is_lit or JSON in (a.kind, b.kind):
                return x == y
            return x.is_not_distinct_from(y)  # OData: null eq null is true
        if op == "ne":
            return x.is_distinct_from(y)
        if text:
            x = self.d.order_collate(x)
        return getattr(x, _ORDER[op])(y)

    def compare_null(self, op: str, a: Val, b: Val):
        if op not in ("eq", "ne"):
            return false()
        other = b if a.kind == NULL else a
        if other.kind == NULL:
            is_null = true()
        elif other.is_lit:
            is_null = false()
        elif other.kind == JSON:
            is_null = self.d.json_is_null(other.rv)
        else:
            is_null = other.expr.is_(None)
        return is_null if op == "eq" else not_(is_null)

    def compare_json(self, op: str, a: Val, b: Val, node: A.Node, typed_only: bool = False):
        if a.kind == JSON and b.kind == JSON:
            if op == "ne":
                return self.compare_json("eq", a, b, node).is_not(true())
            # A typed extraction is NULL for "another type" as well as "absent", so the
            # parts compare with plain SQL and null-meets-null is spelled out.
            parts = [self.sql_cmp(op, self.number(a), self.number(b), a, b),
                     self.sql_cmp(op, self.string(a), self.string(b), a, b, text=True)]
            if op == "eq":
                parts.append(self.d.json_bool(a.rv) == self.d.json_bool(b.rv))
                parts.append(and_(self.d.json_is_null(a.rv), self.d.json_is_null(b.rv)))
            return or_(*parts)
        other = b if a.kind == JSON else a
        kind = other.kind
        if op == "eq" and not typed_only and not other.is_lit and kind in (NUMBER, STRING, BOOLEAN):
            json_side = a if a.kind == JSON else b
            both_null = and_(self.d.json_is_null(json_side.rv), other.expr.is_(None))
            return or_(self.compare_json(op, a, b, node, typed_only=True), both_null)
        if kind == NUMBER:
            return self.sql_cmp(op, *self.numbers(a, b), a, b)
        if kind == STRING:
            return self.sql_cmp(op, self.string(a), self.string(b), a, b, text=True)
        if kind == BOOLEAN:
            if op not in ("eq", "ne"):
                raise self.fail(f"true/false values cannot be ordered with '{op}'", node)
            return self.sql_cmp(op, self.boolean(a), self.boolean(b), a, b)
        if kind == DATETIME and other.is_lit:
            as_text = Val(STRING, other.node, lit=format_datetime(to_utc(other.lit)))
            a, b = (a, as_text) if b is other else (as_text, b)
            return self.sql_cmp(op, self.string(a), self.string(b), a, b, text=True)
        raise self.fail(f"cannot compare a JSON value with a {kind} in '{describe(node)}'", node)

    def compare_time(self, op: str, a: Val, b: Val):
        like = self.column_of(a, b)
        s1, e1 = self.bounds(a, like)
        s2, e2 = self.bounds(b, like)
        if a.kind != INTERVAL and b.kind != INTERVAL:
            return self.sql_cmp(op, s1, s2, a, b)
        if op == "eq":
            if a.kind == INTERVAL and b.kind == INTERVAL:
                return and_(s1 == s2, e1 == e2)
            (s, e), t = ((s1, e1), s2) if a.kind == INTERVAL else ((s2, e2), s1)
            return and_(s <= t, t <= e)
        if op == "ne":
            return self.compare_time("eq", a, b).is_not(true())
        cmp = {"gt": lambda: s1 > e2, "ge": lambda: s1 >= e2,
               "lt": lambda: e1 < s2, "le": lambda: e1 <= s2}[op]()
        # Redundant (start <= end) but stated: a bound on the start column lets PostgreSQL prune
        # the month partitions of sta_observations (partitioned by start) and use start indexes.
        if op in ("lt", "le") and a.kind == INTERVAL and not a.is_lit and b.kind != INTERVAL:
            return and_(cmp, s1 < s2 if op == "lt" else s1 <= s2)
        if op in ("gt", "ge") and b.kind == INTERVAL and not b.is_lit and a.kind != INTERVAL:
            return and_(cmp, s1 > s2 if op == "gt" else s1 >= s2)
        return cmp

    # --- in ---------------------------------------------------------------------------------

    def in_(self, node: A.In):
        a = self.value(node.left)
        if isinstance(node.right, A.ListExpr):
            items = [self.value(i) for i in node.right.items]
            simple = a.kind in (NUMBER, STRING, JSON) and len({i.kind for i in items}) == 1
            kind = items[0].kind
            if simple and all(i.is_lit for i in items) and kind in (NUMBER, STRING) \
                    and (a.kind in (kind, JSON)):
                if kind == NUMBER:
                    x = self.number(a) if self.plain(a) else self.d.numeric(self.number(a))
                    return x.in_([self.d.bind_number(i.lit) for i in items])
                return self.string(a).in_([self.d.bind_string(i.lit) for i in items])
            return or_(*[self.compare("eq", a, i, node) for i in items])
        right = self.value(node.right)
        if right.kind != JSON:
            raise self.fail("the right side of 'in' must be a list like ('a', 'b') or a JSON "
                            f"array property, not a {right.kind}", node.right)
        if a.kind == NUMBER:
            return self.d.json_array_contains(right.rv, "number", self.number(a))
        if a.kind == STRING:
            return self.d.json_array_contains(right.rv, "string", self.string(a))
        if a.kind == BOOLEAN:
            return self.d.json_array_contains(right.rv, "boolean", self.boolean(a))
        raise self.fail(f"cannot look for a {a.kind} in a JSON array", node.left)

