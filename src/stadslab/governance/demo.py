"""Demo accounts, one per role, and a few loket requests to work on (``stadslab demo``).

DEMO ONLY: every account gets the same development password, printed at start. Never load
the demo into a database that real people use. Loading twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM
from stadslab.core.database import utcnow
from stadslab.labs.models import LivingLab
from stadslab.network.models import Organisation

from . import loket, service
from .models import LoketRequest, User

#: The development password of every demo account (demo only; printed by ``stadslab demo``).
DEMO_PASSWORD = "stadslab-demo-wachtwoord"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    role: str
    organisation: str | None
    desk_team: str | None = None

    @property
    def label(self) -> str:
        return f"{self.role} ({self.desk_team})" if self.desk_team else self.role


ACCOUNTS = (
    DemoAccount("beheer@demo.stadslab.example", "Anna Beheer (demo)", "admin", None),
    DemoAccount("redacteur@utrecht.demo.stadslab.example", "Uri Utrecht (demo)", "editor", "Gemeente Utrecht"),
    DemoAccount("redacteur@voorbeeld-mobility.demo.stadslab.example", "Bo Bedrijf (demo)", "editor",
                "Voorbeeld Mobility B.V."),
    DemoAccount("loket@ienw.demo.stadslab.example", "Dirk Bureau (demo)", "desk",
                "Ministerie van Infrastructuur en Waterstaat", "ienw"),
    DemoAccount("lid@utrecht.demo.stadslab.example", "Mo Lid (demo)", "member", "Gemeente Utrecht"),
)

LAB = "Healthy Urban Living Lab Leidsche Rijn"


def load_demo_accounts(session: Session) -> list[DemoAccount]:
    """Create the demo accounts that do not exist yet (organisations from the demo content)."""
    orgs = {o.name: o.id for o in session.scalars(select(Organisation).where(
        Organisation.name.in_([a.organisation for a in ACCOUNTS if a.organisation])))}
    for a in ACCOUNTS:
        if service.find_user_by_email(session, a.email) is not None:
            continue
        if a.organisation is not None and a.organisation not in orgs:
            continue  # demo content not loaded: no organisation to belong to
        service.create_user(session, SYSTEM, email=a.email, display_name=a.name, password=DEMO_PASSWORD,
                            organisation_id=orgs.get(a.organisation), role=a.role, desk_team=a.desk_team)
    present = {u.email for u in session.scalars(select(User).where(User.email.in_([a.email for a in ACCOUNTS])))}
    return [a for a in ACCOUNTS if a.email in present]


def load_demo_loket(session: Session) -> int:
    """Utrecht's requests: one waiting for the IenW desk, one granted exemption that ends within 60 days."""
    utrecht = session.scalar(select(Organisation).where(Organisation.name == "Gemeente Utrecht"))
    lab = session.scalar(select(LivingLab).where(LivingLab.name == LAB))
    if utrecht is None or lab is None or session.scalar(
            select(LoketRequest.id).where(LoketRequest.organisation_id == utrecht.id).limit(1)) is not None:
        return 0
    editor = service.find_user_by_email(session, ACCOUNTS[1].email)
    from .authn import principal_for_user

    city = principal_for_user(editor, "session") if editor is not None else SYSTEM
    base = {"organisation_id": utrecht.id, "living_lab_id": lab.id}
    loket.submit(session, city, {**base, "type": "experiment", "topic": "mobility",
                                 "title": "Deelstep-proef zonder kentekenplicht in Leidsche Rijn",
                                 "regulation": "Regeling voertuigen, kentekenplicht bijzondere bromfietsen",
                                 "description": "Een half jaar 40 deelsteps op afgebakende routes, met sensoren die "
                                                "snelheid en parkeergedrag meten."})
    earlier = loket.submit(session, city, {**base, "type": "experiment", "topic": "mobility",
                                           "title": "Slimme verkeerslichten met voorrang voor fietsers",
                                           "regulation": "RVV 1990, artikel 68"},
                           now=utcnow() - timedelta(days=300))
    today = utcnow().date()
    loket.transition(session, SYSTEM, earlier.id, "in_review")
    loket.transition(session, SYSTEM, earlier.id, "decided", "granted", "Toegestaan als proef, met evaluatie.",
                     valid_from=today - timedelta(days=240), valid_until=today + timedelta(days=45))
    return 2
