"""LoRaWAN coverage per H3 cell, learned from the receptions of stored uplinks.

Owns ``infra_coverage_cells`` and its watermark. :func:`refresh` folds the receptions
written since the last refresh (``id`` above the watermark) into the cells: only the
(cell, period) pairs those receptions touch are recomputed, each from all receptions of
that cell in that period (best and median RSSI and SNR, distinct gateways, first and last
time). Periods are ``all`` and calendar months (``2024-05``). Readers call it first, so a
request costs nothing when no uplink came in, and the work per refresh is proportional to
the new receptions, not to the whole history. :func:`recompute_all` is the from-scratch
version (CLI, benchmark). Works the same on SQLite and PostgreSQL (plain SQL, Python
statistics). Rejected receptions never reach ``lorawan_receptions``, so never count here.

A cell counts as covered when at least one gateway heard a device in it. A municipality's
share is its covered cells over all cells of its outline (``h3.geo_to_cells``).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import h3
from shapely.geometry import Point, shape
from shapely.strtree import STRtree
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from stadslab.core.database import utcnow
from stadslab.network.models import Municipality
from stadslab.sensorthings.lorawan.models import LorawanReception
from stadslab.sensorthings.lorawan.receptions import CELL_RESOLUTION

from .models import ALL, CoverageCell, CoverageState

R = LorawanReception.__table__
BATCH = 400


def period_of(when: datetime) -> str:
    return when.strftime("%Y-%m")


def _month_bounds(period: str) -> tuple[datetime, datetime]:
    year, month = map(int, period.split("-"))
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


# --- municipalities of cells -----------------------------------------------------------------

class _Outlines:
    def __init__(self, session: Session):
        rows = session.execute(select(Municipality.code, Municipality.outline)
                               .where(Municipality.outline.is_not(None))).all()
        self.codes, shapes = [], []
        for code, text in rows:
            try:
                shapes.append(shape(json.loads(text)))
                self.codes.append(code)
            except Exception:  # noqa: BLE001 - an unreadable outline locates nothing
                continue
        self.shapes = shapes
        self.tree = STRtree(shapes) if shapes else None

    def at(self, lat: float, lon: float) -> str | None:
        if self.tree is None:
            return None
        p = Point(lon, lat)
        for i in self.tree.query(p):
            if self.shapes[i].covers(p):
                return self.codes[i]
        return None


_OUTLINES: dict[int, _Outlines] = {}


def outlines(session: Session) -> _Outlines:
    key = id(session.get_bind())
    if key not in _OUTLINES:
        _OUTLINES[key] = _Outlines(session)
    return _OUTLINES[key]


def municipality_of_point(session: Session, lat: float, lon: float) -> str | None:
    return outlines(session).at(lat, lon)


@lru_cache(maxsize=512)
def _outline_cells(text: str) -> frozenset[str]:
    geom = json.loads(text)
    return frozenset(h3.geo_to_cells(geom, CELL_RESOLUTION))


def municipality_cells(session: Session, code: str) -> frozenset[str]:
    text = session.scalar(select(Municipality.outline).where(Municipality.code == code))
    return _outline_cells(text) if text else frozenset()


# --- aggregation ----------------------------------------------------------------------------

def _figures(rows: list[tuple[int, float, float | None, datetime]]) -> dict[str, Any]:
    rssi = [r[1] for r in rows]
    snr = [r[2] for r in rows if r[2] is not None]
    times = [r[3] for r in rows]
    return {"receptions": len(rows), "gateways": len({r[0] for r in rows}), "best_rssi": max(rssi),
            "median_rssi": float(statistics.median(rssi)), "best_snr": max(snr) if snr else None,
            "median_snr": float(statistics.median(snr)) if snr else None,
            "first_time": min(times), "last_time": max(times)}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _recompute(session: Session, cells: Iterable[str], periods: dict[str, set[str]]) -> int:
    """Recompute the given cells (every period in ``periods[cell]`` plus ``all``) from their receptions."""
    cells = sorted(set(cells))
    written = 0
    where = outlines(session)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    for i in range(0, len(cells), BATCH):
        chunk = cells[i:i + BATCH]
        by_cell: dict[str, list] = defaultdict(list)
        for cell, gateway, rssi, snr, when in session.execute(
                select(R.c.cell, R.c.gateway_ref, R.c.rssi, R.c.snr, R.c.time).where(R.c.cell.in_(chunk))):
            by_cell[cell].append((gateway, rssi, snr, _aware(when)))
        values = []
        for cell in chunk:
            rows = by_cell.get(cell, [])
            if not rows:
                continue
            lat, lon = h3.cell_to_latlng(cell)
            municipality = where.at(lat, lon)
            wanted = periods.get(cell)
            by_period: dict[str, list] = defaultdict(list)
            for r in rows:
                p = period_of(r[3])
                if wanted is None or p in wanted:
                    by_period[p].append(r)
            by_period[ALL] = rows
            for period, prow in by_period.items():
                values.append({"cell": cell, "period": period, "municipality_code": municipality,
                               "updated_at": now, **_figures(prow)})
        if values:  # one statement compiled once, executed for many rows (executemany)
            stmt = insert(CoverageCell.__table__)
            excluded = stmt.excluded
            stmt = stmt.on_conflict_do_update(
                index_elements=["cell", "period"],
                set_={k: excluded[k] for k in ("municipality_code", "receptions", "gateways", "best_rssi",
                                                "median_rssi", "best_snr", "median_snr", "first_time",
                                                "last_time", "updated_at")})
            session.execute(stmt, values)
            written += len(values)
    return written


def _state(session: Session, lock: bool = False) -> CoverageState:
    stmt = select(CoverageState).where(CoverageState.id == 1).execution_options(populate_existing=True)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    state = session.scalar(stmt)
    if state is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(CoverageState.__table__).values(id=1, last_reception_id=0)
                        .on_conflict_do_nothing(index_elements=["id"]))
        state = session.scalar(stmt)
    return state


def pending(session: Session) -> bool:
    last = session.scalar(select(CoverageState.last_reception_id).where(CoverageState.id == 1)) or 0
    return session.scalar(select(R.c.id).where(R.c.id > last, R.c.cell.is_not(None)).limit(1)) is not None


def refresh(session: Session) -> dict[str, int]:
    """Fold new receptions into the cells they touch; commits. Returns what it did."""
    if not pending(session):
        return {"receptions": 0, "cells": 0}
    state = _state(session, lock=True)
    top = session.scalar(select(func.max(R.c.id))) or state.last_reception_id
    periods: dict[str, set[str]] = defaultdict(set)
    count = 0
    for cell, when in session.execute(select(R.c.cell, R.c.time).where(
            R.c.id > state.last_reception_id, R.c.id <= top, R.c.cell.is_not(None))):
        periods[cell].add(period_of(_aware(when)))
        count += 1
    written = _recompute(session, periods.keys(), periods)
    state.last_reception_id = top
    session.commit()
    return {"receptions": count, "cells": written}


def recompute_all(session: Session) -> dict[str, int]:
    """From scratch: every cell and period again (the benchmark's baseline; ``stadslab infrastructure
    recompute-coverage``)."""
    state = _state(session, lock=True)
    top = session.scalar(select(func.max(R.c.id))) or 0
    session.execute(delete(CoverageCell))
    cells = [c for (c,) in session.execute(select(R.c.cell).where(R.c.cell.is_not(None)).distinct())]
    written = _recompute(session, cells, {})
    state.last_reception_id = top
    session.commit()
    return {"receptions": top, "cells": written}


def cells(session: Session, *, period: str = ALL, municipality: str | None = None) -> list[CoverageCell]:
    stmt = select(CoverageCell).where(CoverageCell.period == period)
    if municipality is not None:
        stmt = stmt.where(CoverageCell.municipality_code == municipality)
    return list(session.scalars(stmt.order_by(CoverageCell.cell)))


def share(session: Session, code: str) -> dict[str, Any]:
    """Covered cells of a municipality over all its cells (resolution ``CELL_RESOLUTION``)."""
    total = municipality_cells(session, code)
    covered = {c for (c,) in session.execute(select(CoverageCell.cell).where(
        CoverageCell.period == ALL, CoverageCell.municipality_code == code))}
    inside = covered & total if total else covered
    return {"municipality": code, "cells": len(total), "covered_cells": len(inside),
            "share": round(len(inside) / len(total), 4) if total else None}


def cell_polygon(cell: str) -> dict[str, Any]:
    ring = [[round(lon, 6), round(lat, 6)] for lat, lon in h3.cell_to_boundary(cell)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def cell_feature(c: CoverageCell) -> dict[str, Any]:
    return {"type": "Feature", "id": c.id, "geometry": cell_polygon(c.cell), "properties": {
        "cell": c.cell, "resolution": CELL_RESOLUTION, "period": c.period, "municipality": c.municipality_code,
        "receptions": c.receptions, "gateways": c.gateways, "best_rssi": c.best_rssi,
        "median_rssi": c.median_rssi, "best_snr": c.best_snr, "median_snr": c.median_snr,
        "first_time": _aware(c.first_time).isoformat(), "last_time": _aware(c.last_time).isoformat()}}

