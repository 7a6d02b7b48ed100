"""The ``$filter`` syntax tree: small frozen dataclasses, compared by value.

Every node carries ``pos`` (0-based offset of its first character in the
source text) for error messages; ``pos`` takes no part in equality, so a tree
parsed from ``unparse(tree)`` equals the original. Logical ``and``/``or`` are
n-ary so that long chains do not make deep trees; a parenthesised group stays a
nested node, which keeps the round trip exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Union

COMPARISON_OPS = ("eq", "ne", "gt", "ge", "lt", "le")
ARITHMETIC_OPS = ("add", "sub", "mul", "div", "divby", "mod")


@dataclass(frozen=True, slots=True)
class Node:
    pos: int = field(default=-1, compare=False, repr=False, kw_only=True)


# --- literals -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StringLit(Node):
    value: str


@dataclass(frozen=True, slots=True)
class NumberLit(Node):
    """An integer (``int``) or a decimal/double (``Decimal``, kept exact for the round trip)."""

    value: int | Decimal


@dataclass(frozen=True, slots=True)
class BoolLit(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class NullLit(Node):
    pass


@dataclass(frozen=True, slots=True)
class DateTimeLit(Node):
    """A time instant; always timezone-aware (the grammar requires an offset)."""

    value: datetime


@dataclass(frozen=True, slots=True)
class DateLit(Node):
    value: date


@dataclass(frozen=True, slots=True)
class TimeLit(Node):
    value: time


@dataclass(frozen=True, slots=True)
class DurationLit(Node):
    value: timedelta


@dataclass(frozen=True, slots=True)
class IntervalLit(Node):
    """``start/end`` of two instants, as STA writes phenomenonTime intervals."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class GeometryLit(Node):
    """``geography'POINT(4.9 52.4)'`` or ``geometry'...'``; ``wkt`` is the text between quotes."""

    kind: str  # "geography" | "geometry"
    wkt: str


# --- references and operators --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Property(Node):
    """A property path such as ``Datastream/ObservedProperty/name`` or ``properties/tags[0]``.

    ``variable`` is set when the path starts at a lambda variable (``d/name`` in
    ``Datastreams/any(d: d/name eq 'x')``); integer segments are JSON array indexes.
    """

    path: tuple[str | int, ...]
    variable: str | None = None


@dataclass(frozen=True, slots=True)
class Function(Node):
    name: str  # canonical lower-case name, e.g. "geo.intersects"
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # one of COMPARISON_OPS
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str  # one of ARITHMETIC_OPS
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Negate(Node):
    operand: Expr


@dataclass(frozen=True, slots=True)
class And(Node):
    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Expr


@dataclass(frozen=True, slots=True)
class ListExpr(Node):
    """The parenthesised list on the right of ``in``."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class In(Node):
    """``left in (a, b)`` (right is a :class:`ListExpr`) or ``'tag' in properties/tags``."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Lambda(Node):
    """``Datastreams/any(d: <predicate>)``; ``all`` likewise. No variable means ``any()``."""

    kind: str  # "any" | "all"
    collection: Property
    variable: str | None
    predicate: Expr | None


Expr = Union[StringLit, NumberLit, BoolLit, NullLit, DateTimeLit, DateLit, TimeLit, DurationLit,
             IntervalLit, GeometryLit, Property, Function, Compare, Arith, Negate, And, Or, Not,
             ListExpr, In, Lambda]

LITERALS = (StringLit, NumberLit, BoolLit, NullLit, DateTimeLit, DateLit, TimeLit, DurationLit,
            IntervalLit, GeometryLit)


def children(node: Node) -> tuple[Node, ...]:
    """Direct sub-expressions, for walkers that should not know every node type."""
    if isinstance(node, (Compare, Arith, In)):
        return (node.left, node.right)
    if isinstance(node, (Negate, Not)):
        return (node.operand,)
    if isinstance(node, (And, Or)):
        return node.operands
    if isinstance(node, Function):
        return node.args
    if isinstance(node, ListExpr):
        return node.items
    if isinstance(node, Lambda):
        return (node.collection,) + ((node.predicate,) if node.predicate is not None else ())
    return ()
