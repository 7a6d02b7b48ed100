"""Sensor-register metadata of a Thing, carried in ``properties.register``.

Keeping it inside the standard ``properties`` object means any STA client can
set it; the server validates it and mirrors the parts the public register
filters on into columns. The rule that matters most (AVG/GDPR transparency):
a sensor that processes personal data must state a legal ground, a purpose
and a retention period.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.labs.models import LivingLab
from stadslab.network.models import Organisation

from ..model.tables import ACCESS_CLASSES, LEGAL_GROUNDS, PLACEMENTS
from .precision import parse_level
from ..model.values import bad

FIELDS = ("owner", "purpose", "measures", "sensor_type", "processes_personal_data", "legal_ground",
          "privacy_statement_url", "retention", "active_from", "active_until", "placement", "living_lab_id",
          "access_class", "locationPrecision")
COLUMNS = ("register", "living_lab_id", "owner_organisation_id", "owner_name", "sensor_type", "purpose",
           "processes_personal_data", "legal_ground", "placement", "active_from", "active_until",
           "access_class", "location_precision_m")


def empty_columns() -> dict[str, Any]:
    return {"register": None, "living_lab_id": None, "owner_organisation_id": None, "owner_name": None,
            "sensor_type": None, "purpose": None, "processes_personal_data": False, "legal_ground": None, "placement": None,
            "active_from": None, "active_until": None, "access_class": "open",
            "location_precision_m": None}


def register_columns(session: Session, properties: Any, loc: list) -> dict[str, Any]:
    """Validate ``properties.register`` and return the Thing columns it sets."""
    cols = empty_columns()
    if not isinstance(properties, dict) or properties.get("register") is None:
        return cols
    reg = properties["register"]
    here = [*loc, "register"]
    if not isinstance(reg, dict):
        raise bad(here, "must be an object")
    for key in reg:
        if key not in FIELDS:
            raise bad([*here, key], f"unknown register field; known: {', '.join(FIELDS)}")

    def text(key: str, max_len: int = 2000) -> str | None:
        v = reg.get(key)
        if v is None:
            return None
        if not isinstance(v, str) or not v.strip():
            raise bad([*here, key], "must be a non-empty string")
        if len(v) > max_len:
            raise bad([*here, key], f"at most {max_len} characters")
        return v.strip()

    owner = reg.get("owner")
    if owner is not None:
        if not isinstance(owner, dict):
            raise bad([*here, "owner"], "must be an object with organisation, contact, organisation_id")
        for key in owner:
            if key not in ("organisation", "contact", "organisation_id"):
                raise bad([*here, "owner", key], "unknown field; known: organisation, contact, organisation_id")
        for key in ("organisation", "contact"):
            if owner.get(key) is not None and (not isinstance(owner[key], str) or len(owner[key]) > 255):
                raise bad([*here, "owner", key], "must be a string of at most 255 characters")
        org_id = owner.get("organisation_id")
        if org_id is not None:
            if not isinstance(org_id, int) or isinstance(org_id, bool):
                raise bad([*here, "owner", "organisation_id"], "must be an integer")
            org = session.get(Organisation, org_id)
            if org is None:
                raise bad([*here, "owner", "organisation_id"], f"organisation {org_id} does not exist")
            cols["owner_organisation_id"] = org_id
            cols["owner_name"] = owner.get("organisation") or org.name
        else:
            cols["owner_name"] = owner.get("organisation")
    purpose = cols["purpose"] = text("purpose")
    retention = text("retention", 200)
    text("privacy_statement_url", 500)
    cols["sensor_type"] = text("sensor_type", 120)
    measures = reg.get("measures")
    if measures is not None and (not isinstance(measures, list) or
                                 not all(isinstance(x, str) and x.strip() for x in measures)):
        raise bad([*here, "measures"], "must be a list of strings")
    personal = reg.get("processes_personal_data", False)
    if not isinstance(personal, bool):
        raise bad([*here, "processes_personal_data"], "must be true or false")
    cols["processes_personal_data"] = personal
    ground = reg.get("legal_ground")
    if ground is not None and ground not in LEGAL_GROUNDS:
        raise bad([*here, "legal_ground"], f"must be one of: {', '.join(LEGAL_GROUNDS)}")
    cols["legal_ground"] = ground
    if personal:
        for key, value in (("legal_ground", ground), ("purpose", purpose), ("retention", retention)):
            if value is None:
                raise bad([*here, key], "required when processes_personal_data is true")
    for key in ("active_from", "active_until"):
        v = reg.get(key)
        if v is not None:
            try:
                cols[key] = date.fromisoformat(v) if isinstance(v, str) else None
            except ValueError:
                cols[key] = None
            if cols[key] is None:
                raise bad([*here, key], "must be a date YYYY-MM-DD")
    if cols["active_from"] and cols["active_until"] and cols["active_until"] < cols["active_from"]:
        raise bad([*here, "active_until"], "lies before active_from")
    placement = reg.get("placement")
    if placement is not None and placement not in PLACEMENTS:
        raise bad([*here, "placement"], f"must be one of: {', '.join(PLACEMENTS)}")
    cols["placement"] = placement
    access = reg.get("access_class", "open")
    if access not in ACCESS_CLASSES:
        raise bad([*here, "access_class"], f"must be one of: {', '.join(ACCESS_CLASSES)}")
    cols["access_class"] = access
    cols["location_precision_m"] = parse_level(reg, here)
    lab_id = reg.get("living_lab_id")
    if lab_id is not None:
        if not isinstance(lab_id, int) or isinstance(lab_id, bool):
            raise bad([*here, "living_lab_id"], "must be an integer")
        if session.scalar(select(LivingLab.id).where(LivingLab.id == lab_id)) is None:
            raise bad([*here, "living_lab_id"], f"living lab {lab_id} does not exist")
    cols["living_lab_id"] = lab_id
    cols["register"] = reg
    return cols
