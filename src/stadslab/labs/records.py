"""Plain-dict records of labs entities: the shape used by export, import and the audit trail."""

from __future__ import annotations

from typing import Any

from .models import Adoption, LivingLab, Project, Solution


def _iso(d) -> str | None:
    return d.isoformat() if d else None


def living_lab_record(obj: LivingLab) -> dict[str, Any]:
    return {"name": obj.name, "city": obj.municipality_code, "description": obj.description,
            "geometry": obj.geometry, "themes": [t.code for t in obj.themes],
            "infrastructure": obj.infrastructure or [], "open_to_external": obj.open_to_external,
            "regulatory_exemptions": obj.regulatory_exemptions or [], "contact_name": obj.contact_name,
            "contact_email": obj.contact_email, "status": obj.status, "website": obj.website,
            "offer_conditions": obj.offer_conditions or "", "offer_costs": obj.offer_costs or "",
            "offer_how_to_apply": obj.offer_how_to_apply or "",
            "owner_organisation_id": obj.owner_organisation_id}


def project_record(obj: Project) -> dict[str, Any]:
    return {"title": obj.title, "summary": obj.summary, "city": obj.municipality_code,
            "living_lab_id": obj.living_lab_id, "themes": [t.code for t in obj.themes], "status": obj.status,
            "start_date": _iso(obj.start_date), "end_date": _iso(obj.end_date), "budget_eur": obj.budget_eur,
            "funding_sources": obj.funding_sources or [],
            "partners": [{"organisation_id": p.organisation_id, "role": p.role} for p in obj.partners],
            "kpis": [{"name": k.name, "unit": k.unit, "direction": k.direction, "baseline": k.baseline,
                      "target": k.target, "measured": k.measured} for k in obj.kpis],
            "lessons": [lesson.text for lesson in obj.lessons], "links": obj.links or [],
            "owner_organisation_id": obj.owner_organisation_id}


def solution_record(obj: Solution) -> dict[str, Any]:
    return {"name": obj.name, "description": obj.description, "themes": [t.code for t in obj.themes],
            "origin_project_id": obj.origin_project_id, "provider_organisation_id": obj.provider_organisation_id,
            "maturity": obj.maturity, "preconditions": list(obj.preconditions or []),
            "owner_organisation_id": obj.owner_organisation_id}


def adoption_record(obj: Adoption) -> dict[str, Any]:
    return {"solution_id": obj.solution_id, "city": obj.municipality_code, "project_id": obj.project_id,
            "adopted_on": _iso(obj.adopted_on), "status": obj.status, "outcome": obj.outcome,
            "owner_organisation_id": obj.owner_organisation_id}
