"""Compile a ``$filter`` tree to a SQLAlchemy boolean expression, through a resolver.

Semantics, chosen to match OData on both dialects:

* Comparing with ``null``: ``eq null``/``ne null`` test for absence (for JSON
  members also JSON ``null``); ordering against null is false.
* A condition that SQL evaluates to NULL (a comparison with a missing value)
  counts as false, also under ``not``: ``not (name eq 'x')`` matches rows
  without a name. ``ne`` is therefore ``IS DISTINCT FROM``.
* JSON values (``result``, ``properties/...``) are compared by the type of the
  other side: ``result gt 5`` looks at numeric results only, ``result eq '5'`` at
  string results only; ``result eq null`` at JSON null or a missing member.
* Time intervals compare as ``[start, end]``: ``gt t`` means starts after t,
  ``lt t`` ends before t, ``eq t`` contains t (inclusive); see ``calls.py`` for
  the temporal functions.
* ``div`` is integer division when both operands are known integers, otherwise
  decimal (``divby`` always decimal); division or modulo by zero gives null.
"""

from __future__ import annotations

from datetime import datetime, time, timezone

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, true
from sqlalchemy.types import Integer

from . import ast as A
from .calls import CallsMixin
from .compare import CompareMixin
from .errors import FilterCompileError
from .parser import parse_filter
from .resolver import FilterResolver, ValueKind
from .sqlexpr import GUARD_FROM_DEPTH, check_sqlite_nesting, dialect_for, to_utc
from .typed import (BOOLEAN, DATE, DATETIME, DURATION, GEOMETRY, INSTANTS, INTERVAL, JSON, NULL,
                    NUMBER, STRING, TIME, Val)
from .unparse import describe

_KIND = {ValueKind.NUMBER: NUMBER, ValueKind.STRING: STRING, ValueKind.BOOLEAN: BOOLEAN,
         ValueKind.DATETIME: DATETIME, ValueKind.DATE: DATE, ValueKind.INTERVAL: INTERVAL,
         ValueKind.JSON: JSON, ValueKind.GEOMETRY: GEOMETRY}


def compile_filter(filter: str | A.Node, resolver: FilterResolver, *,
                   now: datetime | None = None) -> ColumnElement[bool]:
    """Compile ``$filter`` text (or a parsed tree) to a WHERE clause for ``resolver``'s entity.

    Raises :class:`FilterSyntaxError` / :class:`FilterCompileError` (both 400s).
    ``now`` fixes ``now()`` (defaults to the current UTC time).
    """
    node = parse_filter(filter) if isinstance(filter, str) else filter
    compiler = _Compiler(resolver, now)
    where = compiler.predicate(node)
    if compiler.d.name == "sqlite" and compiler.deepest >= GUARD_FROM_DEPTH:
        check_sqlite_nesting(where, node)
    return where


