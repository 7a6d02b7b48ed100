"""Form handling shared by the pages: errors in the reader's language, next to the field they concern.

Input is validated by the same pydantic schemas and services as the API, so a
form accepts exactly what the API accepts. Their messages are for programmers;
people get a sentence in their own language, keyed on the error *type*, and the
message is placed at the field named by the error's location.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import ValidationError

from stadslab.core.errors import StadslabError

from .i18n import translations
from .vocabulary import N_

#: pydantic error type → message (``%(n)s`` is the limit from the error context).
MESSAGES = {
    "missing": N_("Fill in this field."),
    "string_too_short": N_("Use at least %(n)s characters."),
    "string_too_long": N_("Use at most %(n)s characters."),
    "too_long": N_("Choose at most %(n)s."),
    "too_short": N_("Choose at least one."),
    "literal_error": N_("Choose one of the options."),
    "enum": N_("Choose one of the options."),
    "date_parsing": N_("Enter a date like 2024-03-15."),
    "date_from_datetime_parsing": N_("Enter a date like 2024-03-15."),
    "date_type": N_("Enter a date like 2024-03-15."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "float_parsing": N_("Enter a number."),
    "greater_than_equal": N_("Enter a number of at least %(n)s."),
    "less_than_equal": N_("Enter a number of at most %(n)s."),
    "string_pattern_mismatch": N_("This value does not have the right form."),
}
FALLBACK = N_("This value cannot be used.")
END_BEFORE_START = N_("The end date cannot be before the start date.")
REQUIRED = N_("Fill in this field.")


def _limit(err: dict) -> object:
    ctx = err.get("ctx") or {}
    for key in ("min_length", "max_length", "ge", "le", "gt", "lt"):
        if key in ctx:
            return ctx[key]
    return ""


def message_for(err: dict, lang: str) -> str:
    gettext = translations(lang).gettext
    kind = err.get("type", "")
    if kind == "string_too_short" and (err.get("ctx") or {}).get("min_length") == 1:
        return gettext(REQUIRED)
    if kind == "value_error" and "end_date" in str(err.get("msg", "")):
        return gettext(END_BEFORE_START)
    template = MESSAGES.get(kind)
    if template is None:
        return gettext(FALLBACK)
    return gettext(template) % {"n": _limit(err)}


def pydantic_errors(exc: ValidationError, lang: str, fields: Sequence[str]) -> dict[str, str]:
    """Field name → message for the fields of a form, in form order (the first gets focus)."""
    found: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        name = loc[0] if loc else ""
        if not name and err.get("type") == "value_error" and "end_date" in str(err.get("msg", "")):
            name = "end_date"  # a rule over two fields is reported at the later one
        found.setdefault(name if name in fields else "", message_for(err, lang))
    return ordered(found, fields)


def service_errors(exc: StadslabError, lang: str, fields: Sequence[str],
                   known: dict[str, str] | None = None) -> dict[str, str]:
    """Errors a service raised with locations (``["body", "status"]``) placed at their fields.

    ``known`` gives translated messages for the fields whose service errors this form
    expects; anything else is shown at the top of the form with the service's text.
    """
    gettext = translations(lang).gettext
    found: dict[str, str] = {}
    for err in exc.errors or []:
        loc = [str(p) for p in err.get("loc", ())]
        name = next((p for p in loc if p in fields), "")
        if name:
            found.setdefault(name, (known or {}).get(name) or gettext(FALLBACK))
    if not found:
        found[""] = exc.detail
    return ordered(found, fields)


def ordered(errors: dict[str, str], fields: Iterable[str]) -> dict[str, str]:
    order = {name: i for i, name in enumerate(fields)}
    return dict(sorted(errors.items(), key=lambda kv: order.get(kv[0], -1)))


def first_field(errors: dict[str, str]) -> str | None:
    return next((name for name in errors if name), None)
