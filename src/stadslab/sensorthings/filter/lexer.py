"""Tokeniser for ``$filter`` text.

Literals are decoded here (strings, numbers, ISO 8601 instants, intervals,
dates, times, durations and WKT geometries), so that every malformed literal is
reported at its own column. OData has no binary minus, so ``-`` directly before
a digit always starts a negative number; a lone ``-`` is the negation operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

from .errors import FilterSyntaxError

# Token kinds
STRING, NUMBER, DATETIME, DATE, TIME, INTERVAL, DURATION, GEO = (
    "string", "number", "datetime", "date", "time", "interval", "duration", "geo")
IDENT, LPAREN, RPAREN, COMMA, COLON, SLASH, LBRACKET, RBRACKET, MINUS, EOF = (
    "identifier", "(", ")", ",", ":", "/", "[", "]", "-", "end of input")

LITERAL_KINDS = frozenset({STRING, NUMBER, DATETIME, DATE, TIME, INTERVAL, DURATION, GEO})

MAX_INT = 2**63 - 1
MAX_DECIMAL = Decimal("1e308")
MIN_DECIMAL = Decimal("1e-308")

_PUNCT = {"(": LPAREN, ")": RPAREN, ",": COMMA, ":": COLON, "/": SLASH, "[": LBRACKET,
          "]": RBRACKET}
_WS = " \t\r\n"

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,12}))?)?"
    r"([Zz]|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,12}))?)?")
_NUMBER = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")
_IDENT = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*|[$@][^\W\d]\w*(?:\.[^\W\d]\w*)*")
_DURATION = re.compile(
    r"(-)?P(?:(\d{1,9})D)?(?:T(?:(\d{1,11})H)?(?:(\d{1,13})M)?(?:(\d{1,15}(?:\.\d{1,12})?)S)?)?",
    re.IGNORECASE)
_SRID = re.compile(r"\s*SRID\s*=\s*(\d+)\s*;", re.IGNORECASE)
_TYPED_QUOTES = ("geography", "geometry", "duration")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    value: object
    pos: int
    text: str

    def describe(self) -> str:
        if self.kind == EOF:
            return "the end of the filter"
        text = self.text if len(self.text) <= 30 else self.text[:27] + "..."
        return f"'{text}'"


def _fail(message: str, pos: int) -> FilterSyntaxError:
    return FilterSyntaxError(message, pos)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WS:
            i += 1
        if i >= n:
            tokens.append(Token(EOF, None, n, ""))
            return tokens
        c = text[i]
        if c == "'":
            value, end = _read_quoted(text, i)
            tokens.append(Token(STRING, value, i, text[i:end]))
            i = end
        elif c.isdigit() and c.isascii():
            tok = _read_digits(text, i, negative=False)
            tokens.append(tok)
            i = tok.pos + len(tok.text)
        elif c == "-":
            if i + 1 < n and text[i + 1].isascii() and text[i + 1].isdigit():
                tok = _read_digits(text, i + 1, negative=True)
                if tok.kind != NUMBER:
                    raise _fail(f"a minus sign can only precede a number, not the {tok.kind}", i)
                tokens.append(Token(NUMBER, tok.value, i, "-" + tok.text))
                i = tok.pos + len(tok.text)
            else:
                tokens.append(Token(MINUS, "-", i, "-"))
                i += 1
        elif c in _PUNCT:
            tokens.append(Token(_PUNCT[c], c, i, c))
            i += 1
        else:
            m = _IDENT.match(text, i)
            if not m:
                shown = c if c.isprintable() and not c.isspace() else repr(c)
                raise _fail(f"unexpected character '{shown}'", i)
            word = m.group(0)
            end = m.end()
            if word.lower() in _TYPED_QUOTES and end < n and text[end] == "'":
                raw, qend = _read_quoted(text, end)
                tokens.append(_typed_literal(word.lower(), raw, i, end, text[i:qend]))
                i = qend
            else:
                tokens.append(Token(IDENT, word, i, word))
                i = end


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read ``'...'`` with ``''`` as an escaped quote; return (value, index after it)."""
    parts: list[str] = []
    i = start + 1
    n = len(text)
    while True:
        j = text.find("'", i)
        if j < 0:
            raise _fail("unterminated string: add a closing ' (write '' for a quote inside)", start)
        parts.append(text[i:j])
        if j + 1 < n and text[j + 1] == "'":
            parts.append("'")
            i = j + 2
            continue
        return "".join(parts), j + 1


