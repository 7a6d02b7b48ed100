"""Demo events and funding calls (marked ``is_demo``; titles say DEMO): loaded by ``stadslab demo``.

Plausible but invented: dates are placed relative to today so that the overview
and the matches always have something upcoming. Idempotent: nothing is added when
demo programmes already exist.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM
from stadslab.core.database import utcnow

from .calendar import create_event
from .funding import create_call, create_programme
from .models import FundingProgramme
from .schemas import EventIn, FundingCallIn, ProgrammeIn

PROGRAMMES = [
    ("horizon-europe", "Horizon Europe", "eu", "EU-kaderprogramma voor onderzoek en innovatie, met de missie "
     "Klimaatneutrale en slimme steden.", "https://research-and-innovation.ec.europa.eu/funding/funding-opportunities/funding-programmes-and-open-calls/horizon-europe_en"),
    ("cef-digital", "CEF Digital", "eu", "Connecting Europe Facility: digitale connectiviteitsinfrastructuur.",
     "https://digital-strategy.ec.europa.eu/en/activities/cef-digital"),
    ("digital-europe", "Digital Europe", "eu", "Digitale capaciteit: data, AI, cyberveiligheid, vaardigheden.",
     "https://digital-strategy.ec.europa.eu/en/activities/digital-programme"),
    ("interreg-nwe", "Interreg North-West Europe", "eu", "Grensoverschrijdende samenwerking in Noordwest-Europa.",
     "https://www.nweurope.eu/"),
    ("regio-deal", "Regio Deal", "national", "Rijksbijdrage aan regionale samenwerking tussen overheden en partners.",
     None),
    ("mit", "MIT-regeling", "national", "MKB-innovatiestimulering Regio en Topsectoren.", None),
]


def _calls(today: date) -> list[dict]:
    d = lambda days: today + timedelta(days=days)  # noqa: E731
    return [
        {"programme": "horizon-europe", "identifier": "DEMO-HORIZON-MISS-CIT-01",
         "title": "DEMO: Positive clean energy districts and smart mobility hubs",
         "description": "Demonstratie van slimme mobiliteitshubs, deelfietsen en sensoren voor verkeersstromen in "
                        "klimaatneutrale wijken. Steden delen data via open platforms.",
         "themes": ["mobility", "energy-transition", "data-ai"], "opens_on": d(-30).isoformat(),
         "deadline": datetime.combine(d(45), time(17, 0)).isoformat(), "deadline_timezone": "Europe/Brussels",
         "budget_eur": 12_000_000, "status": "open"},
        {"programme": "cef-digital", "identifier": "DEMO-CEF-DIG-5G-CORRIDORS",
         "title": "DEMO: 5G for smart communities and LoRaWAN sensor networks",
         "description": "Uitrol van 5G en IoT-sensornetwerken voor publieke diensten, slimme verlichting en "
                        "luchtkwaliteitsmeting.",
         "themes": ["digital-infrastructure"], "opens_on": d(-10).isoformat(), "deadline": d(80).isoformat(),
         "deadline_timezone": "Europe/Brussels", "budget_eur": 30_000_000, "status": "open"},
        {"programme": "digital-europe", "identifier": "DEMO-DIGITAL-LDT",
         "title": "DEMO: Local digital twins towards the CitiVERSE",
         "description": "Lokale digitale tweelingen op basis van open standaarden en sensordata; hergebruik "
                        "tussen steden.", "themes": ["data-ai", "digital-infrastructure"],
         "opens_on": d(10).isoformat(), "deadline": datetime.combine(d(120), time(17, 0)).isoformat(),
         "deadline_timezone": "Europe/Brussels", "budget_eur": 8_000_000, "status": "forthcoming"},
        {"programme": "interreg-nwe", "identifier": "DEMO-NWE-CIRC",
         "title": "DEMO: Circular city logistics and zero-emission deliveries",
         "description": "Stadslogistiek, hubs aan de stadsrand en emissievrije bevoorrading.",
         "themes": ["logistics-ports", "circular-economy-cleantech"], "deadline": d(60).isoformat(),
         "deadline_timezone": "Europe/Brussels", "budget_eur": 5_000_000, "status": "open"},
        {"programme": "regio-deal", "title": "DEMO: Regio Deal Gezonde Verstedelijking",
         "description": "Gezonde leefomgeving: hitte, groen, luchtkwaliteit en bewegen in de wijk.",
         "themes": ["healthy-urban-living", "resilience-climate-adaptation"], "deadline": d(30).isoformat(),
         "deadline_timezone": "Europe/Amsterdam", "budget_eur": 20_000_000, "status": "open"},
        {"programme": "mit", "title": "DEMO: MIT haalbaarheidsprojecten slimme stad",
         "description": "Haalbaarheidsstudies van mkb-bedrijven voor slimme-stadoplossingen.",
         "themes": ["governance-participation"], "deadline": d(-5).isoformat(), "deadline_timezone": "Europe/Amsterdam",
         "budget_eur": 2_000_000, "status": "closed"},
    ]


def _events(today: date) -> list[dict]:
    d = lambda days: today + timedelta(days=days)  # noqa: E731
    return [
        {"kind": "conference", "title": "DEMO: Smart City Expo World Congress, Holland paviljoen",
         "description": "Het Nederlandse paviljoen op het grootste smart city congres ter wereld.",
         "start": d(60).isoformat(), "end": d(62).isoformat(), "all_day": True, "timezone": "Europe/Madrid",
         "location": {"name": "Fira Gran Via", "city": "Barcelona", "country": "ES", "latitude": 41.3546,
                      "longitude": 2.1272}, "themes": ["mobility", "data-ai", "digital-infrastructure"],
         "rrule": "FREQ=YEARLY;COUNT=3",
         "representatives": [{"role": "wethouder economie", "city": "GM0363"},
                             {"role": "programmamanager smart city", "city": "GM0772"},
                             {"role": "delegatieleider", "city": "GM0599"}]},
        {"kind": "trade_mission", "title": "DEMO: Handelsmissie slimme mobiliteit naar Kopenhagen",
         "description": "Bezoek aan fietsinfrastructuur en verkeersdata-platforms.",
         "start": datetime.combine(d(25), time(9, 0)).isoformat(),
         "end": datetime.combine(d(27), time(17, 0)).isoformat(), "timezone": "Europe/Copenhagen",
         "location": {"city": "Kopenhagen", "country": "DK", "latitude": 55.6761, "longitude": 12.5683},
         "themes": ["mobility"], "representatives": [{"role": "wethouder mobiliteit", "city": "GM0344"}]},
        {"kind": "eu_info_day", "title": "DEMO: EU info day Cities Mission",
         "start": datetime.combine(d(14), time(9, 30)).isoformat(),
         "end": datetime.combine(d(14), time(16, 0)).isoformat(), "timezone": "Europe/Brussels",
         "location": {"name": "Charlemagne", "city": "Brussel", "country": "BE"},
         "themes": ["energy-transition", "governance-participation"],
         "representatives": [{"role": "EU-adviseur", "city": "GM0518"}]},
        {"kind": "network_meeting", "title": "DEMO: Maandelijks overleg G40 smart city",
         "start": datetime.combine(d(7), time(10, 0)).isoformat(),
         "end": datetime.combine(d(7), time(12, 0)).isoformat(), "timezone": "Europe/Amsterdam",
         "rrule": "FREQ=MONTHLY;COUNT=12", "location": {"name": "Online", "country": "NL"},
         "themes": ["governance-participation"],
         "representatives": [{"role": "voorzitter", "city": "GM0014"}]},
    ]


def load_interop_demo(session: Session, today: date | None = None) -> dict[str, int]:
    """Demo programmes, calls and events; returns what was added (nothing on a second run)."""
    if session.scalar(select(FundingProgramme.id).where(FundingProgramme.is_demo.is_(True)).limit(1)):
        return {}
    today = today or utcnow().date()
    counts = {"funding programmes": 0, "funding calls": 0, "events": 0}
    for code, name, level, description, url in PROGRAMMES:
        existing = session.scalar(select(FundingProgramme).where(FundingProgramme.code == code))
        if existing is None:
            create_programme(session, ProgrammeIn(code=code, name=name, level=level, description=description,
                                                  url=url), actor=SYSTEM, is_demo=True)
            counts["funding programmes"] += 1
    for call in _calls(today):
        create_call(session, FundingCallIn(**call), actor=SYSTEM, is_demo=True)
        counts["funding calls"] += 1
    for event in _events(today):
        create_event(session, EventIn(**event), actor=SYSTEM, is_demo=True)
        counts["events"] += 1
    return counts
