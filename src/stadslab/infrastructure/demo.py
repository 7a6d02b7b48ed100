"""Demo infrastructure: a few assets and investments of the demo cities (``stadslab demo``).

So that the register, the investment agenda and the national dashboard's infrastructure
figures show something to try. They are loaded through the same services as the API
(validation, audit trail), owned by the demo municipalities and companies; every
description says it is example data. Coverage is not invented: it is learned from real
uplinks only (docs/infrastructure.md), so the demo has none until a device sends.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM
from stadslab.labs.models import LivingLab
from stadslab.network.models import Organisation

from .models import Asset, Investment
from .schemas import AssetIn, ContributionIn, InvestmentIn
from .service import create_asset, create_investment

NOTE = "Voorbeeldgegevens van de demo: geen echte infrastructuur."

#: (name, type, owner, operator, openness, status, (lon, lat), city, lab name or None)
ASSETS = (
    ("LoRaWAN-gateway Leidsche Rijn Centrum", "lorawan-gateway", "Gemeente Utrecht", None, "open", "live",
     (5.0603, 52.0950), "GM0344", "Healthy Urban Living Lab Leidsche Rijn"),
    ("LoRaWAN-gateway Stadhuis Utrecht", "lorawan-gateway", "Gemeente Utrecht", None, "open", "live",
     (5.1197, 52.0917), "GM0344", None),
    ("LoRaWAN-gateway Strijp-S", "lorawan-gateway", "Voorbeeld Connectivity B.V.", None, "community", "live",
     (5.4560, 51.4490), "GM0772", None),
    ("LoRaWAN-gateway Zuidas", "lorawan-gateway", "Gemeente Amsterdam", None, "open", "building",
     (4.8730, 52.3380), "GM0363", None),
    ("5G-site Eindhoven Centraal", "5g-site", "Voorbeeld Connectivity B.V.", None, "private", "live",
     (5.4790, 51.4430), "GM0772", None),
    ("Publieke wifi Binnenstad Rotterdam", "public-wifi", "Gemeente Rotterdam", None, "open", "planned",
     (4.4777, 51.9225), "GM0599", None),
)

#: (title, technology, phase, cost, owner, cities, [(party type, party, amount, committed)])
INVESTMENTS = (
    ("Open LoRaWAN-netwerk Utrecht", "lorawan-gateway", "committed", 240_000.0, "Gemeente Utrecht", ["GM0344"],
     [("local", "Gemeente Utrecht", 120_000.0, True), ("state", "Ministerie van BZK", 60_000.0, True),
      ("market", "Voorbeeld Sensoren B.V.", 30_000.0, False)]),
    ("Glasvezel bedrijventerrein Strijp", "fibre", "idea", 1_500_000.0, "Gemeente Eindhoven", ["GM0772"],
     [("market", "Voorbeeld Connectivity B.V.", 600_000.0, False), ("regional", "Provincie Noord-Brabant",
                                                                     250_000.0, True)]),
)


def load_infrastructure_demo(session: Session) -> int:
    """The demo assets and investments; nothing when any asset or investment exists already."""
    if session.scalar(select(Asset.id).limit(1)) is not None or \
            session.scalar(select(Investment.id).limit(1)) is not None:
        return 0
    orgs = dict(session.execute(select(Organisation.name, Organisation.id)).all())
    labs = dict(session.execute(select(LivingLab.name, LivingLab.id)).all())
    n = 0
    for name, type_, owner, operator, openness, status, (lon, lat), city, lab in ASSETS:
        if owner not in orgs:
            continue
        create_asset(session, AssetIn(
            name=name, type=type_, description=NOTE, owner_organisation_id=orgs[owner],
            operator_organisation_id=orgs.get(operator) if operator else None, openness=openness, status=status,
            geometry={"type": "Point", "coordinates": [lon, lat]}, municipality_code=city,
            living_lab_ids=[labs[lab]] if lab in labs else []), SYSTEM)
        n += 1
    for title, technology, phase, cost, owner, cities, parts in INVESTMENTS:
        if owner not in orgs:
            continue
        create_investment(session, InvestmentIn(
            title=title, technology=technology, phase=phase, cost_eur=cost, description=NOTE,
            owner_organisation_id=orgs[owner], municipalities=cities,
            contributions=[ContributionIn(party_type=p, party=who, amount_eur=amount, committed=done)
                           for p, who, amount, done in parts]), SYSTEM)
        n += 1
    session.commit()
    return n
