"""What every network-server payload format is turned into: one ``Uplink``.

The ingest service knows nothing about The Things Stack or ChirpStack; each
format module reads its own JSON and either returns an ``Uplink`` or raises
``ValidationFailed`` naming the offending field, so a misconfigured webhook
gets an answer it can act on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from stadslab.core.errors import ValidationFailed, field_error

from ...model.values import BadValue, in_range


@dataclass(frozen=True)
class Reception:
    """One gateway's reception of a message (``rx_metadata`` / ``rxInfo``), as the network server reported it.

    ``problem`` is set when the reported values are impossible (RSSI above 0 or below -200 dBm,
    SNR beyond ±50 dB, or not numbers): such a reception is counted as rejected, never stored.
    """

    gateway_id: str
    eui: str | None
    rssi: float | None
    snr: float | None
    spreading_factor: int | None
    time: datetime | None
    latitude: float | None = None
    longitude: float | None = None
    problem: str | None = None


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
    receptions: tuple[Reception, ...] = ()


@dataclass(frozen=True)
class Ignored:
    """A valid message that carries no measurements (e.g. a ChirpStack ``join`` event).

    ``receptions``: the gateways that heard it, when the message says so (they count as sightings
    of those gateways, not as coverage: the device's position at that moment is unknown)."""

    reason: str
    receptions: tuple[Reception, ...] = ()


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


RSSI_RANGE = (-200.0, 0.0)
SNR_LIMIT = 50.0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return timestamp(value, ["time"])
    except ValidationFailed:
        return None


def reception(gateway_id: Any, eui: Any, rssi: Any, snr: Any, sf: Any, when: Any, location: Any) -> Reception | None:
    """One reception from loosely typed JSON; None when it names no gateway at all.

    Never raises: reception metadata is a by-product of the uplink, and an odd entry must not
    cost the measurements. What cannot be coverage gets ``problem`` (counted, reported).
    """
    gid = gateway_id.strip()[:100] if isinstance(gateway_id, str) and gateway_id.strip() else None
    e = eui.replace("-", "").replace(":", "").upper() if isinstance(eui, str) else None
    e = e if e and _EUI.match(e) else None
    if gid is None and e is None:
        return None
    lat = lon = None
    if isinstance(location, dict):
        la, lo = _number(location.get("latitude")), _number(location.get("longitude"))
        if la is not None and lo is not None and -90 <= la <= 90 and -180 <= lo <= 180 and (la, lo) != (0.0, 0.0):
            lat, lon = la, lo  # (0, 0) is what gateways without GPS report
    r, s = _number(rssi), _number(snr)
    problem = None
    if r is None:
        problem = "rssi: missing or not a number"
    elif not RSSI_RANGE[0] <= r <= RSSI_RANGE[1]:
        problem = f"rssi: {r:g} dBm is impossible (allowed {RSSI_RANGE[0]:g} to {RSSI_RANGE[1]:g})"
    elif s is not None and abs(s) > SNR_LIMIT:
        problem = f"snr: {s:g} dB is impossible (allowed -{SNR_LIMIT:g} to {SNR_LIMIT:g})"
    elif s is None and snr is not None:
        problem = "snr: not a number"
    spreading = sf if isinstance(sf, int) and not isinstance(sf, bool) and 5 <= sf <= 12 else None
    if gid is not None and e is not None and gid.replace("-", "").upper() == e:
        gid = e  # a gateway named by its EUI (ChirpStack): one spelling
    return Reception(gateway_id=gid or e, eui=e, rssi=r, snr=s, spreading_factor=spreading, time=_when(when),
                     latitude=lat, longitude=lon, problem=problem)


def receptions(entries: Any, build) -> tuple[Reception, ...]:
    """``build(entry)`` -> Reception | None for each dict in a list; anything else is skipped."""
    if not isinstance(entries, list):
        return ()
    out = [build(e) for e in entries[:100] if isinstance(e, dict)]
    return tuple(r for r in out if r is not None)