class _Compiler(CompareMixin, CallsMixin):
    def __init__(self, resolver: FilterResolver, now: datetime | None):
        self.root = resolver
        self.d = dialect_for(resolver.dialect)
        self.now = to_utc(now) if now is not None else datetime.now(timezone.utc)
        self.scope: dict[str, FilterResolver] = {}
        self.depth = 0
        self.deepest = 0

    # --- errors -----------------------------------------------------------------------------

    def fail(self, message: str, node: A.Node) -> FilterCompileError:
        return FilterCompileError(message, node.pos)

    # --- entry points -----------------------------------------------------------------------

    def predicate(self, node: A.Node) -> ColumnElement[bool]:
        v = self.value(node)
        if v.kind == BOOLEAN:
            if v.is_lit:
                return true() if v.lit else false()
            return v.expr if v.predicate else v.expr == true()
        if v.kind == JSON:
            return self.d.json_bool(v.rv) == true()
        if v.kind == NULL:
            return false()
        raise self.fail(f"expected a condition (something true or false), but "
                        f"'{describe(node)}' is a {v.kind}", node)

    def value(self, node: A.Node) -> Val:
        self.depth += 1
        self.deepest = max(self.deepest, self.depth)
        try:
            return self._value(node)
        finally:
            self.depth -= 1

    def _value(self, node: A.Node) -> Val:
        t = type(node)
        if t is A.StringLit:
            return Val(STRING, node, lit=node.value)
        if t is A.NumberLit:
            return Val(NUMBER, node, lit=node.value, integral=isinstance(node.value, int))
        if t is A.BoolLit:
            return Val(BOOLEAN, node, lit=node.value)
        if t is A.NullLit:
            return Val(NULL, node, lit=None)
        if t is A.DateTimeLit:
            return Val(DATETIME, node, lit=node.value)
        if t is A.DateLit:
            return Val(DATE, node, lit=node.value)
        if t is A.TimeLit:
            return Val(TIME, node, lit=node.value)
        if t is A.DurationLit:
            return Val(DURATION, node, lit=node.value)
        if t is A.IntervalLit:
            return Val(INTERVAL, node, lit=node.start, end=node.end)
        if t is A.GeometryLit:
            return Val(GEOMETRY, node, lit=node.wkt)
        if t is A.Property:
            return self.property(node)
        if t is A.Function:
            return self.call(node)
        if t is A.Compare:
            return self.cond(node, self.compare(node.op, self.value(node.left),
                                                self.value(node.right), node))
        if t is A.And:
            return self.cond(node, and_(*[self.predicate(o) for o in node.operands]))
        if t is A.Or:
            return self.cond(node, or_(*[self.predicate(o) for o in node.operands]))
        if t is A.Not:  # IS NOT TRUE: null counts as false, and SQLite nests it cheaply
            return self.cond(node, self.predicate(node.operand).is_not(true()))
        if t is A.In:
            return self.cond(node, self.in_(node))
        if t is A.Lambda:
            return self.cond(node, self.lambda_(node))
        if t is A.Arith:
            return self.arith(node)
        if t is A.Negate:
            return self.negate(node)
        if t is A.ListExpr:
            raise self.fail("a parenthesised list can only follow 'in'", node)
        raise self.fail(f"cannot compile {type(node).__name__}", node)  # pragma: no cover

    @staticmethod
    def cond(node: A.Node, expr) -> Val:
        return Val(BOOLEAN, node, expr=expr, predicate=True)

    # --- properties and lambdas -------------------------------------------------------------

    def resolver_for(self, prop: A.Property) -> FilterResolver:
        if prop.variable is None:
            return self.root
        return self.scope[prop.variable]

    def property(self, node: A.Property) -> Val:
        resolver = self.resolver_for(node)
        rv = resolver.resolve_property(node.path)
        if rv is None:
            raise self.fail(f"unknown property '{describe(node)}'", node)
        kind = _KIND[ValueKind(rv.kind)]
        if kind == JSON:
            return Val(JSON, node, expr=rv.expr, rv=rv)
        if kind == INTERVAL:
            end = rv.end if rv.end is not None else rv.expr
            return Val(INTERVAL, node, expr=rv.expr, end=func.coalesce(end, rv.expr))
        integral = kind == NUMBER and isinstance(getattr(rv.expr, "type", None), Integer)
        return Val(kind, node, expr=rv.expr, integral=integral)

    def lambda_(self, node: A.Lambda):
        resolver = self.resolver_for(node.collection)
        variable = node.variable or "_"

        def build(inner: FilterResolver):
            if node.predicate is None:
                return true()
            saved = self.scope
            self.scope = {**saved, variable: inner}
            try:
                cond = self.predicate(node.predicate)
            finally:
                self.scope = saved
            return cond if node.kind == "any" else cond.is_not(true())

        exists_ = resolver.resolve_any(tuple(str(s) for s in node.collection.path), variable, build)
        if exists_ is None:
            raise self.fail(f"'{describe(node.collection)}' is not a collection of related "
                            f"entities, so {node.kind}() cannot apply", node.collection)
        return exists_ if node.kind == "any" else not_(exists_)

    # --- coercions --------------------------------------------------------------------------

    def number(self, v: Val):
        if v.kind == JSON:
            return v.rv.number if v.rv.number is not None else self.d.json_number(v.rv)
        if v.kind == NUMBER:
            return self.d.bind_number(v.lit) if v.is_lit else v.expr
        raise self.fail(f"expected a number, but '{describe(v.node)}' is a {v.kind}", v.node)

    def numbers(self, a: Val, b: Val):
        """Both sides as numbers that compare without error.

        On PostgreSQL a float8 column compared with a computed NUMERIC makes the
        server cast the NUMERIC to float8, which fails beyond 1e308; so unless
        both sides are plain (literals or stored columns, which stay
        index-friendly) both are compared as NUMERIC.
        """
        x, y = self.number(a), self.number(b)
        if not (self.plain(a) and self.plain(b)):
            x, y = self.d.numeric(x), self.d.numeric(y)
        return x, y

    @staticmethod
    def plain(v: Val) -> bool:
        if v.is_lit:
            return True
        if v.kind == JSON:
            return v.rv.number is not None
        return isinstance(v.node, A.Property)

    def string(self, v: Val):
        if v.kind == JSON:
            return v.rv.string if v.rv.string is not None else self.d.json_string(v.rv)
        if v.kind == STRING:
            return self.d.bind_string(v.lit) if v.is_lit else v.expr
        raise self.fail(f"expected a string, but '{describe(v.node)}' is a {v.kind}", v.node)

    def boolean(self, v: Val):
        if v.kind == JSON:
            return self.d.json_bool(v.rv)
        if v.kind == BOOLEAN:
            if v.is_lit:
                return self.d.bind_bool(v.lit)
            return v.expr.is_(true()) if v.predicate else v.expr
        raise self.fail(f"expected true or false, but '{describe(v.node)}' is a {v.kind}", v.node)

    def bounds(self, v: Val, like=None):
        """``(start, end)`` SQL of an instant or interval; literals bound like ``like``."""
        if v.kind == INTERVAL:
            if v.is_lit:
                return self.d.bind_datetime(v.lit, like), self.d.bind_datetime(v.end, like)
            return v.expr, v.end
        if v.kind == DATETIME:
            e = self.d.bind_datetime(v.lit, like) if v.is_lit else v.expr
            return e, e
        if v.kind == DATE and v.is_lit:
            e = self.d.bind_datetime(datetime.combine(v.lit, time(), timezone.utc), like)
            return e, e
        raise self.fail(f"expected a date-time or time interval, but '{describe(v.node)}' is a "
                        f"{v.kind}", v.node)

    @staticmethod
    def column_of(*vals: Val):
        for v in vals:
            if not v.is_lit and v.kind in INSTANTS:
                return v.expr
        return None

    # --- arithmetic -------------------------------------------------------------------------

    def arith(self, node: A.Arith) -> Val:
        a, b, op = self.value(node.left), self.value(node.right), node.op
        kinds = (a.kind, b.kind)
        if all(k in (NUMBER, JSON) for k in kinds):
            x, y = self.d.numeric(self.number(a)), self.d.numeric(self.number(b))
            integral = a.integral and b.integral
            if op == "add":
                return Val(NUMBER, node, expr=x + y, integral=integral)
            if op == "sub":
                return Val(NUMBER, node, expr=x - y, integral=integral)
            if op == "mul":
                return Val(NUMBER, node, expr=x * y, integral=integral)
            if op == "mod":
                return Val(NUMBER, node, expr=self.d.modulo(x, y, integral), integral=integral)
            integral = integral and op == "div"
            return Val(NUMBER, node, expr=self.d.divide(x, y, integral), integral=integral)
        if kinds in ((DATETIME, DURATION), (DURATION, DATETIME)) and op in ("add", "sub"):
            dt, dur = (a, b) if a.kind == DATETIME else (b, a)
            if op == "sub" and dt is b:
                raise self.fail("cannot subtract a date-time from a duration", node)
            sign = -1 if op == "sub" else 1
            if dt.is_lit and dur.is_lit:
                try:
                    return Val(DATETIME, node, lit=dt.lit + sign * dur.lit)
                except OverflowError:
                    raise self.fail("the resulting date-time is out of range", node) from None
            start = self.bounds(dt)[0]
            return Val(DATETIME, node, expr=self.d.dt_add_seconds(start, sign * self.seconds(dur)))
        if kinds in ((INTERVAL, DURATION), (DURATION, INTERVAL)) and op in ("add", "sub"):
            span, dur = (a, b) if a.kind == INTERVAL else (b, a)
            if op == "sub" and span is b:
                raise self.fail("cannot subtract a time interval from a duration", node)
            sign = -1 if op == "sub" else 1
            if span.is_lit and dur.is_lit:
                try:
                    return Val(INTERVAL, node, lit=span.lit + sign * dur.lit,
                               end=span.end + sign * dur.lit)
                except OverflowError:
                    raise self.fail("the resulting time interval is out of range", node) from None
            start, end = self.bounds(span)
            secs = sign * self.seconds(dur)
            return Val(INTERVAL, node, expr=self.d.dt_add_seconds(start, secs),
                       end=self.d.dt_add_seconds(end, secs))
        if kinds == (DATETIME, DATETIME) and op == "sub":
            return Val(DURATION, node, expr=self.d.dt_diff_seconds(self.bounds(a)[0],
                                                                   self.bounds(b)[0]))
        if kinds == (DURATION, DURATION) and op in ("add", "sub"):
            if a.is_lit and b.is_lit:
                return Val(DURATION, node, lit=a.lit + b.lit if op == "add" else a.lit - b.lit)
            x, y = self.seconds(a), self.seconds(b)
            return Val(DURATION, node, expr=x + y if op == "add" else x - y)
        if kinds in ((DURATION, NUMBER), (NUMBER, DURATION)) and op == "mul" or \
                kinds == (DURATION, NUMBER) and op in ("div", "divby"):
            dur, num = (a, b) if a.kind == DURATION else (b, a)
            x = self.seconds(dur)
            y = self.d.numeric(self.number(num))
            return Val(DURATION, node, expr=x * y if op == "mul" else self.d.divide(x, y, False))
        raise self.fail(f"cannot {op} a {a.kind} and a {b.kind}", node)

    def seconds(self, v: Val):
        if v.is_lit:
            return self.d.bind_seconds(v.lit.total_seconds())
        return v.expr

    def negate(self, node: A.Negate) -> Val:
        v = self.value(node.operand)
        if v.kind == NUMBER and v.is_lit:  # copy_negate: exact, unlike -Decimal (context rounding)
            value = -v.lit if isinstance(v.lit, int) else v.lit.copy_negate()
            return Val(NUMBER, node, lit=value, integral=v.integral)
        if v.kind in (NUMBER, JSON):
            return Val(NUMBER, node, expr=-self.d.numeric(self.number(v)), integral=v.integral)
        if v.kind == DURATION:
            if v.is_lit:
                return Val(DURATION, node, lit=-v.lit)
            return Val(DURATION, node, expr=-v.expr)
        raise self.fail(f"cannot negate a {v.kind}", node)


__all__ = ["compile_filter"]
