"""Experiment designs: validation and resolution of sites into Datastreams per KPI.

A design is checked as a whole and every problem is reported at once, each with
the place in the body where it is (``body.kpis.0.observed_property_id``), so an
editor can fix a design in one go. Resolution is repeated at evaluation time
because Things can gain or lose Datastreams after the design was saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.core.auth import ANONYMOUS, Principal
from stadslab.core.errors import ValidationFailed, field_error
from stadslab.labs.models import Project
from stadslab.sensorthings.access import visibility
from stadslab.sensorthings.model.tables import Datastream, Location, ObservedProperty, Thing, thing_locations
from stadslab.sensorthings.model.values import BadValue, parse_instant

from . import kpi_library
from .engine import BUCKET_SECONDS, FIXED_B
from .schemas import DesignIn

GROUPS = ("intervention_sites", "control_sites")
MAX_BUCKETS = 60_000
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class SiteStream:
    site: str
    datastream_id: int
    unit: str


@dataclass
class ResolvedKpi:
    index: int
    code: str | None
    library: dict | None
    project_kpi_id: int | None
    name: dict[str, str]
    unit: str
    direction: str
    observed_property_id: int
    observed_property_name: str
    valid_range: list | None
    intervention: list[SiteStream] = field(default_factory=list)
    control: list[SiteStream] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "kpi": self.code, "project_kpi_id": self.project_kpi_id, "name": self.name,
                "unit": self.unit, "direction": self.direction,
                "observed_property": {"id": self.observed_property_id, "name": self.observed_property_name},
                "valid_range": self.valid_range,
                "intervention": [s.__dict__ for s in self.intervention],
                "control": [s.__dict__ for s in self.control]}


@dataclass
class ResolvedDesign:
    design: dict[str, Any]
    baseline: tuple[datetime, datetime]
    intervention: tuple[datetime, datetime]
    resolution: str
    confidence: float
    kpis: list[ResolvedKpi]

    @property
    def has_control(self) -> bool:
        return bool(self.design["control_sites"])

    def as_dict(self) -> dict[str, Any]:
        return {"baseline": [self.baseline[0].isoformat(), self.baseline[1].isoformat()],
                "intervention": [self.intervention[0].isoformat(), self.intervention[1].isoformat()],
                "resolution": self.resolution, "confidence_level": self.confidence,
                "kpis": [k.as_dict() for k in self.kpis]}


class _Errors:
    def __init__(self):
        self.items: list[dict] = []

    def add(self, loc: list, msg: str) -> None:
        self.items.append(field_error(["body", *loc], msg))

    def raise_if_any(self) -> None:
        if self.items:
            detail = "; ".join(f"{e['field']}: {e['msg']}" for e in self.items[:4])
            if len(self.items) > 4:
                detail += f" (and {len(self.items) - 4} more)"
            raise ValidationFailed(f"The experiment design is not valid: {detail}", errors=self.items)


def _instant(text: str, is_end: bool) -> datetime:
    t = parse_instant(text)
    return t + timedelta(days=1) if is_end and _DATE_ONLY.match(text.strip()) else t


def _periods(design: DesignIn, errors: _Errors) -> dict[str, tuple[datetime, datetime]]:
    out = {}
    for name in ("baseline", "intervention"):
        p = getattr(design, name)
        try:
            start, end = _instant(p.start, False), _instant(p.end, True)
        except BadValue as exc:
            errors.add([name], str(exc))
            continue
        if end <= start:
            errors.add([name, "end"], f"the {name} period ends before it starts (reversed period)")
            continue
        out[name] = (start, end)
    if len(out) == 2:
        (b0, b1), (i0, i1) = out["baseline"], out["intervention"]
        if b0 >= i1:
            errors.add(["baseline"], "the baseline period must come before the intervention period")
        elif b1 > i0:
            errors.add(["intervention", "start"], "the baseline and intervention periods overlap; the baseline "
                                                  f"must end by {i0.date().isoformat()}")
        span = (max(b1, i1) - min(b0, i0)).total_seconds() / BUCKET_SECONDS[design.resolution]
        if span > MAX_BUCKETS:
            errors.add(["resolution"], f"the periods span {int(span)} {design.resolution}s; at most "
                                       f"{MAX_BUCKETS} buckets. Use daily resolution or shorter periods")
    return out


def _things_in_area(session: Session, area: dict, principal: Principal) -> list[int]:
    """Things ``principal`` may see, matched by their *public* position (docs/sensorthings.md
    "Location precision"): evaluations are public, and an area that could be narrowed down step by
    step would otherwise reveal where a coarsened sensor stands exactly. A hidden Thing is not
    there at all, so "no Thing in this area" cannot betray it either."""
    from stadslab.sensorthings.access.public_geometry import public_rows

    polygon = shape(area)
    rows = [r._mapping for r in session.execute(
        select(thing_locations.c.thing_id, Location.id, Location.location, Location.public_location)
        .join(Location, Location.id == thing_locations.c.location_id)
        .where(thing_locations.c.thing_id.in_(visibility.visible_thing_ids(principal))))]
    found = set()
    for thing_id, geo in ((r["thing_id"], r["location"]) for r in public_rows(session, ANONYMOUS, "Location", rows)):
        try:
            if geo and polygon.intersects(shape(geo.get("geometry", geo) if geo.get("type") == "Feature" else geo)):
                found.add(thing_id)
        except Exception:  # noqa: BLE001 - a malformed stored location cannot be in the area
            continue
    return sorted(found)


def _not_open(session: Session, rows: list) -> dict[int, str]:
    """Datastream id -> access class, for the Datastreams that are not open data.

    Evaluations, reports and comparisons are public, and group means are derived data,
    so only Datastreams an anonymous caller may read (``visibility``) may feed them. Callers
    pass only rows the caller may see: naming the class of a hidden one would reveal it.
    """
    if not rows:
        return {}
    public = visibility.visible_ids(session, ANONYMOUS, "Datastream", [r.id for r in rows])
    things = dict(session.execute(select(Thing.id, Thing.access_class)
                                  .where(Thing.id.in_({r.thing_id for r in rows}))).all())
    out = {}
    for r in rows:
        if r.id not in public:
            cls = r.access_class or "open"
            out[r.id] = cls if cls != "open" else (things.get(r.thing_id) or "restricted")
    return out


def _visible_streams(principal: Principal, *conditions):
    """Datastreams matching ``conditions`` that ``principal`` may see: the others are as unknown."""
    return select(Datastream).where(*conditions, *visibility.where(principal, "Datastream", Datastream.__table__))


def _site_streams(session: Session, design: DesignIn, errors: _Errors,
                  principal: Principal) -> dict[str, list[tuple[str, Any, bool]]]:
    """Per group: (site name, Datastream row, listed explicitly) for every candidate open Datastream."""
    out: dict[str, list] = {g: [] for g in GROUPS}
    for group in GROUPS:
        label = "intervention" if group == "intervention_sites" else "control"
        for i, site in enumerate(getattr(design, group)):
            name = site.name or f"{label} {i + 1}"
            if site.datastream_ids:
                rows = {r.id: r for r in session.scalars(_visible_streams(
                    principal, Datastream.id.in_(site.datastream_ids)))}
                missing = [d for d in site.datastream_ids if d not in rows]
                if missing:
                    errors.add([group, i, "datastream_ids"], f"unknown Datastream id(s): {', '.join(map(str, missing))}")
                closed = _not_open(session, list(rows.values()))
                if closed:
                    errors.add([group, i, "datastream_ids"], "evaluations are public, so only open data can be used; "
                               + ", ".join(f"Datastream {d} is '{c}'" for d, c in sorted(closed.items())))
                out[group].extend((name, rows[d], True) for d in site.datastream_ids if d in rows and d not in closed)
                continue
            if site.thing_ids:
                known = visibility.visible_ids(session, principal, "Thing", site.thing_ids)
                missing = [t for t in site.thing_ids if t not in known]
                if missing:
                    errors.add([group, i, "thing_ids"], f"unknown Thing id(s): {', '.join(map(str, missing))}")
                thing_ids = sorted(known)
            else:
                thing_ids = _things_in_area(session, site.area, principal)
                if not thing_ids:
                    errors.add([group, i, "area"], "no Thing has a Location inside this area")
            if thing_ids:
                rows = session.scalars(_visible_streams(principal, Datastream.thing_id.in_(thing_ids))
                                       .order_by(Datastream.id)).all()
                if not rows:
                    errors.add([group, i], "the Things of this site have no Datastreams")
                closed = _not_open(session, rows)
                if closed and site.thing_ids:
                    errors.add([group, i, "thing_ids"], "evaluations are public, so only open data can be used; "
                               + ", ".join(f"Datastream {d} is '{c}'" for d, c in sorted(closed.items())))
                out[group].extend((name, r, False) for r in rows if r.id not in closed)
    return out


def _observed_property(session: Session, k, lib: dict | None, candidates: set[int], loc: list,
                       errors: _Errors) -> ObservedProperty | None:
    if k.observed_property_id is not None:
        op = session.get(ObservedProperty, k.observed_property_id)
        if op is None:
            errors.add([*loc, "observed_property_id"], f"unknown ObservedProperty id {k.observed_property_id}")
        return op
    label = f"KPI {lib['code']!r}" if lib else f"project KPI {k.project_kpi_id}"
    if lib is None or lib.get("observed_property") is None:
        errors.add([*loc, "observed_property_id"], f"{label} has no linked ObservedProperty: give "
                                                   "observed_property_id (the SensorThings ObservedProperty that measures it)")
        return None
    ops = session.scalars(select(ObservedProperty).where(ObservedProperty.id.in_(candidates))).all() if candidates else []
    matches = [op for op in ops if kpi_library.observed_property_matches(lib, op.name, op.definition)]
    if not matches:
        errors.add([*loc, "observed_property_id"], f"{label} has no linked ObservedProperty: none of the sites' "
                                                   "Datastreams measures it; give observed_property_id")
        return None
    if len(matches) > 1:
        errors.add([*loc, "observed_property_id"], f"{label} matches several ObservedProperties "
                                                   f"({', '.join(str(o.id) for o in matches)}); choose one")
        return None
    return matches[0]


def resolve(session: Session, project: Project, design: DesignIn, principal: Principal) -> ResolvedDesign:
    """Check the design against the registry and the sensor hub; 422 listing every problem.

    Sites are resolved as ``principal`` sees the hub: a Thing or Datastream they may not see is
    reported exactly like an id that does not exist (and one found by area is not found).
    """
    errors = _Errors()
    periods = _periods(design, errors)
    if design.confidence_level not in FIXED_B:
        errors.add(["confidence_level"], "must be one of " + ", ".join(str(c) for c in sorted(FIXED_B)))
    streams = _site_streams(session, design, errors, principal)
    both = ({r.id for _, r, _ in streams["intervention_sites"]} & {r.id for _, r, _ in streams["control_sites"]})
    if both:
        errors.add(["control_sites"], f"Datastream(s) {', '.join(map(str, sorted(both)))} are both intervention "
                                      "and control")
    project_kpis = {k.id: k for k in project.kpis}
    candidates = {r.observed_property_id for g in GROUPS for _, r, _ in streams[g]}
    resolved: list[ResolvedKpi] = []
    used_ops: set[int] = set()
    for i, k in enumerate(design.kpis):
        loc = ["kpis", i]
        lib = None
        if k.kpi is not None:
            lib = kpi_library.by_code().get(k.kpi)
            if lib is None:
                errors.add([*loc, "kpi"], f"unknown KPI library code {k.kpi!r} (see /api/v1/kpis)")
                continue
        pk = None
        if k.project_kpi_id is not None:
            pk = project_kpis.get(k.project_kpi_id)
            if pk is None:
                errors.add([*loc, "project_kpi_id"], f"project {project.id} has no KPI with id {k.project_kpi_id}")
                continue
        op = _observed_property(session, k, lib, candidates, loc, errors)
        if op is None:
            continue
        used_ops.add(op.id)
        groups = {g: [(site, r) for site, r, _ in streams[g] if r.observed_property_id == op.id] for g in GROUPS}
        if not groups["intervention_sites"]:
            errors.add([*loc], f"no intervention site has a Datastream for ObservedProperty {op.name!r} (id {op.id})")
            continue
        if design.control_sites and not groups["control_sites"]:
            errors.add([*loc], f"no control site has a Datastream for ObservedProperty {op.name!r} (id {op.id})")
            continue
        units = {}
        for g in GROUPS:
            for site, r in groups[g]:
                units.setdefault(kpi_library.normalise_unit(kpi_library.datastream_unit(r.unit_of_measurement)),
                                 []).append((r.id, kpi_library.datastream_unit(r.unit_of_measurement)))
        if len(units) > 1:
            listing = "; ".join(f"{spelled[0][1] or '(none)'} in Datastream(s) {', '.join(str(d) for d, _ in spelled)}"
                                for spelled in units.values())
            errors.add([*loc], f"mixed units across sites: {listing}. All sites of a KPI must report the same unit")
            continue
        unit = next(iter(units.values()))[0][1]
        if lib is not None and not kpi_library.unit_matches(lib, unit):
            errors.add([*loc, "kpi"], f"unit {unit!r} of the Datastreams is not compatible with KPI {lib['code']!r} "
                                      f"({lib['unit']})")
            continue
        if lib is None and pk is not None and kpi_library.normalise_unit(pk.unit) != kpi_library.normalise_unit(unit):
            errors.add([*loc, "project_kpi_id"], f"unit {unit!r} of the Datastreams differs from the project KPI's "
                                                 f"unit {pk.unit!r}")
            continue
        name = dict(lib["name"]) if lib else {"nl": pk.name, "en": pk.name}
        if pk is not None:
            name = {"nl": pk.name, "en": lib["name"]["en"] if lib else pk.name}
        direction = k.direction or (pk.direction if pk is not None and pk.direction in ("lower", "higher") else None) \
            or (lib["direction"] if lib else "higher")
        resolved.append(ResolvedKpi(
            index=i, code=lib["code"] if lib else None, library=lib, project_kpi_id=pk.id if pk else None,
            name=name, unit=unit, direction=direction, observed_property_id=op.id, observed_property_name=op.name,
            valid_range=lib.get("valid_range") if lib else None,
            intervention=[SiteStream(s, r.id, unit) for s, r in groups["intervention_sites"]],
            control=[SiteStream(s, r.id, unit) for s, r in groups["control_sites"]]))
    for g in GROUPS:
        for site, r, explicit in streams[g]:
            if explicit and r.observed_property_id not in used_ops and not errors.items:
                errors.add([g], f"Datastream {r.id} measures an ObservedProperty (id {r.observed_property_id}) "
                                "that no KPI of the design uses")
    errors.raise_if_any()
    return ResolvedDesign(design=design.model_dump(), baseline=periods["baseline"],
                          intervention=periods["intervention"], resolution=design.resolution,
                          confidence=design.confidence_level, kpis=resolved)
