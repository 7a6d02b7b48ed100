"""Factory helpers: valid payloads for the registry API, overridable per test."""

from __future__ import annotations

import itertools

_seq = itertools.count(1)

AMSTERDAM, ROTTERDAM, UTRECHT, EINDHOVEN, DEN_HAAG = "GM0363", "GM0599", "GM0344", "GM0772", "GM0518"


def organisation_payload(**over) -> dict:
    n = next(_seq)
    return {"name": f"Testorganisatie {n}", "kind": "company", "city": AMSTERDAM, **over}


def lab_payload(**over) -> dict:
    n = next(_seq)
    return {"name": f"Living Lab {n}", "city": EINDHOVEN, "description": "Proeftuin voor slimme verlichting",
            "geometry": {"type": "Point", "coordinates": [5.4697, 51.4416]}, "themes": ["mobility"],
            "infrastructure": ["lorawan", "fibre"], "open_to_external": True, "status": "active", **over}


def project_payload(**over) -> dict:
    n = next(_seq)
    return {"title": f"Project {n}: slimme fietsenstalling", "summary": "Sensoren tellen fietsers bij het station.",
            "city": UTRECHT, "themes": ["mobility"], "status": "pilot", "start_date": "2024-01-01",
            "end_date": "2025-06-30", "budget_eur": 250000,
            "kpis": [{"name": "Bezetting stalling", "unit": "%", "direction": "higher", "baseline": 60,
                      "target": 85, "measured": 80}],
            "lessons": ["Betrek fietsers vroeg bij het ontwerp."], **over}


def solution_payload(**over) -> dict:
    n = next(_seq)
    return {"name": f"Oplossing {n}", "description": "Herbruikbare aanpak", "themes": ["mobility"], **over}


def create(client, path: str, payload: dict) -> dict:
    r = client.post(f"/api/v1/{path}", json=payload)
    assert r.status_code == 201, r.text
    return r.json()
