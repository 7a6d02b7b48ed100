"""What every network-server payload format is turned into: one ``Uplink``.

The ingest service knows nothing about The Things Stack or ChirpStack; each
format module reads its own JSON and either returns an ``Uplink`` or raises
``ValidationFailed`` naming the offending field, so a misconfigured webhook
gets an answer it can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from stadslab.core.errors import ValidationFailed, field_error

from ...model.values import BadValue, in_range


@dataclass(frozen=True)
class Uplink:
    #: Unique per message and stable across redeliveries: the idempotency key.
    message_id: str
    dev_eui: str  # 16 upper-case hex digits
    received_at: datetime  # UTC; becomes the Observations' phenomenonTime
    decoded: dict[str, Any]
    device_name: str | None = None
    f_port: int | None = None
    f_cnt: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ignored:
    """A valid message that carries no measurements (e.g. a ChirpStack ``join`` event)."""

    reason: str


class PayloadFormat(Protocol):
    kind: str

    def parse(self, body: Any, params: dict[str, str]) -> Uplink | Ignored:
        """``params`` are the webhook's query parameters (ChirpStack sends ``?event=up``)."""


def invalid(loc: list[str], msg: str) -> ValidationFailed:
    where = ".".join(loc)
    return ValidationFailed(f"{where}: {msg}", errors=[field_error(loc, msg)])


def need(obj: Any, loc: list[str], kind: type | tuple[type, ...], *, required: bool = True) -> Any:
    """Walk ``loc`` into ``obj`` and check the type found there."""
    cur = obj
    for i, key in enumerate(loc):
        if not isinstance(cur, dict):
            raise invalid(loc[:i], "must be a JSON object")
        if key not in cur or cur[key] is None:
            if required:
                raise invalid(loc[:i + 1], "required field is missing")
            return None
        cur = cur[key]
    if not isinstance(cur, kind) or isinstance(cur, bool) and bool not in _as_tuple(kind):
        names = " or ".join(t.__name__ for t in _as_tuple(kind)).replace("str", "string").replace(
            "dict", "object").replace("int", "integer").replace("list", "array")
        raise invalid(loc, f"must be a {names}")
    return cur


def _as_tuple(kind) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


_EUI = re.compile(r"^[0-9A-Fa-f]{16}$")


def dev_eui(value: str, loc: list[str]) -> str:
    text = value.replace("-", "").replace(":", "")
    if not _EUI.match(text):
        raise invalid(loc, "must be a DevEUI of 16 hexadecimal digits")
    return text.upper()


_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def timestamp(value: str, loc: list[str]) -> datetime:
    """RFC 3339 with nanoseconds (both servers send 9 digits; Python keeps 6)."""
    m = _TIME.match(value.strip())
    if not m:
        raise invalid(loc, "must be an RFC 3339 timestamp such as 2024-05-01T10:00:00.123Z")
    frac = (m.group(2) or "")[:7]
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    try:
        when = datetime.fromisoformat(f"{m.group(1)}{frac}{zone}").astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: shifted to UTC it falls before year 1
        raise invalid(loc, "is not a valid date and time") from None
    try:
        return in_range(when, value)  # it becomes the Observations' phenomenonTime
    except BadValue as exc:
        raise invalid(loc, str(exc)) from None
