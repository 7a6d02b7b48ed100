"""Evidence demo: sensor series, experiment designs and stored evaluations for demo projects.

Call :func:`load_evidence_demo` after the registry demo (``labs.demo_loader.load_demo``).
Series are hourly, with daily and weekly cycles, shared weather and AR(1) noise
(see ``simulate.py``), with a planted effect per project so the demo shows the
possible verdicts: improved, no detectable effect, worse, and inconclusive (a school-route
project whose sites were already improving before the intervention). The heat-stress
project uses real KNMI temperatures (station 215 Voorschoten, 2022) when
../shared holds them and a generated series otherwise, so a fresh clone works.
Everything is seeded: loading twice on two machines gives the same numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.labs.demo_loader import demo_data
from stadslab.labs.models import Project

from . import sensors, service
from .models import Evaluation
from .schemas import DesignIn
from .simulate import Scenario, hourly_sites

HOUR = timedelta(hours=1)
UNITS = {
    "no2": {"name": "microgram per cubic meter", "symbol": "µg/m³", "definition": "http://unitsofmeasure.org/ucum.html#para-30"},
    "noise": {"name": "decibel A-weighted", "symbol": "dB(A)", "definition": "http://unitsofmeasure.org/ucum.html#para-46"},
    "cyclists": {"name": "cyclists per hour", "symbol": "cyclists/h", "definition": ""},
    "temperature": {"name": "degree Celsius", "symbol": "°C", "definition": "http://unitsofmeasure.org/ucum.html#para-30"},
}
PROPERTIES = {
    "no2": ("NO2", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/8"),
    "noise": ("Geluidsniveau", "https://stadslab.example/def/noise-laeq"),
    "cyclists": ("Fietsers", "https://stadslab.example/def/cyclist-count"),
    "temperature": ("Luchttemperatuur", "https://stadslab.example/def/air-temperature"),
}
LIBRARY = {"no2": "no2_concentration", "noise": "noise_level", "cyclists": "cyclist_count",
           "temperature": "air_temperature"}


@dataclass
class DemoCase:
    key: str
    kind: str
    kpi_name: str
    start: datetime
    weeks: int
    effect: float
    level: float
    seed: int
    lon: float
    lat: float
    #: A drift of the intervention sites through both periods (per day), with no effect of the intervention.
    trend_per_day: float = 0.0


CASES = [
    DemoCase("ehv-fietsgroen", "cyclists", "Fietsers per uur op de hoofdroutes", datetime(2019, 1, 7, tzinfo=timezone.utc),
             12, 14.0, 120.0, 11, 5.4697, 51.4416),
    DemoCase("tlb-fietsgroen-spoorzone", "cyclists", "Fietsers per uur op de route", datetime(2020, 9, 7, tzinfo=timezone.utc),
             12, 7.0, 90.0, 12, 5.0913, 51.5606),
    DemoCase("rtm-zero-emissie-stadslogistiek", "no2", "NO2-concentratie langs bevoorradingsroutes",
             datetime(2019, 9, 2, tzinfo=timezone.utc), 12, -4.0, 34.0, 13, 4.4792, 51.9225),
    DemoCase("utr-zero-emissie-bevoorrading", "no2", "NO2 in winkelstraten", datetime(2021, 3, 1, tzinfo=timezone.utc),
             12, 0.0, 30.0, 14, 5.1214, 52.0907),
    DemoCase("ehv-verkeersmanagement-ring", "noise", "Geluid langs de Ring 's avonds",
             datetime(2022, 1, 3, tzinfo=timezone.utc), 12, 1.6, 64.0, 15, 5.4797, 51.4500),
    DemoCase("dh-hittestress-schilderswijk", "temperature", "Temperatuurverschil hotspot t.o.v. park op hete dag",
             datetime(2022, 5, 2, tzinfo=timezone.utc), 9, -0.7, 0.0, 16, 4.2994, 52.0705),
    # No effect, but the school streets were already getting cleaner before the intervention:
    # the evaluation's own checks make the verdict inconclusive instead of "improved".
    DemoCase("utr-gezonde-schoolroutes", "no2", "NO2 op het schoolplein", datetime(2022, 9, 5, tzinfo=timezone.utc),
             12, 0.0, 31.0, 18, 5.1050, 52.0850, trend_per_day=-0.08),
]


def shared_dir() -> Path:
    env = os.environ.get("STADSLAB_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[4] / "shared"


def knmi_temperature(start: datetime, hours: int, station: int = 215) -> np.ndarray | None:
    """Hourly air temperature (°C) from the KNMI file in ../shared, or None when it is not there."""
    files = sorted((shared_dir() / "data" / "knmi-hourly").glob(f"uurgeg_{station}_*.txt"))
    if not files:
        return None
    values: dict[datetime, float] = {}
    for line in files[0].read_text(encoding="latin-1").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 8 or not parts[0].isdigit():
            continue
        day = datetime.strptime(parts[1], "%Y%m%d").replace(tzinfo=timezone.utc)
        t = day + timedelta(hours=int(parts[2]) - 1)  # HH is hour-ending: HH=1 covers 00:00-01:00 UT
        if parts[7]:
            values[t] = int(parts[7]) / 10
    out = np.array([values.get(start + i * HOUR, np.nan) for i in range(hours)])
    return out if np.isfinite(out).mean() > 0.9 else None


def city_temperature(rng: np.random.Generator, case: DemoCase, hours: int) -> np.ndarray:
    """The weather every site in the city shares: KNMI when available, else a generated early summer."""
    base = knmi_temperature(case.start, hours)
    if base is None:
        days = hours // 24
        daily = 6 * np.sin((np.arange(hours) % 24 - 9) / 24 * 2 * np.pi)
        season = np.repeat(16 + 4 * np.sin(np.arange(days) / days * np.pi), 24)
        weather = np.repeat(np.cumsum(rng.normal(0, 0.8, days)) * 0.5, 24)
        base = season + daily + weather
    return np.nan_to_num(base, nan=float(np.nanmean(base)))


def _temperature_sites(rng: np.random.Generator, case: DemoCase, base: np.ndarray, n: int,
                       treated: bool) -> np.ndarray:
    hours = base.size
    hot_hours = np.clip(np.sin((np.arange(hours) % 24 - 8) / 24 * 2 * np.pi), 0, None)
    out = []
    for _ in range(n):
        island = 1.6 + rng.normal(0, 0.2)
        noise = np.zeros(hours)
        eps = rng.normal(0, 0.25, hours)
        for i in range(1, hours):
            noise[i] = 0.8 * noise[i - 1] + eps[i]
        x = base + island * (0.5 + hot_hours) + noise
        if treated:
            x[hours // 2:] += case.effect * (0.5 + hot_hours[hours // 2:])
        out.append(x)
    return np.array(out)


def _series(case: DemoCase) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(case.seed)
    days = case.weeks * 7 * 2
    if case.kind == "temperature":
        base = city_temperature(rng, case, days * 24)
        return _temperature_sites(rng, case, base, 2, True), _temperature_sites(rng, case, base, 2, False)
    sigma = {"no2": 4.0, "cyclists": 14.0, "noise": 1.5}[case.kind]
    weather = {"no2": 3.0, "cyclists": 8.0, "noise": 0.6}[case.kind]
    site_day = {"no2": 1.5, "cyclists": 6.0, "noise": 0.4}[case.kind]
    sc = Scenario(kind=case.kind, level=case.level, days_pre=days // 2, days_post=days // 2, n_treat=2, n_control=2,
                  effect=case.effect, noise_sigma=sigma, weather_sigma=weather, site_day_sigma=site_day,
                  treat_trend_per_day=case.trend_per_day)
    treat, ctrl = hourly_sites(rng, sc)
    return np.clip(treat, 0, None), np.clip(ctrl, 0, None)


def _project(session: Session, key: str) -> Project | None:
    titles = {p["key"]: p["title"] for p in demo_data()["projects"]}
    if key not in titles:
        return None
    return session.scalars(select(Project).where(Project.title == titles[key], Project.is_demo.is_(True))).first()


def demo_loaded(session: Session) -> bool:
    return session.scalar(select(Evaluation.id).join(Project, Project.id == Evaluation.project_id)
                          .where(Project.is_demo.is_(True)).limit(1)) is not None


def load_evidence_demo(session: Session, progress: Callable[[], None] | None = None) -> dict[str, int]:
    """Sensors, series, designs and evaluations for the demo projects. Loading twice is a no-op."""
    if demo_loaded(session):
        return {}
    tick = progress or (lambda: None)
    counts = {"things": 0, "datastreams": 0, "observations": 0, "evaluations": 0}
    for case in CASES:
        project = _project(session, case.key)
        if project is None:
            continue
        name, definition = PROPERTIES[case.kind]
        op = sensors.observed_property(session, name, definition)
        treat, ctrl = _series(case)
        groups: dict[str, list[int]] = {"intervention": [], "control": []}
        for group, arr in (("intervention", treat), ("control", ctrl)):
            for i, values in enumerate(arr):
                label = f"{project.title[:60]} – {'interventie' if group == 'intervention' else 'controle'} {i + 1}"
                offset = (i + 1) * 0.004 * (1 if group == "intervention" else -1)
                thing, foi, ids = sensors.sensor_site(
                    session, label, case.lon + offset, case.lat + offset, [(op, UNITS[case.kind], f"{name} {label}")],
                    living_lab_id=project.living_lab_id, properties={"demo": True, "group": group})
                counts["observations"] += sensors.observations(session, ids[op], foi, case.start, HOUR, values)
                groups[group].append(ids[op])
                counts["things"] += 1
                counts["datastreams"] += 1
        session.commit()
        days = case.weeks * 7
        pkpi = next((k.id for k in project.kpis if k.name == case.kpi_name), None)
        mid = case.start + timedelta(days=days)
        design = DesignIn(
            intervention_sites=[{"name": "Interventielocaties", "datastream_ids": groups["intervention"]}],
            control_sites=[{"name": "Controlelocaties", "datastream_ids": groups["control"]}],
            baseline={"start": case.start.date().isoformat(), "end": (mid - timedelta(days=1)).date().isoformat()},
            intervention={"start": mid.date().isoformat(),
                          "end": (mid + timedelta(days=days - 1)).date().isoformat()},
            kpis=[{"kpi": LIBRARY[case.kind], "project_kpi_id": pkpi, "observed_property_id": op}],
            confidence_level=0.95, resolution="day",
            notes="Demo: synthetic series with a planted effect" + (" (KNMI temperature where available)"
                                                                  if case.kind == "temperature" else ""))
        service.put_design(session, project.id, design)
        service.run_evaluation(session, project.id)
        counts["evaluations"] += 1
        tick()
    return counts


def demo_size() -> int:
    return len(CASES)
