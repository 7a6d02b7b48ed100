"""Loads the reference data shipped with the package (municipalities, networks, themes).

Loading is idempotent: existing rows are updated in place, so ``stadslab seed``
can run on every deploy.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import CityNetworkMembership, CitySpecialisation, Municipality, Theme

REFERENCE = resources.files("stadslab.network") / "reference"
REFERENCE_TABLES = ("municipalities", "city_network_memberships", "themes", "city_specialisations")


@dataclass
class SeedReport:
    municipalities: int
    themes: int
    memberships: int
    specialisations: int


def _read_json(name: str):
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))


def load_reference(session: Session, progress=None) -> SeedReport:
    rows = list(csv.DictReader((REFERENCE / "municipalities.csv").read_text(encoding="utf-8").splitlines()))
    outlines = _read_json("outlines.json")
    existing = {m.code: m for m in session.scalars(select(Municipality))}
    for row in rows:
        m = existing.get(row["code"]) or Municipality(code=row["code"])
        m.name = row["name"]
        m.province = row["province"]
        m.population = int(row["population"])
        m.land_area_km2 = float(row["land_area_km2"])
        m.centroid_lat = float(row["centroid_lat"])
        m.centroid_lon = float(row["centroid_lon"])
        geom = outlines.get(row["code"])
        m.outline = json.dumps(geom, separators=(",", ":")) if geom else None
        session.add(m)
        if progress:
            progress()
    session.flush()
    by_name = {m.name: m.code for m in session.scalars(select(Municipality))}

    facts: dict[str, set[str]] = {}
    for fact, names in _read_json("city_facts.json")["facts"].items():
        for name in names:
            facts.setdefault(by_name[name], set()).add(fact)
    for m in session.scalars(select(Municipality)):
        m.facts = sorted(facts.get(m.code, ()))

    networks = _read_json("networks.json")
    session.execute(delete(CityNetworkMembership))
    memberships = 0
    for network in ("G4", "G40"):
        for name in networks[network]:
            session.add(CityNetworkMembership(municipality_code=by_name[name], network=network,
                                              since=networks.get(f"{network}_since", {}).get(name)))
            memberships += 1

    themes = _read_json("themes.json")
    existing_themes = {t.code: t for t in session.scalars(select(Theme))}
    for pos, t in enumerate(themes):
        theme = existing_themes.get(t["code"]) or Theme(code=t["code"])
        for key in ("name_nl", "name_en", "description_nl", "description_en"):
            setattr(theme, key, t[key])
        theme.position = pos
        session.add(theme)
    session.flush()

    session.execute(delete(CitySpecialisation))
    specs = _read_json("specialisations.json")
    for s in specs:
        session.add(CitySpecialisation(
            municipality_code=by_name[s["city"]], theme_code=s["theme"], label_nl=s["label_nl"],
            label_en=s["label_en"], partner_codes=" ".join(by_name[p] for p in s["partners"])))
    session.commit()
    return SeedReport(len(rows), len(themes), memberships, len(specs))
