"""A small national picture for the dashboard, solutions index, coalition, specialisation and city pages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from tests.factories import ROTTERDAM, UTRECHT, project_payload, solution_payload
from tests.web.seed import Registry, seed_calendar, seed_registry

DORDRECHT, APELDOORN, NIJMEGEN, HEERLEN = "GM0505", "GM0200", "GM0268", "GM0917"


@dataclass
class Nation:
    reg: Registry
    port_project: int
    kiosk: int
    coalition: int
    call: int
    utrecht_project: int


def seed_nation(session: Session) -> Nation:
    """seed_registry (Eindhoven, Amsterdam, Utrecht) plus: a Rotterdam project whose sensor evaluation
    improved and its shore-power kiosk (needs an inland port) adopted by Dordrecht; a coalition led by
    Rotterdam; an open call on mobility that fits a Utrecht project."""
    from stadslab.evidence import service as evidence
    from stadslab.evidence.schemas import DesignIn
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import AdoptionIn, ProjectIn, SolutionIn
    from stadslab.network.schemas import CoalitionIn
    from stadslab.network.service import create_coalition
    from tests.evidence.helpers import build_experiment

    reg = seed_registry(session)
    port = labs.create_project(session, ProjectIn(**project_payload(
        title="Walstroom voor binnenvaartschepen", city=ROTTERDAM, status="evaluated", start_date="2022-01-01",
        summary="Binnenvaartschepen aan de kades nemen walstroom af.", themes=["energy-transition", "logistics-ports"])))
    exp = build_experiment(session, effect=-4.0, project_id=port.id)
    evidence.put_design(session, exp.project_id, DesignIn.model_validate(exp.design()))
    evidence.run_evaluation(session, exp.project_id)
    kiosk = labs.create_solution(session, SolutionIn(**solution_payload(
        name="Walstroomkast voor binnenvaart", origin_project_id=port.id, maturity="proven",
        themes=["energy-transition", "logistics-ports"], preconditions=["inland_port"])))
    labs.create_adoption(session, AdoptionIn(solution_id=kiosk.id, city=DORDRECHT, adopted_on="2023-01-01",
                                             status="adopted", outcome="Minder geluid aan de kade."))
    coalition = create_coalition(session, CoalitionIn(
        title="Coalitie Walstroom", question="Hoe krijgen alle kades walstroom?", lead_city=ROTTERDAM,
        cities=[ROTTERDAM, DORDRECHT], themes=["energy-transition", "logistics-ports"]))
    calls = seed_calendar(session)
    hub = labs.create_project(session, ProjectIn(**project_payload(
        title="Deelmobiliteit hubs in de wijk", city=UTRECHT, status="pilot",
        summary="Mobiliteitshubs met deelfietsen en sensoren.", themes=["mobility"])))
    return Nation(reg=reg, port_project=port.id, kiosk=kiosk.id, coalition=coalition.id, call=calls["call"],
                  utrecht_project=hub.id)