def _read_digits(text: str, i: int, negative: bool) -> Token:
    sign = -1 if negative else 1
    m = _DATETIME.match(text, i)
    if m:
        start = _datetime_from(m, i)
        end = m.end()
        if end + 1 < len(text) and text[end] == "/" and text[end + 1].isdigit():
            m2 = _DATETIME.match(text, end + 1)
            if not m2:
                raise _fail("expected the end instant of the interval (like 2024-01-01T00:00:00Z)",
                            end + 1)
            stop = _datetime_from(m2, end + 1)
            if stop < start:
                raise _fail("interval ends before it starts", i)
            return _check_after(text, Token(INTERVAL, (start, stop), i, text[i:m2.end()]))
        return _check_after(text, Token(DATETIME, start, i, text[i:end]))
    m = _DATE.match(text, i)
    if m:
        try:
            value = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError as exc:
            raise _fail(f"invalid date '{m.group(0)}': {exc}", i) from None
        return _check_after(text, Token(DATE, value, i, m.group(0)))
    m = _TIME.match(text, i)
    if m:
        value = _time_from(m.group(1), m.group(2), m.group(3), m.group(4), i, m.group(0))
        return _check_after(text, Token(TIME, value, i, m.group(0)))
    m = _NUMBER.match(text, i)
    assert m is not None  # text[i] is a digit
    raw = m.group(0)
    if m.group(1) is None and m.group(2) is None:
        if len(raw.lstrip("0")) > 19 or int(raw) > MAX_INT:
            raise _fail(f"integer {raw} is out of range (at most 19 digits, {MAX_INT})", i)
        return _check_after(text, Token(NUMBER, sign * int(raw), i, raw))
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid decimals
        raise _fail(f"invalid number '{raw}'", i) from None
    magnitude = value.copy_abs()  # exact: abs() would round (and overflow) in the context
    if magnitude > MAX_DECIMAL or (magnitude and magnitude < MIN_DECIMAL):
        raise _fail(f"number {raw} is out of range (0 or a magnitude from 1e-308 to 1e308)", i)
    return _check_after(text, Token(NUMBER, value.copy_negate() if negative else value, i, raw))


def _check_after(text: str, tok: Token) -> Token:
    end = tok.pos + len(tok.text)
    if end < len(text) and (text[end].isalnum() or text[end] in "_."):
        raise _fail(f"unexpected '{text[end]}' right after {tok.kind} {tok.text}", end)
    return tok


def _time_from(hh, mm, ss, frac, pos, raw) -> time:
    micro = int((frac or "0").ljust(6, "0")[:6])
    try:
        return time(int(hh), int(mm), int(ss or 0), micro)
    except ValueError as exc:
        raise _fail(f"invalid time '{raw}': {exc}", pos) from None


def _datetime_from(m: re.Match, pos: int) -> datetime:
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    if tz is None:
        raise _fail(f"date-time '{m.group(0)}' needs a time zone: add Z or an offset like +01:00",
                    m.end())
    micro = int((frac or "0").ljust(6, "0")[:6])
    try:
        if tz in ("Z", "z"):
            zone = timezone.utc
        else:
            sign = 1 if tz[0] == "+" else -1
            oh, om = int(tz[1:3]), int(tz[4:6])
            if oh > 23 or om > 59:
                raise ValueError(f"offset {tz} is out of range")
            zone = timezone(sign * timedelta(hours=oh, minutes=om))
        value = datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss or 0), micro, zone)
        value.astimezone(timezone.utc)  # must exist in UTC too (year 1 minus an offset does not)
    except (ValueError, OverflowError) as exc:
        raise _fail(f"invalid date-time '{m.group(0)}': {exc}", pos) from None
    return value


def _typed_literal(kind: str, raw: str, pos: int, quote_pos: int, text: str) -> Token:
    if kind == "duration":
        return Token(DURATION, parse_duration(raw, quote_pos + 1), pos, text)
    return Token(GEO, (kind, parse_wkt(raw, quote_pos + 1)), pos, text)


def parse_duration(raw: str, pos: int) -> timedelta:
    m = _DURATION.fullmatch(raw.strip())
    if not m or not any(m.group(k) for k in (2, 3, 4, 5)) or raw.strip().upper().endswith("T"):
        raise _fail(f"invalid duration '{raw}': expected ISO 8601 like P1D, PT10M or P1DT2H30M15.5S"
                    " (days, hours, minutes, seconds)", pos)
    neg, d, h, mi, s = m.groups()
    secs = Decimal(s or "0")
    whole = int(secs)
    try:
        value = timedelta(days=int(d or 0), hours=int(h or 0), minutes=int(mi or 0),
                          seconds=whole, microseconds=int((secs - whole) * 1_000_000))
    except OverflowError:
        raise _fail(f"duration '{raw}' is out of range", pos) from None
    return -value if neg else value


def parse_wkt(raw: str, pos: int) -> str:
    """Validate WKT (optionally ``SRID=4326;``-prefixed); return it without the prefix."""
    import shapely.wkt  # local import: shapely is heavy and only geometry literals need it

    body = raw
    m = _SRID.match(raw)
    if m:
        if m.group(1) != "4326":
            raise _fail(f"only SRID 4326 (WGS 84 longitude/latitude) is supported, not {m.group(1)}",
                        pos)
        body = raw[m.end():]
    body = body.strip()
    if not body:
        raise _fail("empty geometry: expected WKT such as POINT(4.9 52.37)", pos)
    try:
        geom = shapely.wkt.loads(body)
    except Exception as exc:  # noqa: BLE001 - GEOS raises several types for bad WKT
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise _fail(f"invalid WKT geometry: {reason}", pos) from None
    if geom is None:
        raise _fail("invalid WKT geometry", pos)
    return body
