"""REST endpoints of the national view (thin: parse, call one service function, shape).

Unknown filter values are a 400 (problem+json) naming the parameter and the allowed values.
"""

# No ``from __future__ import annotations``: FastAPI must see the real parameter types.

from typing import Optional

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from stadslab.core.database import get_session

from . import service

router = APIRouter(prefix="/network", tags=["national"])


@router.get("/overview", summary="Per city of the G4, G40 and every city with content: labs, projects, adopted "
                                 "solutions, evaluations and verdicts, loket requests (local and harvested)")
def overview(province: list[str] = Query([], max_length=20), theme: list[str] = Query([], max_length=20),
             network: list[str] = Query([], max_length=3, description="G4, G40 or other"),
             session: Session = Depends(get_session)) -> dict:
    f = service.overview_filters(session, province=province, theme=theme, network=network)
    return service.overview(session, f)


@router.get("/solutions", summary="Every solution with maturity, origin, adopting cities, multiplier figures and "
                                  "evidence; the order of the /oplossingen page")
def solutions(sort: Optional[str] = Query(None, max_length=40, description="name, maturity, origin, "
                                          "adopting_cities, adoptions, time_to_half_adoption, improved; "
                                          "prefix - for descending (default -adopting_cities)"),
              maturity: list[str] = Query([], max_length=3), theme: list[str] = Query([], max_length=20),
              city: list[str] = Query([], max_length=20, description="CBS code of the origin city"),
              session: Session = Depends(get_session)) -> dict:
    return service.solutions_index(session, sort=sort, maturity=maturity, theme=theme, city=city)


@router.get("/specialisations", summary="Lead and partner cities per theme (national Smart City strategy)")
def specialisations(session: Session = Depends(get_session)) -> list[dict]:
    return [{"theme": e["theme"].code, "leads": e["leads"], "partners": e["partners"],
             "url": f"/specialisaties/{e['theme'].code}"} for e in service.specialisations(session)]
