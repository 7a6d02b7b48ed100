"""Builders for evidence tests: a project with sensors whose series carry a known effect."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy.orm import Session

from stadslab.evidence import sensors
from stadslab.evidence.simulate import Scenario, hourly_sites
from stadslab.labs.schemas import ProjectIn
from stadslab.labs.service import create_project
from tests.factories import project_payload

NO2_UNIT = {"name": "microgram per cubic meter", "symbol": "µg/m³",
            "definition": "http://unitsofmeasure.org/ucum.html#para-30"}
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)  # a Monday


@dataclass
class Experiment:
    project_id: int
    op_id: int
    treated: list[int] = field(default_factory=list)
    control: list[int] = field(default_factory=list)
    things: list[int] = field(default_factory=list)

    def design(self, **over) -> dict:
        body = {"intervention_sites": [{"name": "Hoofdstraat", "datastream_ids": self.treated}],
                "control_sites": [{"name": "Referentie", "datastream_ids": self.control}] if self.control else [],
                "baseline": {"start": "2024-01-01", "end": "2024-03-24"},
                "intervention": {"start": "2024-03-25", "end": "2024-06-16"},
                "kpis": [{"kpi": "no2_concentration"}], "confidence_level": 0.95, "resolution": "day"}
        body.update(over)
        return body


def make_project(session: Session, **over) -> int:
    payload = project_payload(**over)
    return create_project(session, ProjectIn(**payload)).id


def no2_property(session: Session) -> int:
    return sensors.observed_property(session, "NO2", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/8")


def build_experiment(session: Session, *, effect: float = -4.0, days_pre: int = 84, days_post: int = 84,
                     n_treat: int = 2, n_control: int = 2, seed: int = 1, unit: dict | None = None,
                     control_unit: dict | None = None, project_id: int | None = None,
                     step_minutes: int = 60) -> Experiment:
    rng = np.random.default_rng(seed)
    sc = Scenario(kind="no2", level=30, days_pre=days_pre, days_post=days_post, n_treat=n_treat,
                  n_control=max(n_control, 1), effect=effect)
    treat, ctrl = hourly_sites(rng, sc)
    pid = project_id or make_project(session)
    op = no2_property(session)
    exp = Experiment(pid, op)
    for group, arr, target, uom in (("t", treat, exp.treated, unit or NO2_UNIT),
                                    ("c", ctrl[:n_control], exp.control, control_unit or unit or NO2_UNIT)):
        for i, series in enumerate(arr):
            thing, foi, ids = sensors.sensor_site(session, f"{group}{i}-{pid}", 5.1 + i / 100, 52.0 + (group == "c") / 10,
                                                  [(op, uom, f"NO2 {group}{i}")])
            values = series if step_minutes == 60 else np.repeat(series, 60 // step_minutes)
            sensors.observations(session, ids[op], foi, T0, timedelta(minutes=step_minutes), values)
            target.append(ids[op])
            exp.things.append(thing)
    session.commit()
    return exp
