"""A small, realistic registry for the web tests, written through the registry services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

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


# --- accounts, sensors, calendar, loket and evidence for the newer pages ----------------------------

@dataclass
class Accounts:
    organisation_id: int
    other_organisation_id: int
    admin_email: str
    editor_email: str
    member_email: str
    other_editor_email: str
    admin_id: int
    editor_id: int


def seed_accounts(session: Session) -> Accounts:
    """An administrator and, for Gemeente Eindhoven, an editor and a member; an editor of another city."""
    from tests.governance.factories import make_organisation, make_user

    eindhoven = make_organisation(session, "Gemeente Eindhoven", municipality_code=EINDHOVEN)
    utrecht = make_organisation(session, "Gemeente Utrecht", municipality_code=UTRECHT)
    admin = make_user(session, "admin", None, email="beheer@example.org", display_name="Anna Beheer")
    editor = make_user(session, "editor", eindhoven, email="redacteur@eindhoven.example.org",
                       display_name="Eva Redacteur")
    make_user(session, "member", eindhoven, email="lid@eindhoven.example.org", display_name="Mo Lid")
    make_user(session, "editor", utrecht, email="redacteur@utrecht.example.org", display_name="Uri Utrecht")
    return Accounts(organisation_id=eindhoven.id, other_organisation_id=utrecht.id, admin_email=admin.email,
                    editor_email=editor.email, member_email="lid@eindhoven.example.org",
                    other_editor_email="redacteur@utrecht.example.org", admin_id=admin.id, editor_id=editor.id)


def _sta(session: Session, path: str, body: dict) -> int:
    """Creates SensorThings entities through the hub's own service (as a system writer)."""
    from stadslab.core.auth import SYSTEM
    from stadslab.core.config import Settings
    from stadslab.sensorthings.api import dispatch
    from stadslab.sensorthings.read.serialize import Links

    answer = dispatch.handle(session, Settings(), Links("http://testserver/sta/v1.1"), "POST", path, [],
                             body, principal=SYSTEM, body_parsed=True)
    assert answer.status == 201, answer.body
    return answer.body["@iot.id"]


@dataclass
class Sensors:
    camera: int
    air: int
    hidden: int
    datastream: int


def seed_sensors(session: Session, lab_id: int | None = None, owner_organisation_id: int | None = None) -> Sensors:
    """A camera that processes personal data, an open air-quality box with measurements, and a
    restricted Thing that anonymous visitors may not see."""
    from datetime import datetime, timedelta, timezone

    observations = [{"phenomenonTime": (datetime(2024, 5, 1, tzinfo=timezone.utc) + timedelta(hours=h))
                     .strftime("%Y-%m-%dT%H:%M:%SZ"), "result": 10 + (h % 24) / 2 + (h // 24) * 1.5}
                    for h in range(0, 24 * 6)]
    unit = {"name": "microgram per kubieke meter", "symbol": "µg/m³", "definition": "https://qudt.org/vocab/unit"}
    camera = _sta(session, "Things", {
        "name": "Drukteteller Stationsplein", "description": "Telt voetgangers op het plein",
        "properties": {"register": {
            "purpose": "Drukte meten op het plein", "sensor_type": "camera", "processes_personal_data": True,
            "legal_ground": "publieke taak", "retention": "24 uur", "living_lab_id": lab_id,
            "privacy_statement_url": "https://example.org/privacy/drukte", "placement": "fixed",
            "owner": {"organisation": "Gemeente Eindhoven", "contact": "sensoren@example.org"}}},
        "Locations": [{"name": "Stationsplein", "description": "mast", "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": [5.4794, 51.4433]}}]})
    air = _sta(session, "Things", {
        "name": "Luchtmeetkast Kruisstraat", "description": "Fijnstof in de wijk",
        "properties": {"register": {
            "purpose": "Luchtkwaliteit in de wijk", "sensor_type": "luchtkwaliteit", "retention": "5 jaar",
            "living_lab_id": lab_id, "owner": {"organisation": "Gemeente Eindhoven"}}},
        "Locations": [{"name": "Kruisstraat", "description": "lantaarnpaal", "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": [5.4697, 51.4497]}}],
        "Datastreams": [{"name": "PM2.5 Kruisstraat", "description": "fijnstof",
                         "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                         "unitOfMeasurement": unit,
                         "Sensor": {"name": "SDS011", "description": "fijnstofsensor", "encodingType": "text/html",
                                    "metadata": "https://example.org/sds011"},
                         "ObservedProperty": {"name": "PM2.5", "definition": "https://example.org/def/pm25",
                                              "description": "fijnstof"},
                         "Observations": observations}]})
    register = {"purpose": "Geluid meten bij de kazerne", "sensor_type": "geluid", "access_class": "restricted"}
    if owner_organisation_id is not None:
        register["owner"] = {"organisation_id": owner_organisation_id}
    hidden = _sta(session, "Things", {
        "name": "Geluidsmeter kazerne", "description": "Alleen voor de eigenaar",
        "properties": {"register": register},
        "Locations": [{"name": "Kazerne", "description": "dak", "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": [5.4801, 51.4402]}}]})
    from sqlalchemy import select

    from stadslab.sensorthings.model.tables import Datastream

    datastream = session.scalar(select(Datastream.id).where(Datastream.thing_id == air))
    return Sensors(camera=camera, air=air, hidden=hidden, datastream=datastream)


