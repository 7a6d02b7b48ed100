"""Registry rows made straight through the ORM, then indexed: search tests do not depend on registry services."""

from __future__ import annotations

import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.labs.models import Adoption, Kpi, Lesson, LivingLab, Project, Solution
from stadslab.network.models import Coalition, Municipality, Organisation, Theme
from stadslab.search import indexer

AMSTERDAM, ROTTERDAM, UTRECHT, EINDHOVEN = "GM0363", "GM0599", "GM0344", "GM0772"
_seq = itertools.count(1)


def themes(session: Session, *codes: str) -> list[Theme]:
    return list(session.scalars(select(Theme).where(Theme.code.in_(codes)))) if codes else []


def project(session: Session, title: str, summary: str = "", *, city: str = UTRECHT, status: str = "pilot",
            theme_codes: tuple[str, ...] = (), lessons: tuple[str, ...] = (), kpis: tuple[str, ...] = (),
            index: bool = True) -> Project:
    p = Project(title=title, summary=summary, municipality_code=city, status=status,
                themes=themes(session, *theme_codes),
                lessons=[Lesson(position=i, text=t) for i, t in enumerate(lessons)],
                kpis=[Kpi(position=i, name=k, unit="%") for i, k in enumerate(kpis)])
    session.add(p)
    session.flush()
    if index:
        indexer.index_object(session, p)
    session.commit()
    return p


def lab(session: Session, name: str, description: str = "", *, city: str = EINDHOVEN, status: str = "active",
        theme_codes: tuple[str, ...] = (), infrastructure: tuple[str, ...] = ()) -> LivingLab:
    lab_ = LivingLab(name=name, description=description, municipality_code=city, status=status,
                     themes=themes(session, *theme_codes), infrastructure=list(infrastructure),
                     regulatory_exemptions=[])
    session.add(lab_)
    session.flush()
    indexer.index_object(session, lab_)
    session.commit()
    return lab_


def solution(session: Session, name: str, description: str = "", *, origin: Project | None = None,
             maturity: str = "pilot", theme_codes: tuple[str, ...] = ()) -> Solution:
    s = Solution(name=name, description=description, origin_project_id=origin.id if origin else None,
                 maturity=maturity, themes=themes(session, *theme_codes))
    session.add(s)
    session.flush()
    indexer.index_object(session, s)
    session.commit()
    return s


def adoption(session: Session, solution_: Solution, city: str) -> Adoption:
    a = Adoption(solution_id=solution_.id, municipality_code=city, status="adopted", outcome="")
    session.add(a)
    session.flush()
    indexer.index_object(session, a)
    session.commit()
    return a


def coalition(session: Session, title: str, question: str = "", *, lead: str = ROTTERDAM,
              cities: tuple[str, ...] = (), theme_codes: tuple[str, ...] = (),
              organisations: tuple[str, ...] = ()) -> Coalition:
    members = list(session.scalars(select(Municipality).where(Municipality.code.in_({lead, *cities}))))
    orgs = []
    for name in organisations:
        o = Organisation(name=name, kind="company")
        session.add(o)
        orgs.append(o)
    c = Coalition(title=title, question=question, description="", lead_municipality_code=lead,
                  status="active", cities=members, organisations=orgs, themes=themes(session, *theme_codes))
    session.add(c)
    session.flush()
    indexer.index_object(session, c)
    session.commit()
    return c
