"""Words for codes: statuses, item types, themes, in the reader's language.

Codes stay English in the data and the API; people read them translated. The
``N_`` marker only tells Babel's extractor that a string needs translating.
"""

from __future__ import annotations

from .i18n import translations


def N_(text: str) -> str:  # noqa: N802 - gettext's conventional name
    return text


STATUS_LABELS = {
    "planned": N_("Planned"),
    "active": N_("Active"),
    "closed": N_("Closed"),
    "idea": N_("Idea"),
    "pilot": N_("Pilot"),
    "evaluated": N_("Evaluated"),
    "scaled": N_("Scaled up"),
    "stopped": N_("Stopped"),
    "piloting": N_("Piloting"),
    "adopted": N_("Adopted"),
    "abandoned": N_("Abandoned"),
    "proven": N_("Proven"),
    "mature": N_("Mature"),
}

TYPE_LABELS = {
    "project": N_("Project"),
    "living_lab": N_("Living lab"),
    "solution": N_("Solution"),
    "coalition": N_("Coalition"),
    "lesson": N_("Lesson learned"),
}

#: NL Design System status badge modifier per status, so colour follows meaning.
STATUS_TONE = {
    "active": "active", "pilot": "active", "piloting": "active", "scaled": "success", "adopted": "success",
    "evaluated": "neutral", "idea": "neutral", "planned": "neutral", "proven": "success", "mature": "success",
    "closed": "inactive", "stopped": "inactive", "abandoned": "inactive",
}


def status_label(code: str | None, lang: str) -> str:
    if not code:
        return ""
    return translations(lang).gettext(STATUS_LABELS[code]) if code in STATUS_LABELS else code


def type_label(code: str | None, lang: str) -> str:
    if not code:
        return ""
    return translations(lang).gettext(TYPE_LABELS[code]) if code in TYPE_LABELS else code


def theme_name(theme, lang: str) -> str:
    return theme.name_en if lang == "en" else theme.name_nl


def status_tone(code: str | None) -> str:
    return STATUS_TONE.get(code or "", "neutral")
