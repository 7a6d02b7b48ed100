"""Canonical text for a ``$filter`` tree: ``parse_filter(unparse(t)) == t``.

Used to echo a normalised filter (for example in ``@iot.nextLink``) and to
test the parser. Keywords and function names come out in lower case,
instants in UTC-or-offset ISO 8601, and parentheses only where precedence
needs them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from . import ast as A

_PREC = {"or": 10, "and": 20, "not": 25, "eq": 30, "ne": 30, "gt": 40, "ge": 40, "lt": 40,
         "le": 40, "in": 40, "add": 50, "sub": 50, "mul": 60, "div": 60, "divby": 60, "mod": 60,
         "neg": 70}
_ATOM = 100
# Literals whose text starts with a digit or '-': "-" before them would lex as a signed number.
_SIGNED_LOOKING = (A.NumberLit, A.DateLit, A.DateTimeLit, A.TimeLit, A.IntervalLit)


def _prec(node: A.Node) -> int:
    if isinstance(node, A.Or):
        return _PREC["or"]
    if isinstance(node, A.And):
        return _PREC["and"]
    if isinstance(node, A.Not):
        return _PREC["not"]
    if isinstance(node, (A.Compare, A.Arith)):
        return _PREC[node.op]
    if isinstance(node, A.In):
        return _PREC["in"]
    if isinstance(node, A.Negate):
        return _PREC["neg"]
    return _ATOM


def _wrap(node: A.Node, need_parens: bool) -> str:
    text = unparse(node)
    return f"({text})" if need_parens else text


def unparse(node: A.Node) -> str:
    """Write ``node`` back as ``$filter`` text that parses to an equal tree."""
    if isinstance(node, (A.And, A.Or)):
        p = _prec(node)
        joiner = " and " if isinstance(node, A.And) else " or "
        return joiner.join(_wrap(o, _prec(o) <= p) for o in node.operands)
    if isinstance(node, A.Not):
        return "not " + _wrap(node.operand, _prec(node.operand) < _PREC["not"])
    if isinstance(node, (A.Compare, A.Arith)):
        p = _prec(node)
        return (f"{_wrap(node.left, _prec(node.left) < p)} {node.op} "
                f"{_wrap(node.right, _prec(node.right) <= p)}")
    if isinstance(node, A.In):
        p = _PREC["in"]
        left = _wrap(node.left, _prec(node.left) < p)
        if isinstance(node.right, A.ListExpr):
            return f"{left} in {unparse(node.right)}"
        if _prec(node.right) <= p:
            raise ValueError("the right side of 'in' must be a list or bind tighter than 'in'")
        return f"{left} in {unparse(node.right)}"
    if isinstance(node, A.ListExpr):
        return "(" + ", ".join(unparse(i) for i in node.items) + ")"
    if isinstance(node, A.Negate):
        inner = node.operand
        return "-" + _wrap(inner, _prec(inner) < _PREC["neg"] or isinstance(inner, _SIGNED_LOOKING))
    if isinstance(node, A.Function):
        return f"{node.name}(" + ", ".join(unparse(a) for a in node.args) + ")"
    if isinstance(node, A.Lambda):
        head = f"{unparse(node.collection)}/{node.kind}("
        if node.variable is None or node.predicate is None:
            return head + ")"
        return head + f"{node.variable}: {unparse(node.predicate)})"
    if isinstance(node, A.Property):
        return _path(node)
    return _literal(node)


def _path(node: A.Property) -> str:
    out = node.variable or ""
    for seg in node.path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            out += f"/{seg}" if out else seg
    return out


def _literal(node: A.Node) -> str:
    if isinstance(node, A.StringLit):
        return "'" + node.value.replace("'", "''") + "'"
    if isinstance(node, A.NumberLit):
        return _number(node.value)
    if isinstance(node, A.BoolLit):
        return "true" if node.value else "false"
    if isinstance(node, A.NullLit):
        return "null"
    if isinstance(node, A.DateTimeLit):
        return format_datetime(node.value)
    if isinstance(node, A.DateLit):
        return node.value.isoformat()
    if isinstance(node, A.TimeLit):
        return node.value.isoformat()
    if isinstance(node, A.IntervalLit):
        return f"{format_datetime(node.start)}/{format_datetime(node.end)}"
    if isinstance(node, A.DurationLit):
        return f"duration'{format_duration(node.value)}'"
    if isinstance(node, A.GeometryLit):
        return f"{node.kind}'" + node.wkt.replace("'", "''") + "'"
    raise TypeError(f"not a $filter node: {node!r}")


def _number(value: int | Decimal) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans are BoolLit, not NumberLit")
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if not any(c in text for c in ".eE"):
        text += ".0"  # keep it a decimal: an integer literal would parse as int
    return text


def format_datetime(value: datetime) -> str:
    text = value.isoformat()
    if value.utcoffset() == timedelta(0) and text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def format_duration(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    secs = f"{seconds}.{value.microseconds:06d}".rstrip("0") if value.microseconds else str(seconds)
    day_part = f"{value.days}D" if value.days else ""
    time_part = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
    if secs != "0":
        time_part += f"{secs}S"
    if not day_part and not time_part:
        time_part = "0S"
    return f"{sign}P{day_part}" + (f"T{time_part}" if time_part else "")


def describe(node: A.Node, limit: int = 60) -> str:
    """A short quote of an expression for error messages."""
    text = unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."
