"""Read-only figures the pages show: key counts and what goes on the national map.

These are aggregates over the registry, not business rules, so they live with
the web interface; anything that changes data goes through the registry services.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session, undefer

from stadslab.labs.models import Adoption, LivingLab, Project, Solution
from stadslab.network.models import Coalition, Municipality, Organisation


@dataclass
class KeyFigures:
    projects: int
    labs: int
    solutions: int
    adoptions: int
    cities: int


def key_figures(session: Session) -> KeyFigures:
    def count(model) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    active_cities = union(select(LivingLab.municipality_code), select(Project.municipality_code),
                          select(Adoption.municipality_code)).subquery()
    cities = session.scalar(select(func.count()).select_from(active_cities)) or 0
    return KeyFigures(projects=count(Project), labs=count(LivingLab), solutions=count(Solution),
                      adoptions=count(Adoption), cities=cities)


def has_demo_content(session: Session) -> bool:
    """True when any registry row was loaded as demo content, so pages can say so."""
    for model in (LivingLab, Project, Solution, Adoption, Organisation, Coalition):
        if session.scalar(select(model.id).where(model.is_demo.is_(True)).limit(1)) is not None:
            return True
    return False


def projects_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Project.status, func.count()).group_by(Project.status))
    return {status: n for status, n in rows}


@dataclass
class MapCity:
    code: str
    name: str
    lat: float
    lon: float
    labs: int = 0
    projects: int = 0
    outline: dict | None = None


@dataclass
class MapLab:
    id: int
    name: str
    city: str
    lat: float
    lon: float
    status: str


@dataclass
class NationalMap:
    cities: list[MapCity] = field(default_factory=list)
    labs: list[MapLab] = field(default_factory=list)

    def geojson(self, labels: dict[str, str]) -> dict:
        """One FeatureCollection: city outlines (polygons) and lab points, ready for Leaflet."""
        features = []
        for c in self.cities:
            props = {"kind": "city", "code": c.code, "name": c.name, "labs": c.labs,
                     "projects": c.projects, "url": f"/steden/{c.code}"}
            if c.outline:
                features.append({"type": "Feature", "geometry": c.outline, "properties": props})
            features.append({"type": "Feature", "properties": {**props, "kind": "city-point"},
                             "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]}})
        for lab in self.labs:
            features.append({"type": "Feature",
                             "geometry": {"type": "Point", "coordinates": [lab.lon, lab.lat]},
                             "properties": {"kind": "lab", "id": lab.id, "name": lab.name,
                                            "city": lab.city, "status": lab.status,
                                            "url": f"/labs/{lab.id}"}})
        return {"type": "FeatureCollection", "features": features, "labels": labels}


def _point_of(geometry: dict | None) -> tuple[float, float] | None:
    """(lat, lon) of a lab geometry: the point itself, or the centre of a polygon."""
    if not geometry or "type" not in geometry:
        return None
    try:
        if geometry["type"] == "Point":
            lon, lat = geometry["coordinates"][:2]
            return float(lat), float(lon)
        from shapely.geometry import shape

        c = shape(geometry).representative_point()
        return c.y, c.x
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def national_map(session: Session, city_codes: list[str] | None = None) -> NationalMap:
    """Cities with labs or projects (outline and centre) and every lab as a point."""
    lab_counts = dict(session.execute(
        select(LivingLab.municipality_code, func.count()).group_by(LivingLab.municipality_code)).all())
    project_counts = dict(session.execute(
        select(Project.municipality_code, func.count()).group_by(Project.municipality_code)).all())
    codes = set(lab_counts) | set(project_counts)
    if city_codes is not None:
        codes = set(city_codes)
    result = NationalMap()
    if not codes:
        return result
    cities = session.scalars(select(Municipality).options(undefer(Municipality.outline))
                             .where(Municipality.code.in_(codes)).order_by(Municipality.name))
    names = {}
    for m in cities:
        names[m.code] = m.name
        result.cities.append(MapCity(code=m.code, name=m.name, lat=m.centroid_lat, lon=m.centroid_lon,
                                     labs=lab_counts.get(m.code, 0), projects=project_counts.get(m.code, 0),
                                     outline=json.loads(m.outline) if m.outline else None))
    centres = {c.code: (c.lat, c.lon) for c in result.cities}
    labs = session.scalars(select(LivingLab).where(LivingLab.municipality_code.in_(codes))
                           .order_by(LivingLab.name))
    for lab in labs:
        point = _point_of(lab.geometry) or centres.get(lab.municipality_code)
        if point:
            result.labs.append(MapLab(id=lab.id, name=lab.name, city=names.get(lab.municipality_code, ""),
                                      lat=point[0], lon=point[1], status=lab.status))
    return result
