"""A small, realistic registry for the web tests, written through the registry services."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from tests.factories import AMSTERDAM, EINDHOVEN, UTRECHT, lab_payload, project_payload, solution_payload


@dataclass
class Registry:
    lab_ids: list[int]
    project_ids: list[int]
    solution_id: int
    adoption_id: int


def seed_registry(session: Session, *, demo: bool = False) -> Registry:
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import AdoptionIn, LivingLabIn, ProjectIn, SolutionIn

    strijp = labs.create_living_lab(session, LivingLabIn(**lab_payload(
        name="Strijp-S Living Lab", city=EINDHOVEN, description="Slimme straatverlichting en crowd management.",
        geometry={"type": "Point", "coordinates": [5.4573, 51.4484]}, themes=["mobility", "safety-cyber-security"])),
        is_demo=demo)
    marineterrein = labs.create_living_lab(session, LivingLabIn(**lab_payload(
        name="Marineterrein Amsterdam", city=AMSTERDAM, description="Proeftuin voor klimaatadaptatie aan het water.",
        geometry={"type": "Polygon", "coordinates": [[[4.913, 52.372], [4.919, 52.372], [4.919, 52.375],
                                                      [4.913, 52.375], [4.913, 52.372]]]},
        themes=["resilience-climate-adaptation"], status="active")))
    fiets = labs.create_project(session, ProjectIn(**project_payload(
        title="Slimme fietsenstalling Jaarbeursplein", city=UTRECHT, status="pilot")))
    licht = labs.create_project(session, ProjectIn(**project_payload(
        title="Adaptieve straatverlichting Strijp", city=EINDHOVEN, living_lab_id=strijp.id, status="scaled",
        summary="Verlichting dimt wanneer er niemand op straat is en bespaart zo energie.",
        themes=["energy-transition"], budget_eur=1234567)))
    solution = labs.create_solution(session, SolutionIn(**solution_payload(
        name="Adaptieve straatverlichting", origin_project_id=licht.id, themes=["energy-transition"])))
    adoption = labs.create_adoption(session, AdoptionIn(solution_id=solution.id, city=UTRECHT,
                                                        adopted_on="2024-03-15", status="adopted",
                                                        outcome="Twintig procent minder stroomverbruik."))
    return Registry(lab_ids=[strijp.id, marineterrein.id], project_ids=[fiets.id, licht.id],
                    solution_id=solution.id, adoption_id=adoption.id)
