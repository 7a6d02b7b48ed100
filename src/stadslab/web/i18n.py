"""Language of a page and its translations.

Dutch is the default; English is one click away. The choice travels as
``?lang=`` (so a link can be shared) and is remembered in a cookie. Catalogues
are gettext ``.po`` files compiled in memory with Babel when first needed, so
no compiled ``.mo`` file has to be committed or built.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timezone
from functools import lru_cache
from importlib import resources

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as babel_format_decimal
from babel.support import Translations
from fastapi import Request

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
COOKIE = "stadslab_lang"
#: The name of each language in itself, for the language switch.
AUTONYMS = {"nl": "Nederlands", "en": "English"}

TRANSLATIONS = resources.files("stadslab.web") / "translations"


def language_of(request: Request) -> str:
    """``?lang=`` wins over the cookie; anything unknown falls back to Dutch."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(COOKIE)
    if remembered in LANGUAGES:
        return remembered
    return DEFAULT_LANGUAGE


def catalogue_path(lang: str):
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> Translations:
    """Compiles ``messages.po`` to an in-memory ``.mo`` and loads it."""
    with catalogue_path(lang).open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain="messages")


def format_date(value: date | datetime | None, lang: str, fmt: str = "long") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return babel_format_date(value, format=fmt, locale=Locale.parse(lang))


def format_number(value: float | int | None, lang: str, digits: int | None = None) -> str:
    if value is None:
        return ""
    if digits is not None:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return babel_format_decimal(value, format=pattern, locale=Locale.parse(lang))
    return babel_format_decimal(value, locale=Locale.parse(lang))


HOME_ZONE = "Europe/Amsterdam"


def format_datetime(value: datetime | None, lang: str, fmt: str = "medium", zone: str | None = None) -> str:
    """A moment in the reader's language, shown in ``zone`` (default: Dutch time). Naive values are UTC.

    ``fmt`` is the width of the date; the time is always hours and minutes.
    """
    if value is None:
        return ""
    from zoneinfo import ZoneInfo

    from babel.dates import format_time

    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        tz = ZoneInfo(zone or HOME_ZONE)
    except (KeyError, ValueError):
        tz = ZoneInfo(HOME_ZONE)
    local = value.astimezone(tz)
    locale = Locale.parse(lang)
    return f"{babel_format_date(local.date(), format=fmt, locale=locale)} {format_time(local, 'short', locale=locale)}"


def country_name(code: str | None, lang: str) -> str:
    """ISO 3166-1 alpha-2 code → the country's name in the reader's language."""
    if not code:
        return ""
    return Locale.parse(lang).territories.get(code.upper(), code)


def format_time(value: datetime | None, lang: str, zone: str | None = None) -> str:
    """Hours and minutes of a moment in ``zone`` (default: Dutch time)."""
    if value is None:
        return ""
    from zoneinfo import ZoneInfo

    from babel.dates import format_time as babel_format_time

    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        tz = ZoneInfo(zone or HOME_ZONE)
    except (KeyError, ValueError):
        tz = ZoneInfo(HOME_ZONE)
    return babel_format_time(value.astimezone(tz), "short", locale=Locale.parse(lang))


def same_local_day(a: datetime, b: datetime, zone: str | None = None) -> bool:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone or HOME_ZONE)
    return a.astimezone(tz).date() == b.astimezone(tz).date()
