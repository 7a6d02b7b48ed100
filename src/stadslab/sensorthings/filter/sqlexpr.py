"""SQL building blocks that differ between SQLite and PostgreSQL.

The compiler speaks in terms of "the number inside this JSON value", "the
year of this instant", "string contains"; this module says how each dialect
writes that. Every value that comes from the filter text is a bound
parameter. Instants are stored in UTC: on SQLite as SQLAlchemy's text format
``YYYY-MM-DD HH:MM:SS.ffffff`` (which sorts correctly as text), on PostgreSQL
as ``timestamptz``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from decimal import Decimal

from sqlalchemy import (BigInteger, Boolean, ColumnElement, Date, DateTime, Float, Integer,
                        Numeric, String, Text, Time, case, cast, exists, extract, false, func,
                        literal, literal_column, null, or_, select)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.types import TypeDecorator

from .resolver import ResolvedValue

GEOJSON_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                 "GeometryCollection")


INT64 = 2**63

#: SQLite's parser has a fixed stack (100 entries): about 90 nested parentheses, or 30
#: nested function calls. Filters whose tree is at least this deep get their SQL measured.
GUARD_FROM_DEPTH = 5
SQLITE_NESTING_LIMIT = 80.0
_PARENS = re.compile(r"(\w?)([()])")


def to_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


class SqlDialect:
    name = "base"

    # --- literals ---------------------------------------------------------------------------

    def bind_number(self, value) -> ColumnElement:
        if isinstance(value, int):
            if -INT64 <= value < INT64:
                return literal(value, BigInteger())
            value = Decimal(value)  # folded constants can outgrow 64 bits
        return self.bind_decimal(value)

    def bind_decimal(self, value) -> ColumnElement:
        raise NotImplementedError

    def bind_string(self, value: str) -> ColumnElement:
        return literal(value, String())

    def bind_bool(self, value: bool) -> ColumnElement:
        return literal(bool(value), Boolean())

    def bind_datetime(self, value: datetime, like: ColumnElement | None = None) -> ColumnElement:
        """Bind an instant so that it compares with ``like`` (a stored column) correctly."""
        type_ = getattr(like, "type", None)
        if not isinstance(type_, (DateTime, TypeDecorator)):
            type_ = DateTime(timezone=True)
        return literal(to_utc(value), type_)

    def bind_date(self, value: date) -> ColumnElement:
        return literal(value, Date())

    def bind_time(self, value: time) -> ColumnElement:
        raise NotImplementedError

    def bind_seconds(self, value: float) -> ColumnElement:
        return literal(float(value), Float())

    # --- numbers ----------------------------------------------------------------------------

    def numeric(self, expr: ColumnElement) -> ColumnElement:
        """The expression as an exact number for arithmetic (no int overflow)."""
        return expr

    def divide(self, a, b, integral: bool) -> ColumnElement:
        raise NotImplementedError

    def modulo(self, a, b, integral: bool) -> ColumnElement:
        raise NotImplementedError


class SqliteDialect(SqlDialect):
    name = "sqlite"

    def bind_decimal(self, value) -> ColumnElement:
        return literal(float(value), Float())

    def bind_time(self, value: time) -> ColumnElement:
        return literal(f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}."
                       f"{value.microsecond // 1000:03d}", String())

    # JSON: json_type() tells the JSON type of the member, json_extract() its SQL value.
    @staticmethod
    def json_path(path) -> str:
        out = "$"
        for seg in path:
            out += f"[{seg}]" if isinstance(seg, int) else '."' + seg + '"'
        return out

    def _jt(self, rv: ResolvedValue):
        return func.json_type(rv.expr, literal(self.json_path(rv.json_path), String()))

    def _jx(self, rv: ResolvedValue):
        return func.json_extract(rv.expr, literal(self.json_path(rv.json_path), String()))

    def json_number(self, rv):
        return case((self._jt(rv).in_(["integer", "real"]), self._jx(rv)), else_=null())

    def json_string(self, rv):
        return case((self._jt(rv) == "text", self._jx(rv)), else_=null())

    def json_bool(self, rv):
        return case((self._jt(rv).in_(["true", "false"]), self._jx(rv)), else_=null())

    def json_is_null(self, rv):
        jt = self._jt(rv)
        return or_(jt.is_(None), jt == "null")

    def json_geometry(self, rv):
        return case((self._jt(rv) == "object", self._jx(rv)), else_=null())

    def json_array_contains(self, rv, kind: str, value: ColumnElement):
        each = func.json_each(rv.expr, literal(self.json_path(rv.json_path), String())) \
            .table_valued("value", "type").alias("json_item")
        types = {"number": ["integer", "real"], "string": ["text"], "boolean": ["true", "false"]}[kind]
        member = exists(select(literal(1)).select_from(each)
                        .where(each.c.type.in_(types), each.c.value == value))
        return (self._jt(rv) == "array") & member

    # instants
    def dt_part(self, part: str, expr, is_date: bool = False):
        fmt = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M",
               "second": "%S"}[part]
        return cast(func.strftime(fmt, expr), Integer)

    def fractional_seconds(self, expr):
        return cast(func.substr(func.strftime("%f", expr), 3), Float)

    def date_of(self, expr):
        return func.date(expr)

    def time_of(self, expr):
        return func.strftime("%H:%M:%f", expr)

    def dt_add_seconds(self, expr, seconds):
        modifier = func.printf("%+.3f seconds", seconds)
        return func.strftime("%Y-%m-%d %H:%M:%f", expr, modifier).op("||")(literal_column("'000'"))

    def dt_diff_seconds(self, a, b):
        # julianday() is a double of days: round to the millisecond precision SQLite keeps.
        return func.round((func.julianday(a) - func.julianday(b)) * 86400.0, 3)

    # strings
    def contains(self, a, b):
        return func.instr(a, b) > 0

    def startswith(self, a, b):
        return func.substr(a, 1, func.length(b)) == b

    def endswith(self, a, b):
        return func.substr(a, func.length(a) - func.length(b) + 1) == b

    def length(self, a):
        return func.length(a)

    def indexof(self, a, b):
        return func.instr(a, b) - 1

    def _clamp(self, value):
        if isinstance(value, (int, Decimal)):
            return literal(max(min(int(value), 1_000_000_000), 0), Integer())
        return func.max(func.min(cast(value, Integer), 1_000_000_000), 0)

    def substring(self, a, start, length=None):
        start = self._clamp(start) + 1
        if length is None:
            return func.substr(a, start)
        return func.substr(a, start, self._clamp(length))

    def lower(self, a):
        return func.stadslab_lower(a)

    def upper(self, a):
        return func.stadslab_upper(a)

    def concat(self, a, b):
        return a.op("||")(b)

    def order_collate(self, expr):
        return expr

    # numbers
    def divide(self, a, b, integral: bool):
        # .op("/"): SQLAlchemy's "/" would turn integer division into true division.
        if integral:
            return a.op("/")(func.nullif(b, 0))
        return cast(a, Float).op("/")(func.nullif(b, 0))

    def modulo(self, a, b, integral: bool):
        if integral:
            return a.op("%")(func.nullif(b, 0))
        return func.stadslab_mod(a, func.nullif(b, 0))

    def round(self, a):
        return func.round(a)

    def floor(self, a):
        return func.stadslab_floor(a)

    def ceiling(self, a):
        return func.stadslab_ceil(a)


class PostgresDialect(SqlDialect):
    name = "postgresql"

    def bind_decimal(self, value) -> ColumnElement:
        return literal(value, Numeric())

    def bind_time(self, value: time) -> ColumnElement:
        return literal(value, Time())

    def numeric(self, expr):
        return cast(expr, Numeric)

    # JSON: jsonb_typeof() on the member, #>> for its text.
    def _doc(self, rv: ResolvedValue):
        return cast(rv.expr, JSONB)

    def _path(self, rv: ResolvedValue):
        return literal([str(s) for s in rv.json_path], ARRAY(Text))

    def json_member(self, rv):
        """The JSON member as jsonb (for geometry functions)."""
        return self._doc(rv).op("#>")(self._path(rv))

    def _text(self, rv):
        return self._doc(rv).op("#>>", return_type=Text)(self._path(rv))

    def _typeof(self, rv):
        return func.jsonb_typeof(self.json_member(rv))

    def json_number(self, rv):
        return case((self._typeof(rv) == "number", cast(self._text(rv), Numeric)), else_=null())

    def json_string(self, rv):
        return case((self._typeof(rv) == "string", self._text(rv)), else_=null())

    def json_bool(self, rv):
        return case((self._typeof(rv) == "boolean", cast(self._text(rv), Boolean)), else_=null())

    def json_is_null(self, rv):
        member = self.json_member(rv)
        return or_(member.is_(None), func.jsonb_typeof(member) == "null")

    def json_geometry(self, rv):
        return case((self._typeof(rv) == "object", self.json_member(rv)), else_=null())

    def json_array_contains(self, rv, kind: str, value: ColumnElement):
        sql_type = {"number": Numeric, "string": Text, "boolean": Boolean}[kind]
        probe = func.jsonb_build_array(cast(value, sql_type))
        return case((self._typeof(rv) == "array", self.json_member(rv).op("@>", is_comparison=True)(probe)), else_=false())

    # instants
    def _utc(self, expr):
        return func.timezone("UTC", expr)

    def dt_part(self, part: str, expr, is_date: bool = False):
        source = expr if is_date else self._utc(expr)
        return cast(func.floor(extract(part, source)), BigInteger)

    def fractional_seconds(self, expr):
        micro = extract("microseconds", self._utc(expr))
        return func.mod(micro, 1_000_000) / literal(1_000_000, Numeric())

    def date_of(self, expr):
        return cast(self._utc(expr), Date)

    def time_of(self, expr):
        return cast(self._utc(expr), Time)

    def bind_seconds(self, value: float) -> ColumnElement:
        return literal(Decimal(repr(float(value))), Numeric())

    def dt_add_seconds(self, expr, seconds):
        # Clamp to +-1e11 s (~3000 years) so that absurd durations cannot push a
        # timestamp out of PostgreSQL's range (an error) instead of just matching nothing.
        clamped = func.least(func.greatest(cast(seconds, Numeric), -1e11), 1e11)
        return expr + cast(clamped, Float) * literal_column("interval '1 second'")

    def dt_diff_seconds(self, a, b):
        return extract("epoch", a - b)

    # strings
    def contains(self, a, b):
        return func.strpos(a, b) > 0

    def startswith(self, a, b):
        return func.left(a, func.char_length(b)) == b

    def endswith(self, a, b):
        return func.right(a, func.char_length(b)) == b

    def length(self, a):
        return func.char_length(a)

    def indexof(self, a, b):
        return func.strpos(a, b) - 1

    def _clamp(self, value):
        if isinstance(value, (int, Decimal)):
            return literal(max(min(int(value), 1_000_000_000), 0), Integer())
        return cast(func.least(func.greatest(cast(value, Numeric), 0), 1_000_000_000), Integer)

    def substring(self, a, start, length=None):
        start = self._clamp(start) + 1
        if length is None:
            return func.substr(a, start)
        return func.substr(a, start, self._clamp(length))

    def lower(self, a):
        return func.lower(a)

    def upper(self, a):
        return func.upper(a)

    def concat(self, a, b):
        return cast(a, Text).op("||")(cast(b, Text))

    def order_collate(self, expr):
        return expr.collate("C")

    # numbers
    def divide(self, a, b, integral: bool):
        quotient = cast(a, Numeric).op("/")(func.nullif(cast(b, Numeric), 0))
        return func.trunc(quotient) if integral else quotient

    def modulo(self, a, b, integral: bool):
        return func.mod(cast(a, Numeric), func.nullif(cast(b, Numeric), 0))

    def round(self, a):
        return func.round(cast(a, Numeric))

    def floor(self, a):
        return func.floor(cast(a, Numeric))

    def ceiling(self, a):
        return func.ceil(cast(a, Numeric))


_DIALECTS = {"sqlite": SqliteDialect(), "postgresql": PostgresDialect()}


def dialect_for(name: str) -> SqlDialect:
    try:
        return _DIALECTS[name]
    except KeyError:
        raise ValueError(f"unsupported dialect {name!r}; expected 'sqlite' or 'postgresql'") from None


def sqlite_nesting(where: ColumnElement) -> float:
    """Weighted parenthesis depth of the SQL, as SQLite's parser stack sees it.

    Measured on SQLite 3.40: a function call costs about three parser-stack
    entries per level, a plain parenthesis about one.
    """
    from sqlalchemy.dialects import sqlite

    sql = str(where.compile(dialect=sqlite.dialect()))
    stack: list[float] = []
    depth = worst = 0.0
    for m in _PARENS.finditer(sql):
        if m.group(2) == "(":
            weight = 3.3 if m.group(1) else 1.1
            stack.append(weight)
            depth += weight
            worst = max(worst, depth)
        elif stack:
            depth -= stack.pop()
    return worst


def check_sqlite_nesting(where: ColumnElement, node) -> None:
    if sqlite_nesting(where) > SQLITE_NESTING_LIMIT:
        from .errors import FilterCompileError
        raise FilterCompileError("the filter nests too deeply for the database; split it up or "
                                 "use fewer nested functions", getattr(node, "pos", 0))
