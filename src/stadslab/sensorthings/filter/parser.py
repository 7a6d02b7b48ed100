"""A hand-written Pratt parser for SensorThings/OData ``$filter`` expressions.

Precedence, loosest first: ``or``, ``and``, ``not``, ``eq ne``, ``gt ge lt le in``,
``add sub``, ``mul div divby mod``, unary ``-``, then primaries (literals,
property paths, function calls, lambdas, parentheses). ``not`` binds looser
than comparisons (``not name eq 'x'`` is ``not (name eq 'x')``), as in SQL; the
OData ABNF leaves this open and this reading is the one people mean.

Two guards keep hostile input cheap and safe: a maximum text length and a
maximum nesting depth, both checked before any recursion could run away, so the
only exception that ever leaves :func:`parse_filter` is
:class:`~.errors.FilterSyntaxError`.
"""

from __future__ import annotations

from . import ast as A
from . import lexer as L
from .errors import FilterSyntaxError
from .functions import FUNCTIONS, lookup
from .lexer import Token, tokenize
from .unparse import unparse

__all__ = ["parse_filter", "unparse", "DEFAULT_MAX_LENGTH", "DEFAULT_MAX_DEPTH"]

DEFAULT_MAX_LENGTH = 8000
DEFAULT_MAX_DEPTH = 32

BP_OR, BP_AND, BP_NOT, BP_EQ, BP_REL, BP_ADD, BP_MUL, BP_NEG = 10, 20, 25, 30, 40, 50, 60, 70

INFIX: dict[str, int] = {
    "or": BP_OR, "and": BP_AND,
    "eq": BP_EQ, "ne": BP_EQ,
    "gt": BP_REL, "ge": BP_REL, "lt": BP_REL, "le": BP_REL, "in": BP_REL,
    "add": BP_ADD, "sub": BP_ADD,
    "mul": BP_MUL, "div": BP_MUL, "divby": BP_MUL, "mod": BP_MUL,
}
RESERVED = frozenset({"true", "false", "null", "not"})
_OPERATOR_HINT = "an operator (eq, ne, gt, ge, lt, le, in, add, sub, mul, div, mod, and, or)"


def parse_filter(text: str, *, max_length: int = DEFAULT_MAX_LENGTH,
                 max_depth: int = DEFAULT_MAX_DEPTH) -> A.Node:
    """Parse ``$filter`` text into an immutable syntax tree.

    Raises :class:`FilterSyntaxError` (a 400 ``BadRequest``) naming the column and
    what was expected there.
    """
    if not isinstance(text, str):
        raise FilterSyntaxError("the filter must be text", 0)
    if len(text) > max_length:
        raise FilterSyntaxError(f"the filter is too long ({len(text)} characters; at most "
                                f"{max_length})", max_length)
    if not text.strip():
        raise FilterSyntaxError("the filter is empty: expected an expression such as name eq 'x'", 0)
    return _Parser(tokenize(text), max_depth).parse()


