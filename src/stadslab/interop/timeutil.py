"""Time zones and recurrence rules: one place that decides what is valid and how a series expands.

Recurrence is expanded in the event's *own* zone (a weekly 09:00 meeting in
Amsterdam stays at 09:00 local when the clocks change) and only then converted
to UTC. Rules faster than daily are refused: nothing in a network calendar
repeats every hour, and a SECONDLY rule would be an easy way to make a feed or
an overview endless.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil import rrule as du_rrule

UTC = timezone.utc
HOME_ZONE = "Europe/Amsterdam"
ALLOWED_FREQ = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
#: A finite series may have at most this many occurrences; expansion stops there too.
MAX_OCCURRENCES = 1000


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_zone(name: str) -> str:
    """The IANA zone name, or ValueError with a message fit for a 422."""
    if not isinstance(name, str) or name not in _zones():
        raise ValueError(f"unknown IANA time zone {str(name)[:64]!r} (use e.g. Europe/Amsterdam)")
    return name


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(check_zone(name))
    except ZoneInfoNotFoundError:  # pragma: no cover - available_timezones() and ZoneInfo disagree
        raise ValueError(f"unknown IANA time zone {name!r}") from None


def check_rrule(text: str) -> str:
    """Syntax check of an RFC 5545 RRULE value; returns it normalised (upper case, no ``RRULE:``)."""
    from icalendar.prop import vRecur

    value = (text or "").strip()
    if value.upper().startswith("RRULE:"):
        value = value[6:]
    if not value:
        raise ValueError("empty recurrence rule")
    if len(value) > 500 or any(c in value for c in "\r\n\x00"):
        raise ValueError("recurrence rule is too long or contains line breaks")
    try:
        parsed = vRecur.from_ical(value)
    except Exception as exc:  # noqa: BLE001 - icalendar raises ValueError and friends
        raise ValueError(f"not an RFC 5545 RRULE: {exc}") from None
    freq = [str(f).upper() for f in parsed.get("FREQ", [])]
    if len(freq) != 1:
        raise ValueError("RRULE needs exactly one FREQ")
    if freq[0] not in ALLOWED_FREQ:
        raise ValueError(f"FREQ={freq[0]} is not allowed here; use one of {', '.join(ALLOWED_FREQ)}")
    if "COUNT" in parsed and "UNTIL" in parsed:
        raise ValueError("RRULE may not have both COUNT and UNTIL (RFC 5545 §3.3.10)")
    normalised = vRecur(parsed).to_ical().decode()
    try:
        du_rrule.rrulestr(normalised, dtstart=datetime(2000, 1, 1))
    except Exception as exc:  # noqa: BLE001
        if "UTC" not in str(exc):  # UNTIL in UTC is checked against the real DTSTART later
            raise ValueError(f"not a valid RRULE: {exc}") from None
    return normalised


def local_start(starts_at: datetime, tz_name: str, all_day: bool) -> datetime:
    """DTSTART as the series is expanded: aware local time, or floating midnight for all-day events."""
    local = starts_at.astimezone(zone(tz_name))
    return datetime.combine(local.date(), time()) if all_day else local


def build_rule(rule_text: str, starts_at: datetime, tz_name: str, all_day: bool) -> du_rrule.rrule:
    """The dateutil rule for a stored event; ValueError when the rule does not fit the start.

    RFC 5545: with a zoned DTSTART, UNTIL must be in UTC; with an all-day DTSTART
    it must be a date.
    """
    dtstart = local_start(starts_at, tz_name, all_day)
    try:
        rule = du_rrule.rrulestr(rule_text, dtstart=dtstart)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"RRULE does not fit the start: {exc}") from None
    return rule


def _to_utc(local: datetime, tz_name: str) -> datetime:
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone(tz_name))
    return local.astimezone(UTC)


def series_end(rule_text: str, starts_at: datetime, ends_at: datetime, tz_name: str,
               all_day: bool) -> datetime | None:
    """End (UTC) of the last occurrence, None for an endless series; ValueError when too long."""
    rule = build_rule(rule_text, starts_at, tz_name, all_day)
    if rule._count is None and rule._until is None:  # noqa: SLF001 - dateutil has no public accessor
        return None
    last = None
    for n, occ in enumerate(rule):
        if n >= MAX_OCCURRENCES:
            raise ValueError(f"the series has more than {MAX_OCCURRENCES} occurrences")
        last = occ
    if last is None:
        raise ValueError("the rule produces no occurrence at or after the start")
    return _to_utc(last, tz_name) + (ends_at - starts_at)


def occurrences(rule_text: str | None, starts_at: datetime, ends_at: datetime, tz_name: str, all_day: bool,
                window_start: datetime | None = None, window_end: datetime | None = None,
                limit: int = MAX_OCCURRENCES) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) in UTC of each occurrence overlapping [window_start, window_end)."""
    duration = ends_at - starts_at
    if not rule_text:
        if (window_end is None or starts_at < window_end) and (window_start is None or ends_at > window_start):
            yield starts_at, ends_at
        return
    rule = build_rule(rule_text, starts_at, tz_name, all_day)
    tz = zone(tz_name)
    # An all-day event lasts whole local days, whatever the DST offset in between.
    days = ends_at.astimezone(tz).date() - starts_at.astimezone(tz).date()
    iterator = iter(rule)
    if window_start is not None:
        after = (window_start - duration - timedelta(days=1)).astimezone(tz)
        iterator = rule.xafter(after.replace(tzinfo=None) if all_day else after, inc=True)
    produced = 0
    for occ in iterator:
        start = _to_utc(occ, tz_name)
        if window_end is not None and start >= window_end:
            return
        end = _to_utc(occ + days, tz_name) if all_day else start + duration
        if window_start is None or end > window_start:
            yield start, end
            produced += 1
            if produced >= limit:
                return


def day_bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """UTC instants of local midnight at the start of ``day`` and of the next day."""
    tz = zone(tz_name)
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def as_utc(value: datetime, tz_name: str) -> datetime:
    """A datetime from input: naive means wall-clock time in ``tz_name``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz_name))
    return value.astimezone(UTC)


def aware_utc(value: datetime) -> datetime:
    """Values read back from SQLite are naive UTC; make them aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