def seed_calendar(session: Session) -> dict[str, int]:
    """A conference abroad next month, a weekly webinar, and an open funding call."""
    from datetime import date, timedelta

    from stadslab.core.auth import SYSTEM
    from stadslab.interop.calendar import create_event
    from stadslab.interop.funding import create_call, create_programme
    from stadslab.interop.schemas import EventIn, FundingCallIn, ProgrammeIn

    soon = date.today() + timedelta(days=30)
    expo = create_event(session, EventIn(
        kind="conference", title="Smart City Expo World Congress", description="Holland paviljoen",
        start=f"{soon.isoformat()}T09:00:00", end=f"{soon.isoformat()}T18:00:00", timezone="Europe/Madrid",
        location={"name": "Fira Gran Via", "city": "Barcelona", "country": "ES"}, themes=["mobility"],
        representatives=[{"role": "wethouder", "city": EINDHOVEN}, {"role": "programmamanager", "city": UTRECHT}]))
    webinar = create_event(session, EventIn(
        kind="webinar", title="Maandelijkse kennissessie sensordata", start=f"{soon.isoformat()}T15:00:00",
        end=f"{soon.isoformat()}T16:00:00", rrule="FREQ=MONTHLY;COUNT=6", themes=["data-ai"]))
    create_programme(session, ProgrammeIn(code="horizon-europe", name="Horizon Europe"), actor=SYSTEM)
    call = create_call(session, FundingCallIn(
        programme="horizon-europe", title="Smart mobility hubs", description="Deelmobiliteit en sensoren",
        themes=["mobility"], deadline=f"{(soon + timedelta(days=20)).isoformat()}T17:00:00", status="open"))
    return {"expo": expo.id, "webinar": webinar.id, "call": call.id}


def seed_exemption(session: Session, organisation_id: int, lab_id: int) -> int:
    """A granted experiment request (experimenteerruimte) of ``organisation_id`` in ``lab_id``."""
    from stadslab.core.auth import SYSTEM
    from stadslab.governance import loket

    r = loket.submit(session, SYSTEM, {"type": "experiment", "topic": "mobility", "title": "Zelfrijdende pendelbus",
                                       "description": "Proef op de campus", "regulation": "RVV 1990, artikel 5",
                                       "living_lab_id": lab_id, "organisation_id": organisation_id})
    loket.transition(session, SYSTEM, r.id, "in_review")
    today = date.today()
    loket.transition(session, SYSTEM, r.id, "decided", "granted", "Toegestaan voor een jaar",
                     valid_from=today - timedelta(days=30), valid_until=today + timedelta(days=335))
    return r.id


DESK_EMAIL = "bureau@ienw.example.org"


def seed_desk(session: Session, team: str = "ienw", email: str = DESK_EMAIL) -> int:
    """A loket desk account of the ministry that handles ``team`` (the IenW desk by default)."""
    from stadslab.governance.loket import team_name
    from tests.governance.factories import make_organisation, make_user

    ministry = make_organisation(session, team_name(team), kind="government")
    return make_user(session, "desk", ministry, email=email, display_name="Dirk Bureau", desk_team=team).id