class _Parser:
    def __init__(self, tokens: list[Token], max_depth: int):
        self.tokens = tokens
        self.i = 0
        self.max_depth = max_depth
        self.variables: list[str] = []

    # --- token helpers -------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != L.EOF:
            self.i += 1
        return tok

    def expect(self, kind: str, what: str) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            raise FilterSyntaxError(f"expected {what}, found {tok.describe()}", tok.pos)
        return self.advance()

    # --- grammar -------------------------------------------------------------------------

    def parse(self) -> A.Node:
        node, _ = self.expr(0, 0)
        tok = self.peek()
        if tok.kind != L.EOF:
            if tok.kind == L.RPAREN:
                raise FilterSyntaxError("unbalanced ')': there is no '(' to close", tok.pos)
            raise FilterSyntaxError(f"expected {_OPERATOR_HINT} or the end of the filter, "
                                    f"found {tok.describe()}", tok.pos)
        return node

    def expr(self, rbp: int, nest: int) -> tuple[A.Node, int]:
        """Parse an expression whose operators bind tighter than ``rbp``; return (node, depth)."""
        if nest > self.max_depth:
            raise FilterSyntaxError(f"the filter is nested too deeply (at most {self.max_depth} "
                                    "levels)", self.peek().pos)
        left, depth = self.prefix(self.advance(), nest)
        chain: str | None = None
        while True:
            tok = self.peek()
            bp = INFIX.get(tok.text.lower()) if tok.kind == L.IDENT else None
            if bp is None or bp <= rbp:
                return left, depth
            self.advance()
            op = tok.text.lower()
            if op in ("and", "or"):
                right, rdepth = self.expr(bp, nest + 1)
                cls = A.And if op == "and" else A.Or
                if chain == op:
                    left = cls(left.operands + (right,), pos=left.pos)
                    depth = max(depth, rdepth + 1)
                else:
                    left = cls((left, right), pos=tok.pos)
                    depth = max(depth, rdepth) + 1
                chain = op
            else:
                chain = None
                if op == "in":
                    right, rdepth = self.in_right(bp, nest + 1)
                    left = A.In(left, right, pos=tok.pos)
                else:
                    right, rdepth = self.expr(bp, nest + 1)
                    cls = A.Compare if bp in (BP_EQ, BP_REL) else A.Arith
                    left = cls(op, left, right, pos=tok.pos)
                depth = max(depth, rdepth) + 1
            if depth > self.max_depth:
                raise FilterSyntaxError(f"the filter is nested too deeply (at most "
                                        f"{self.max_depth} levels)", tok.pos)

    def in_right(self, bp: int, nest: int) -> tuple[A.Node, int]:
        tok = self.peek()
        if tok.kind == L.IDENT and tok.text.lower() == "not":
            # "a in not b" has no written form that reads back the same ("(not b)" is a list)
            raise FilterSyntaxError("'in' takes a list '(…)' or a value, not a 'not …' condition; "
                                    "write 'not (a in …)'", tok.pos)
        if tok.kind != L.LPAREN:
            return self.expr(bp, nest)
        self.advance()
        items: list[A.Node] = []
        depth = 0
        while True:
            item, d = self.expr(0, nest + 1)
            items.append(item)
            depth = max(depth, d)
            sep = self.peek()
            if sep.kind == L.COMMA:
                self.advance()
                continue
            if sep.kind == L.RPAREN:
                self.advance()
                return A.ListExpr(tuple(items), pos=tok.pos), depth + 1
            raise FilterSyntaxError(f"expected ',' or ')' in the list opened at column "
                                    f"{tok.pos + 1}, found {sep.describe()}", sep.pos)

    def prefix(self, tok: Token, nest: int) -> tuple[A.Node, int]:
        kind = tok.kind
        if kind in L.LITERAL_KINDS:
            return _literal(tok), 1
        if kind == L.LPAREN:
            inner, depth = self.expr(0, nest + 1)
            close = self.peek()
            if close.kind != L.RPAREN:
                raise FilterSyntaxError(f"expected ')' to close the '(' at column {tok.pos + 1}, "
                                        f"found {close.describe()}", close.pos)
            self.advance()
            return inner, depth
        if kind == L.MINUS:
            operand, depth = self.expr(BP_NEG, nest + 1)
            return A.Negate(operand, pos=tok.pos), depth + 1
        if kind == L.IDENT:
            word = tok.text.lower()
            if word in ("true", "false"):
                return A.BoolLit(word == "true", pos=tok.pos), 1
            if word == "null":
                return A.NullLit(pos=tok.pos), 1
            if word == "not":
                operand, depth = self.expr(BP_NOT, nest + 1)
                return A.Not(operand, pos=tok.pos), depth + 1
            if self.peek().kind == L.LPAREN:
                return self.call(tok, nest)
            return self.path(tok, nest)
        if kind == L.EOF:
            raise FilterSyntaxError("the filter ends where a value was expected (a property, "
                                    "literal, function call or '(')", tok.pos)
        raise FilterSyntaxError(f"expected a value (a property, literal, function call or '('), "
                                f"found {tok.describe()}", tok.pos)

    def call(self, name_tok: Token, nest: int) -> tuple[A.Node, int]:
        name = name_tok.text.lower()
        sig = lookup(name)
        if sig is None:
            if name in ("any", "all"):
                raise FilterSyntaxError(f"{name}() must follow a collection, as in "
                                        f"Datastreams/{name}(d: d/name eq 'x')", name_tok.pos)
            raise FilterSyntaxError(f"unknown function '{name_tok.text}'; known functions: "
                                    f"{', '.join(sorted(FUNCTIONS))}", name_tok.pos)
        open_tok = self.advance()
        args: list[A.Node] = []
        depth = 0
        if self.peek().kind == L.RPAREN:
            self.advance()
        else:
            while True:
                arg, d = self.expr(0, nest + 1)
                args.append(arg)
                depth = max(depth, d)
                sep = self.peek()
                if sep.kind == L.COMMA:
                    self.advance()
                    continue
                if sep.kind == L.RPAREN:
                    self.advance()
                    break
                raise FilterSyntaxError(f"expected ',' or ')' in the arguments of {name}() opened "
                                        f"at column {open_tok.pos + 1}, found {sep.describe()}",
                                        sep.pos)
        if not sig.min_args <= len(args) <= sig.max_args:
            raise FilterSyntaxError(f"{name}() takes {sig.arity_text()}, got {len(args)}",
                                    name_tok.pos)
        return A.Function(name, tuple(args), pos=name_tok.pos), depth + 1

    def path(self, first: Token, nest: int) -> tuple[A.Node, int]:
        variable = first.text if first.text in self.variables else None
        segments: list[str | int] = [] if variable else [first.text]
        while True:
            tok = self.peek()
            if tok.kind == L.LBRACKET:
                self.advance()
                index = self.peek()
                if index.kind != L.NUMBER or not isinstance(index.value, int) or index.value < 0:
                    raise FilterSyntaxError(f"expected an array index (0, 1, ...), found "
                                            f"{index.describe()}", index.pos)
                self.advance()
                self.expect(L.RBRACKET, "']' after the array index")
                segments.append(index.value)
            elif tok.kind == L.SLASH:
                self.advance()
                seg = self.peek()
                if seg.kind != L.IDENT:
                    raise FilterSyntaxError(f"expected a property name after '/', found "
                                            f"{seg.describe()}", seg.pos)
                self.advance()
                if seg.text.lower() in ("any", "all") and self.peek().kind == L.LPAREN:
                    collection = A.Property(tuple(segments), variable, pos=first.pos)
                    return self.lambda_(seg, collection, nest)
                segments.append(seg.text)
            else:
                break
        return A.Property(tuple(segments), variable, pos=first.pos), 1

    def lambda_(self, kw: Token, collection: A.Property, nest: int) -> tuple[A.Node, int]:
        kind = kw.text.lower()
        if not collection.path:
            raise FilterSyntaxError(f"{kind}() needs a collection before it, as in "
                                    f"Datastreams/{kind}(d: ...)", kw.pos)
        self.advance()  # the "("
        if self.peek().kind == L.RPAREN:
            self.advance()
            return A.Lambda(kind, collection, None, None, pos=kw.pos), 2
        var_tok = self.peek()
        if var_tok.kind != L.IDENT or "." in var_tok.text or var_tok.text[0] in "$@":
            raise FilterSyntaxError(f"expected a lambda variable name in {kind}(x: ...), found "
                                    f"{var_tok.describe()}", var_tok.pos)
        if var_tok.text.lower() in RESERVED or var_tok.text.lower() in INFIX:
            raise FilterSyntaxError(f"'{var_tok.text}' is a keyword and cannot name a lambda "
                                    "variable", var_tok.pos)
        if var_tok.text in self.variables:
            raise FilterSyntaxError(f"lambda variable '{var_tok.text}' is already in use by an "
                                    "enclosing any()/all()", var_tok.pos)
        self.advance()
        self.expect(L.COLON, f"':' after the lambda variable '{var_tok.text}'")
        self.variables.append(var_tok.text)
        try:
            predicate, depth = self.expr(0, nest + 1)
        finally:
            self.variables.pop()
        close = self.peek()
        if close.kind != L.RPAREN:
            raise FilterSyntaxError(f"expected ')' to close {kind}( at column {kw.pos + 1}, "
                                    f"found {close.describe()}", close.pos)
        self.advance()
        return A.Lambda(kind, collection, var_tok.text, predicate, pos=kw.pos), depth + 2


def _literal(tok: Token) -> A.Node:
    k, v, pos = tok.kind, tok.value, tok.pos
    if k == L.STRING:
        return A.StringLit(v, pos=pos)
    if k == L.NUMBER:
        return A.NumberLit(v, pos=pos)
    if k == L.DATETIME:
        return A.DateTimeLit(v, pos=pos)
    if k == L.DATE:
        return A.DateLit(v, pos=pos)
    if k == L.TIME:
        return A.TimeLit(v, pos=pos)
    if k == L.INTERVAL:
        return A.IntervalLit(v[0], v[1], pos=pos)
    if k == L.DURATION:
        return A.DurationLit(v, pos=pos)
    return A.GeometryLit(v[0], v[1], pos=pos)
