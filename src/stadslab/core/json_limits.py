"""Bounds on the JSON a client may store, checked at the door of every write path.

Free JSON fields (an Observation's ``result`` and ``parameters``, a Thing's
``properties``, ...) are stored as given and serialised again on every read, MQTT
notification and audit list. A value the serialisers cannot write back (nested
deeper than orjson's 255 levels, a lone UTF-16 surrogate, or ``\\u0000``, which
PostgreSQL's ``jsonb`` and text columns refuse) must therefore never be stored:
one such row would turn every page that shows it into a 500. Hence one rule,
applied where a value is accepted and before anything is written:

* a free JSON value nests at most ``max_depth`` containers deep and its JSON text
  is at most ``max_bytes`` long (``STADSLAB_JSON_MAX_DEPTH``/``_MAX_BYTES``);
* no string or member name anywhere holds a lone surrogate or U+0000.

Violations are ``BadRequest`` (400) naming the field path and the limit. The walk
is iterative, so no input can exhaust Python's recursion limit here.

The limits are process-wide, taken from ``Settings`` when the app starts
(``configure``); a process without an app (a stand-alone MQTT runtime, the CLI) uses
the ``Settings`` defaults.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from .config import Settings
from .errors import BadRequest

#: Strings no store can hold faithfully: lone surrogates (no UTF-8 form) and U+0000.
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")
_SCALARS = (int, float, bool, type(None))


@dataclass(frozen=True)
class JsonLimits:
    max_depth: int
    max_bytes: int


_current = JsonLimits(Settings.model_fields["json_max_depth"].default,
                      Settings.model_fields["json_max_bytes"].default)


def configure(settings: Settings) -> JsonLimits:
    """Take the limits from ``Settings`` (``json_max_depth``, ``json_max_bytes``) for this process."""
    global _current
    _current = JsonLimits(settings.json_max_depth, settings.json_max_bytes)
    return _current


def limits() -> JsonLimits:
    return _current


def _part(p) -> str:
    """A path element as text any response can carry (a member name may hold the surrogate)."""
    return str(p).encode("utf-8", "backslashreplace").decode("utf-8")


def _bad(loc, msg: str) -> BadRequest:
    parts = [_part(p) for p in loc] or ["body"]
    where = ".".join(parts)
    return BadRequest(f"{where}: {msg}", errors=[{"loc": parts, "field": where, "msg": msg}])


def check_text(value: str, loc) -> None:
    """A string the databases and the JSON writers can hold: no lone surrogate, no U+0000."""
    found = _UNSTORABLE.search(value)
    if found is not None:
        raise _bad(loc, "contains U+0000 (NUL), which cannot be stored" if found.group() == "\x00"
                   else "contains a lone UTF-16 surrogate (invalid Unicode)")


def check_value(value: Any, loc, bounds: JsonLimits | None = None) -> None:
    """A free JSON value that can be stored and read back: depth, size and every string.

    ``loc``: the field's path (``["Datastreams", 0, "Observations", 2, "result"]``), named in
    the error together with the limit. Scalars cost one type check (the ingest hot path).
    """
    if type(value) in _SCALARS:
        return
    bounds = bounds or _current
    if type(value) is str:
        check_text(value, loc)
        if len(value) > bounds.max_bytes:  # characters <= UTF-8 bytes: a cheap lower bound
            raise _bad(loc, f"is longer than the limit of {bounds.max_bytes} bytes")
        return
    deepest = 0
    stack: list[tuple[Any, int, tuple]] = [(value, 1, ())]
    while stack:
        item, depth, rel = stack.pop()
        deepest = max(deepest, depth)
        for key, child in (item.items() if isinstance(item, dict) else enumerate(item)):
            if type(key) is str:
                check_text(key, [*loc, *rel, key])
            if isinstance(child, str):
                check_text(child, [*loc, *rel, key])
            elif isinstance(child, (dict, list)):
                stack.append((child, depth + 1, (*rel, key)))
    if deepest > bounds.max_depth:
        raise _bad(loc, f"nesting depth {deepest} exceeds the limit of {bounds.max_depth}")
    size = len(_dumps(value))
    if size > bounds.max_bytes:
        raise _bad(loc, f"is {size} bytes of JSON, more than the limit of {bounds.max_bytes}")


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits, which orjson does not write
        return json.dumps(value).encode()


def check_strings(value: Any, loc=()) -> None:
    """Every string and member name in a whole document (no depth bound: ``loads`` has one)."""
    stack: list[tuple[Any, tuple]] = [(value, tuple(loc))]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            check_text(item, at)
        elif isinstance(item, dict):
            for key, child in item.items():
                check_text(key, (*at, key))
                stack.append((child, (*at, key)))
        elif isinstance(item, list):
            stack.extend((child, (*at, i)) for i, child in enumerate(item))


def loads(raw: bytes | str) -> Any:
    """A request body as JSON, or ``BadRequest`` that says what is wrong and where.

    orjson first: it is fast and refuses lone surrogates. What it refuses is read again
    by the standard parser, which words the error (and reads NaN/Infinity, rejected later
    by field); a document only the standard parser accepts is checked for lone surrogates,
    which it lets through and which no response could then be written with.
    """
    if not raw:
        raise BadRequest("A JSON body is required", errors=[{"loc": ["body"], "field": "body", "msg": "empty"}])
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise BadRequest("The JSON body is nested too deeply",
                         errors=[{"loc": ["body"], "field": "body", "msg": "nested too deeply"}]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        pos = getattr(exc, "pos", None)
        msg = f"Malformed JSON: {getattr(exc, 'msg', str(exc))}" + (f" at character {pos}" if pos is not None else "")
        raise BadRequest(msg, errors=[{"loc": ["body"], "field": "body", "msg": msg}]) from None
    check_strings(doc)
    return doc


#: Depth at which ``readable`` cuts a stored value: below orjson's own limit of 255 levels,
#: with room for the entity around it.
READ_DEPTH = 200
#: What stands where a value was cut.
CLIPPED = {"@stadslab.clipped": f"nested deeper than {READ_DEPTH} levels; stored before the limits existed"}


def depth(value: Any) -> int:
    """How many containers deep ``value`` nests (iterative: any stored value can be measured)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in items if isinstance(child, (dict, list)))
    return deepest


def readable(value: Any, max_depth: int = READ_DEPTH) -> Any:
    """``value`` as stored, or, when it nests deeper than any writer can write back, a copy
    with the too-deep parts replaced by ``CLIPPED``.

    The bounds above keep such values out; rows stored before them existed must still be
    readable (a page, a notification or the audit list that answers 500 for one old row
    hides every other row with it). The copy recurses at most ``max_depth`` levels.
    """
    if depth(value) <= max_depth:
        return value

    def cut(item: Any, level: int) -> Any:
        if not isinstance(item, (dict, list)):
            return item
        if level > max_depth:
            return dict(CLIPPED)
        if isinstance(item, dict):
            return {k: cut(v, level + 1) for k, v in item.items()}
        return [cut(v, level + 1) for v in item]

    return cut(value, 1)


def dumps(value: Any) -> bytes:
    """orjson's bytes of a response body; a body holding a too-deep stored value is written
    with that value clipped (``readable``) instead of failing the whole answer."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return orjson.dumps(readable(value, READ_DEPTH - 8))
