"""Plain-dict records of network entities: the shape used by export, import and the audit trail."""

from __future__ import annotations

from typing import Any

from .models import Coalition, Organisation


def organisation_record(obj: Organisation) -> dict[str, Any]:
    return {"name": obj.name, "kind": obj.kind, "city": obj.municipality_code, "website": obj.website,
            "description": obj.description}


def coalition_record(obj: Coalition) -> dict[str, Any]:
    return {"title": obj.title, "question": obj.question, "description": obj.description,
            "lead_city": obj.lead_municipality_code, "cities": [c.code for c in obj.cities],
            "organisations": [o.id for o in obj.organisations], "themes": [t.code for t in obj.themes],
            "status": obj.status, "owner_organisation_id": obj.owner_organisation_id}
