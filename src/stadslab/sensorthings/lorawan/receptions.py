"""Gateway receptions of LoRaWAN messages: the gateways heard, and where the device was.

Called by ``service.ingest_uplink`` inside the uplink's transaction, so the receptions, the
gateway counters and the Observations are stored together or not at all. Per receiving
gateway it upserts ``lorawan_gateways`` (first/last seen, uplinks heard, last reported
position) and writes one ``lorawan_receptions`` row with RSSI, SNR, spreading factor, time
and the device's *public* position: from the decoded payload (``latitude``/``longitude``,
``lat``/``lon``/``lng``, also inside ``gps``/``location``/``position``) or else the Thing's
Location, snapped to the Thing's precision grid (``access.precision``), and that position's
H3 cell. Receptions with impossible values are counted on the gateway and reported, never
stored. Messages other than uplinks only count as sightings of their gateways.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import h3
from shapely.geometry import shape
from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..access.precision import snap_point
from ..access.public_geometry import defaults
from ..model.tables import Location, Thing, thing_locations
from .formats.base import Reception
from .models import LorawanDevice, LorawanGateway, LorawanReception

#: H3 resolution of coverage cells: 8 is about 0.74 km² (edge ~460 m), the scale of LoRa coverage.
CELL_RESOLUTION = 8
_POSITION_KEYS = (("latitude", "longitude"), ("lat", "lon"), ("lat", "lng"))


@dataclass
class Summary:
    stored: int = 0
    rejected: list[str] = field(default_factory=list)
    positioned: bool = False


def payload_position(decoded: Any, depth: int = 0) -> tuple[float, float] | None:
    """(lat, lon) decoded from the payload, when the codec gives one."""
    if not isinstance(decoded, dict) or depth > 2:
        return None
    for la, lo in _POSITION_KEYS:
        lat, lon = decoded.get(la), decoded.get(lo)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon)) \
                and -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0, 0):
            return float(lat), float(lon)
    for key in ("gps", "location", "position"):
        found = payload_position(decoded.get(key), depth + 1)
        if found is not None:
            return found
    return None


def _thing_position(session: Session, thing_id: int) -> tuple[float, float] | None:
    geometry = session.scalar(select(Location.location).join(
        thing_locations, thing_locations.c.location_id == Location.id)
        .where(thing_locations.c.thing_id == thing_id).order_by(Location.id).limit(1))
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    try:
        point = shape(geometry).representative_point()
    except Exception:  # noqa: BLE001 - an unreadable geometry gives no position
        return None
    return point.y, point.x


def device_position(session: Session, device: LorawanDevice, decoded: Any) -> tuple[float, float] | None:
    """The device's position as the public may see it: snapped to its Thing's precision."""
    found = payload_position(decoded)
    if found is None:
        found = _thing_position(session, device.thing_id)
    if found is None:
        return None
    thing = session.get(Thing, device.thing_id)
    level = defaults(session).of(thing.location_precision_m, thing.placement, thing.processes_personal_data) \
        if thing is not None else defaults(session).sensitive_m
    if not level:
        return found
    lon, lat = snap_point(found[1], found[0], level)
    return lat, lon


def cell_of(lat: float, lon: float) -> str:
    return h3.latlng_to_cell(lat, lon, CELL_RESOLUTION)


def _upsert_gateway(session: Session, r: Reception, when: datetime, *, uplink: bool, rejected: bool) -> int:
    g = LorawanGateway.__table__
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(g).values(
        key=f"eui:{r.eui}" if r.eui else f"id:{r.gateway_id}", gateway_id=r.gateway_id, eui=r.eui,
        latitude=r.latitude, longitude=r.longitude, first_seen=when, last_seen=when,
        uplinks_heard=int(uplink and not rejected), messages_heard=int(not uplink), rejected=int(rejected))
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(index_elements=[g.c.key], set_={
        # ChirpStack knows a gateway by its EUI only: keep a name The Things Stack gave it
        "gateway_id": case((new.gateway_id == new.eui, g.c.gateway_id), else_=new.gateway_id),
        "latitude": func.coalesce(new.latitude, g.c.latitude),
        "longitude": func.coalesce(new.longitude, g.c.longitude),
        "first_seen": case((new.first_seen < g.c.first_seen, new.first_seen), else_=g.c.first_seen),
        "last_seen": case((new.last_seen > g.c.last_seen, new.last_seen), else_=g.c.last_seen),
        "uplinks_heard": g.c.uplinks_heard + new.uplinks_heard,
        "messages_heard": g.c.messages_heard + new.messages_heard,
        "rejected": g.c.rejected + new.rejected,
    }).returning(g.c.id)
    return session.execute(stmt).scalar_one()


def record(session: Session, receptions: tuple[Reception, ...], when: datetime, *, received_id: int | None = None,
           device: LorawanDevice | None = None, decoded: Any = None) -> Summary:
    """Store what the gateways reported; ``received_id`` None: a message that is not a stored uplink."""
    summary = Summary()
    if not receptions:
        return summary
    uplink = received_id is not None
    position = device_position(session, device, decoded) if uplink and device is not None else None
    cell = cell_of(*position) if position is not None else None
    summary.positioned = position is not None
    for r in receptions:
        at = r.time or when
        gateway = _upsert_gateway(session, r, at, uplink=uplink, rejected=r.problem is not None)
        if r.problem is not None:
            summary.rejected.append(f"gateway {r.gateway_id}: {r.problem}")
            continue
        if uplink:
            session.add(LorawanReception(
                received_id=received_id, gateway_ref=gateway, time=at, rssi=r.rssi, snr=r.snr,
                spreading_factor=r.spreading_factor, device_latitude=position[0] if position else None,
                device_longitude=position[1] if position else None, cell=cell))
            summary.stored += 1
    session.flush()
    return summary
