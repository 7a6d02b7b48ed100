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
    # types of items harvested from other nodes (federation)
    "adoption": N_("Adoption"),
    "organisation": N_("Organisation"),
    "dataset": N_("Dataset"),
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


#: The infrastructure vocabulary of living labs (codes in ``labs.models.INFRASTRUCTURE``).
INFRASTRUCTURE_LABELS = {
    "fibre": N_("Fibre-optic network"),
    "lorawan": N_("LoRaWAN network"),
    "5g": N_("5G mobile network"),
    "4g": N_("4G mobile network"),
    "wifi": N_("Public Wi-Fi"),
    "nb-iot": N_("NB-IoT network"),
    "edge-computing": N_("Edge computing"),
    "open-data-platform": N_("Open data platform"),
    "smart-lighting": N_("Smart street lighting"),
    "ev-charging": N_("EV charging points"),
    "sensor-network": N_("Sensor network"),
    "digital-twin": N_("Digital twin"),
}

CONTRIBUTION_KINDS = {
    "project_to_lab": N_("Project in your living lab"),
    "adoption": N_("Adoption of your solution"),
    "lesson": N_("Lesson learned for your project"),
    "test_application": N_("Application to test"),
}

CONTRIBUTION_STATUSES = {
    "pending": N_("Awaiting decision"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
}

ROLE_LABELS = {
    "public": N_("Public"),
    "member": N_("Member"),
    "desk": N_("Loket desk"),
    "editor": N_("Editor"),
    "admin": N_("Administrator"),
}

SCOPE_LABELS = {
    "registry:write": N_("Change registry content"),
    "sta:write": N_("Write sensor data"),
    "sta:read": N_("Read network sensor data"),
    "loket:write": N_("Submit loket requests"),
    "admin": N_("Administration"),
}

LOKET_TYPES = {
    "experiment": N_("Room to experiment (exemption)"),
    "funding": N_("Funding"),
    "cooperation": N_("Cooperation"),
    "knowledge": N_("Knowledge"),
}

LOKET_TOPICS = {
    "mobility": N_("Mobility"),
    "privacy": N_("Privacy"),
    "digital": N_("Digital"),
    "energy": N_("Energy"),
    "climate": N_("Climate"),
    "housing": N_("Housing"),
    "health": N_("Health"),
    "safety": N_("Safety"),
    "other": N_("Other"),
}

LOKET_STATUSES = {
    "submitted": N_("Submitted"),
    "in_review": N_("In review"),
    "needs_info": N_("Information requested"),
    "decided": N_("Decided"),
    "closed": N_("Closed"),
    "granted": N_("Granted"),
    "rejected": N_("Rejected"),
}

#: A line in a request's history.
LOKET_STEPS = {
    "comment": N_("Comment"),
    "in_review": N_("Taken in review"),
    "needs_info": N_("More information requested"),
    "answered": N_("Information supplied"),
    "forwarded": N_("Forwarded to another desk"),
    "decided": N_("Decision"),
    "closed": N_("Closed"),
    "withdrawn": N_("Withdrawn by the submitter"),
}

LEGAL_GROUNDS = {
    "publieke taak": N_("Public task"),
    "gerechtvaardigd belang": N_("Legitimate interest"),
    "wettelijke verplichting": N_("Legal obligation"),
    "toestemming": N_("Consent"),
    "uitvoering overeenkomst": N_("Performance of a contract"),
    "vitale belangen": N_("Vital interests"),
}

EVENT_KINDS = {
    "trade_mission": N_("Trade mission"),
    "conference": N_("Conference"),
    "eu_info_day": N_("EU info day"),
    "network_meeting": N_("Network meeting"),
    "webinar": N_("Webinar"),
    "other": N_("Other event"),
}

VERDICTS = {
    "improved": N_("Improved"),
    "no_detectable_effect": N_("No detectable effect"),
    "worse": N_("Worse"),
    "inconclusive": N_("Inconclusive"),
}

EVALUATION_METHODS = {
    "difference_in_differences": N_("Difference in differences against control sites"),
    "before_after": N_("Before/after comparison (no control sites)"),
}

#: KPI units that are words, as projects write them (in English, like codes); symbols (µg/m³, kW, %)
#: read the same in both languages and are shown as they are.
UNITS = {
    "algorithms": N_("algorithms"), "bikes/day": N_("bikes/day"), "bikes/year": N_("bikes/year"),
    "buildings": N_("buildings"), "cars/100 households": N_("cars/100 households"),
    "charge points": N_("charge points"), "companies": N_("companies"), "connections": N_("connections"),
    "cyclists/day": N_("cyclists/day"), "cyclists/h": N_("cyclists/h"), "days": N_("days"), "devices": N_("devices"),
    "hours": N_("hours"), "hours/year": N_("hours/year"), "households": N_("households"),
    "incidents": N_("incidents"), "incidents/weekend": N_("incidents/weekend"),
    "interventions/100 km": N_("interventions/100 km"), "kWh/year": N_("kWh/year"), "MWh/year": N_("MWh/year"),
    "m³/household/year": N_("m³/household/year"), "minutes": N_("minutes"), "objections": N_("objections"),
    "passengers/day": N_("passengers/day"), "persons": N_("persons"), "reports/month": N_("reports/month"),
    "reports/weekend": N_("reports/weekend"), "reports/year": N_("reports/year"), "residents": N_("residents"),
    "schools": N_("schools"), "sensors": N_("sensors"), "sessions/day": N_("sessions/day"),
    "shelters": N_("shelters"), "small cells": N_("small cells"), "t CO2/year": N_("t CO2/year"),
    "tonnes": N_("tonnes"), "trips/day": N_("trips/day"), "trips/week": N_("trips/week"),
    "trucks/day": N_("trucks/day"), "vehicles/h": N_("vehicles/h"), "visits/month": N_("visits/month"),
}

CALL_STATUSES = {
    "forthcoming": N_("Forthcoming"),
    "open": N_("Open"),
    "closed": N_("Closed"),
}

#: Badge modifier per word, for the new vocabularies.
TONE_EXTRA = {
    "submitted": "neutral", "in_review": "active", "needs_info": "warning", "decided": "success", "granted": "success",
    "rejected": "inactive", "improved": "success", "no_detectable_effect": "neutral", "worse": "danger",
    "inconclusive": "warning", "forthcoming": "neutral", "open": "active", "pending": "active", "accepted": "success",
    "declined": "inactive",
}


def localised(obj, field: str, lang: str):
    """``obj.<field>_en`` on English pages when it is filled in, else the Dutch ``obj.<field>``."""
    if lang == "en":
        english = getattr(obj, f"{field}_en", None)
        if english:
            return english
    return getattr(obj, field, None)


def falls_back(obj, fields: tuple[str, ...], lang: str) -> bool:
    """True on an English page when one of ``fields`` has Dutch text but no English version."""
    return lang == "en" and any(getattr(obj, f, None) and not getattr(obj, f"{f}_en", None) for f in fields)


def label(table: dict[str, str], code: str | None, lang: str) -> str:
    """The word for ``code`` from one of the tables above; unknown codes are shown as they are."""
    if not code:
        return ""
    return translations(lang).gettext(table[code]) if code in table else code


def tone(code: str | None) -> str:
    return TONE_EXTRA.get(code or "") or status_tone(code)
