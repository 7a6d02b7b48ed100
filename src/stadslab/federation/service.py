"""Federation rules: peers (admin, audited), harvest runs under a lease, network-wide views."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, require_role
from stadslab.core.config import Settings
from stadslab.core.database import utcnow
from stadslab.core.errors import Conflict, NotFound, ValidationFailed, field_error
from stadslab.governance import audit

from .harvester import REGISTRY_LISTS, Harvester, HarvestReport, as_utc
from .models import FederatedItem, FederationLease, FederationPeer, PeerStatus

LEASE_NAME = "harvest"


# --- the peer's token, encrypted at rest ------------------------------------------------------

def _fernet(settings: Settings):
    from cryptography.fernet import Fernet

    key = base64.urlsafe_b64encode(hashlib.sha256(b"stadslab-federation:" + settings.secret_key.encode()).digest())
    return Fernet(key)


def encrypt_token(settings: Settings, token: str) -> str:
    return _fernet(settings).encrypt(token.encode()).decode()


def decrypt_token(settings: Settings, stored: str | None) -> str | None:
    from cryptography.fernet import InvalidToken

    if not stored:
        return None
    try:
        return _fernet(settings).decrypt(stored.encode()).decode()
    except InvalidToken:
        return None  # secret_key changed: harvest without credentials rather than fail


# --- peers --------------------------------------------------------------------------------------

def peer_snapshot(peer: FederationPeer) -> dict[str, Any]:
    return {"id": peer.id, "name": peer.name, "base_url": peer.base_url, "active": peer.active,
            "has_token": bool(peer.token_encrypted)}


def peer_out(peer: FederationPeer) -> dict[str, Any]:
    return {**peer_snapshot(peer), "created_at": peer.created_at, "updated_at": peer.updated_at}


def _clean_url(url: Any) -> str:
    return str(url).rstrip("/")


def _unique_name(session: Session, name: str, exclude: int | None = None) -> None:
    other = session.scalar(select(FederationPeer.id).where(FederationPeer.name == name))
    if other is not None and other != exclude:
        raise Conflict(f"a peer named {name!r} exists", errors=[field_error(["body", "name"], "already used")])


def list_peers(session: Session, actor: Principal) -> list[FederationPeer]:
    require_role(actor, "admin")
    return list(session.scalars(select(FederationPeer).order_by(FederationPeer.name)))


def get_peer(session: Session, peer_id: int) -> FederationPeer:
    peer = session.get(FederationPeer, peer_id)
    if peer is None:
        raise NotFound(f"no peer {peer_id}")
    return peer


def create_peer(session: Session, settings: Settings, actor: Principal, *, name: str, base_url: Any,
                token: str | None = None, active: bool = True) -> FederationPeer:
    require_role(actor, "admin")
    _unique_name(session, name)
    peer = FederationPeer(name=name, base_url=_clean_url(base_url), active=active,
                          token_encrypted=encrypt_token(settings, token) if token else None)
    session.add(peer)
    try:
        session.flush()
        audit.record(session, actor, "federation_peer.create", "federation_peer", peer.id, None,
                     peer_snapshot(peer))
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a peer named {name!r} exists") from None
    return peer


def update_peer(session: Session, settings: Settings, actor: Principal, peer_id: int,
                changes: dict[str, Any]) -> FederationPeer:
    require_role(actor, "admin")
    peer = get_peer(session, peer_id)
    before = peer_snapshot(peer)
    if changes.get("name") is not None:
        _unique_name(session, changes["name"], exclude=peer.id)
        peer.name = changes["name"]
    if changes.get("base_url") is not None:
        peer.base_url = _clean_url(changes["base_url"])
    if changes.get("active") is not None:
        peer.active = changes["active"]
    if "token" in changes:
        token = changes["token"]
        peer.token_encrypted = encrypt_token(settings, token) if token else None
    peer.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "federation_peer.update", "federation_peer", peer.id, before, peer_snapshot(peer))
    session.commit()
    return peer


def delete_peer(session: Session, actor: Principal, peer_id: int) -> None:
    """Removes the peer and everything harvested from it (an explicit admin decision, never a failure)."""
    require_role(actor, "admin")
    peer = get_peer(session, peer_id)
    before = peer_snapshot(peer)
    session.execute(delete(FederatedItem).where(FederatedItem.peer_id == peer.id))
    session.execute(delete(PeerStatus).where(PeerStatus.peer_id == peer.id))
    session.delete(peer)
    session.flush()
    audit.record(session, actor, "federation_peer.delete", "federation_peer", peer_id, before, None)
    session.commit()


def peer_health(session: Session, peer_id: int, settings: Settings | None = None) -> dict[str, Any]:
    peer = get_peer(session, peer_id)
    st = session.get(PeerStatus, peer.id)
    if st is None:
        return {"peer_id": peer.id, "name": peer.name, "healthy": None, "stale": False, "last_attempt_at": None,
                "last_success_at": None, "consecutive_failures": 0, "last_error": None, "skipped": [],
                "items": 0, "latency_ms": None, "next_attempt_at": None, "high_water": {}}
    return {"peer_id": peer.id, "name": peer.name, "healthy": st.consecutive_failures == 0,
            "stale": _is_stale(st.last_success_at, _stale_before(settings)),
            "last_attempt_at": as_utc(st.last_attempt_at), "last_success_at": as_utc(st.last_success_at),
            "consecutive_failures": st.consecutive_failures, "last_error": st.last_error,
            "skipped": st.skipped or [], "items": st.items, "latency_ms": st.latency_ms,
            "next_attempt_at": as_utc(st.next_attempt_at), "high_water": st.high_water or {}}


# --- harvest runs -------------------------------------------------------------------------------

def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def acquire_lease(session: Session, holder: str, seconds: int) -> bool:
    """One harvester at a time across workers and hosts (a lease row works on both dialects)."""
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    res = session.execute(update(FederationLease).where(
        FederationLease.name == LEASE_NAME,
        or_(FederationLease.expires_at < now, FederationLease.holder == holder)).values(
        holder=holder, expires_at=expires))
    if res.rowcount == 1:
        session.commit()
        return True
    session.rollback()
    if session.get(FederationLease, LEASE_NAME) is not None:
        return False
    try:
        session.add(FederationLease(name=LEASE_NAME, holder=holder, expires_at=expires))
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False


def release_lease(session: Session, holder: str) -> None:
    session.execute(delete(FederationLease).where(FederationLease.name == LEASE_NAME,
                                                  FederationLease.holder == holder))
    session.commit()


def harvest(session: Session, settings: Settings, *, peer_name: str | None = None, force: bool = True,
            lease_seconds: int = 3600, sleep=None) -> list[HarvestReport] | None:
    """One pass over the active peers (or the named one). None: another worker holds the lease."""
    stmt = select(FederationPeer).order_by(FederationPeer.name)
    if peer_name is not None:
        stmt = stmt.where(FederationPeer.name == peer_name)
        if session.scalar(stmt) is None:
            raise NotFound(f"no peer named {peer_name!r}")
    else:
        stmt = stmt.where(FederationPeer.active.is_(True))
    holder = holder_id()
    if not acquire_lease(session, holder, lease_seconds):
        return None
    try:
        harvester = Harvester(session, settings, **({"sleep": sleep} if sleep else {}))
        reports = []
        for peer in list(session.scalars(stmt)):
            if not acquire_lease(session, holder, lease_seconds):  # renew; lost it (we overran): stop
                break
            try:
                reports.append(harvester.harvest(peer, decrypt_token(settings, peer.token_encrypted), force=force))
            except Exception as exc:  # noqa: BLE001 - one peer's surprise must not stop the others
                session.rollback()
                reports.append(HarvestReport(peer=peer.name, ok=False, errors=[f"internal: {exc!r}"[:500]]))
        return reports
    finally:
        release_lease(session, holder)


# --- deletes: the tombstones this node publishes -------------------------------------------------

#: Item types of the registry lists (``harvester.REGISTRY_LISTS``) and of the catalogue.
ITEM_TYPES = tuple(REGISTRY_LISTS.values()) + ("dataset",)


def _type_error(name: str, value: str, allowed) -> ValidationFailed:
    return ValidationFailed(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}",
                            errors=[field_error(["query", name], f"allowed: {', '.join(allowed)}")])


def tombstones(session: Session, item_type: str, since: datetime | None = None, *, limit: int = 100,
               offset: int = 0) -> dict[str, Any]:
    """Deleted registry items of one type, oldest first: (type, id, deleted_at). Nothing else of
    the item is kept, so a tombstone shows no more than that an id existed."""
    from stadslab.network.models import RegistryTombstone

    allowed = tuple(REGISTRY_LISTS.values())
    if item_type not in allowed:
        raise _type_error("type", item_type, allowed)
    if not 1 <= limit <= 1000:
        raise ValidationFailed("limit must be between 1 and 1000", errors=[field_error(["query", "limit"], "1..1000")])
    if offset < 0:
        raise ValidationFailed("offset must be 0 or more", errors=[field_error(["query", "offset"], ">= 0")])
    cond = [RegistryTombstone.entity_type == item_type]
    if since is not None:
        cond.append(RegistryTombstone.deleted_at >= as_utc(since))
    total = session.scalar(select(func.count()).select_from(RegistryTombstone).where(*cond)) or 0
    rows = session.scalars(select(RegistryTombstone).where(*cond)
                           .order_by(RegistryTombstone.deleted_at, RegistryTombstone.id).offset(offset).limit(limit))
    return {"total": total, "items": [{"type": t.entity_type, "id": t.entity_id, "deleted_at": as_utc(t.deleted_at)}
                                      for t in rows]}


# --- harvested items, for this node's own lists, pages and figures ------------------------------

def _stale_before(settings: Settings | None) -> datetime:
    seconds = (settings.federation_stale_after_seconds if settings is not None
               else Settings.model_fields["federation_stale_after_seconds"].default)
    return utcnow() - timedelta(seconds=seconds)


def _is_stale(last_success_at: datetime | None, before: datetime) -> bool:
    """A peer never harvested successfully, or not since ``before``: what we show may be outdated."""
    return last_success_at is None or as_utc(last_success_at) < before


def _harvested_stmt(kind: str, municipality: str | None):
    if kind not in ITEM_TYPES:
        raise _type_error("type", kind, ITEM_TYPES)
    stmt = (select(FederatedItem, FederationPeer, PeerStatus.last_success_at)
            .join(FederationPeer, FederationPeer.id == FederatedItem.peer_id)
            .outerjoin(PeerStatus, PeerStatus.peer_id == FederatedItem.peer_id)
            .where(FederatedItem.item_type == kind))
    if municipality is not None:
        stmt = stmt.where(FederatedItem.city_code == municipality)
    return stmt


#: Where an item's own page is on a Stadslab node (the harvested ``url`` is its API record).
WEB_PATHS = {"project": "/projecten/{id}", "living_lab": "/labs/{id}", "solution": "/oplossingen/{id}"}


def harvested_out(item: FederatedItem, peer: FederationPeer, last_success_at, before: datetime) -> dict[str, Any]:
    """One harvested item as lists and pages show it: attributed to its node, flagged when stale."""
    path = WEB_PATHS.get(item.item_type)
    page = f"{peer.base_url.rstrip('/')}{path.format(id=item.remote_id)}" if path else item.source_url
    return {**_federated_out(item, peer), "harvested": True, "stale": _is_stale(last_success_at, before),
            "last_harvested_at": as_utc(last_success_at), "updated_at": as_utc(item.remote_updated_at),
            "page_url": page}


def harvested_items(session: Session, kind: str, municipality: str | None = None, *,
                    settings: Settings | None = None, limit: int | None = None,
                    offset: int = 0) -> list[dict[str, Any]]:
    """Items of one type harvested from peers (optionally of one municipality, CBS code), newest first.

    Each is ``{type, id, title, summary, city_code, status, themes, url, source: {node, url},
    harvested: True, stale, last_harvested_at, updated_at}``. ``kind`` is one of ``ITEM_TYPES``
    (a ValidationFailed names the allowed ones). A project is there once: peers' catalogue entries
    that only describe a registry record are not harvested as datasets. ``stale``: the peer has
    had no successful harvest for ``federation_stale_after_seconds``. For national figures, count
    these next to the local rows (``harvested_counts`` does it per municipality).
    """
    before = _stale_before(settings)
    stmt = _harvested_stmt(kind, municipality).order_by(FederatedItem.remote_updated_at.desc(), FederatedItem.id)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return [harvested_out(item, peer, last_ok, before) for item, peer, last_ok in session.execute(stmt)]


def harvested_counts(session: Session, kind: str) -> dict[str | None, int]:
    """How many items of one type were harvested, per municipality code (None: no municipality)."""
    if kind not in ITEM_TYPES:
        raise _type_error("type", kind, ITEM_TYPES)
    rows = session.execute(select(FederatedItem.city_code, func.count()).where(FederatedItem.item_type == kind)
                           .group_by(FederatedItem.city_code))
    return {code: n for code, n in rows}


def _local_items(session: Session, kind: str, municipality: str | None, source: dict[str, str],
                 limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    from stadslab.labs.models import Adoption, LivingLab, Project, Solution
    from stadslab.network.models import Coalition, Organisation

    model, path, city_col, title_col = {
        "project": (Project, "projects", Project.municipality_code, Project.title),
        "living_lab": (LivingLab, "living-labs", LivingLab.municipality_code, LivingLab.name),
        "solution": (Solution, "solutions", None, Solution.name),
        "adoption": (Adoption, "adoptions", Adoption.municipality_code, None),
        "organisation": (Organisation, "organisations", Organisation.municipality_code, Organisation.name),
        "coalition": (Coalition, "coalitions", Coalition.lead_municipality_code, Coalition.title),
    }[kind]
    stmt = select(model)
    if municipality is not None:
        if city_col is None and kind == "solution":
            stmt = stmt.where(Solution.id.in_(select(Adoption.solution_id)
                                              .where(Adoption.municipality_code == municipality)))
        else:
            stmt = stmt.where(city_col == municipality)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    out = []
    for obj in session.scalars(stmt.order_by(model.updated_at.desc(), model.id).limit(limit).offset(offset)):
        if kind == "adoption":
            title = f"{obj.solution.name} in {obj.municipality.name}"
        else:
            title = getattr(obj, title_col.key)
        themes = [t.code for t in getattr(obj, "themes", [])]
        status = getattr(obj, "status", None) or getattr(obj, "maturity", None)
        city = getattr(obj, city_col.key, None) if city_col is not None else None
        out.append({"type": kind, "id": str(obj.id), "title": title, "summary": "", "city_code": city,
                    "status": status, "themes": themes, "url": f"{source['url']}/api/v1/{path}/{obj.id}",
                    "source": source, "harvested": False, "stale": False, "last_harvested_at": None,
                    "updated_at": as_utc(obj.updated_at)})
    return total, out


def network_items(session: Session, settings: Settings, kind: str, base_url: str, *,
                  municipality: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """The merged listing: this node's items of one type, then every peer's, each with its node.

    Paged over the concatenation (local first); ``local_total + federated_total == total``
    and no item is in it twice.
    """
    allowed = tuple(REGISTRY_LISTS.values())
    if kind not in allowed:
        raise _type_error("type", kind, allowed)
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500", errors=[field_error(["query", "limit"], "1..500")])
    if offset < 0:
        raise ValidationFailed("offset must be 0 or more", errors=[field_error(["query", "offset"], ">= 0")])
    if municipality is not None:
        from stadslab.network.models import Municipality

        if session.get(Municipality, municipality) is None:
            raise ValidationFailed(f"unknown municipality {municipality!r}",
                                   errors=[field_error(["query", "city"], "a CBS code such as GM0344")])
    source = _source(settings, base_url)
    local_total, items = _local_items(session, kind, municipality, source, limit, offset)
    fed_total = session.scalar(select(func.count()).select_from(
        _harvested_stmt(kind, municipality).subquery())) or 0
    room = limit - len(items)
    if room > 0:
        items += harvested_items(session, kind, municipality, settings=settings, limit=room,
                                 offset=max(0, offset - local_total))
    return {"type": kind, "total": local_total + fed_total, "local_total": local_total,
            "federated_total": fed_total, "items": items}


# --- network-wide views -------------------------------------------------------------------------

def _source(settings: Settings, base_url: str) -> dict[str, str]:
    return {"node": settings.node_name, "url": (settings.external_base_url or base_url).rstrip("/")}


def _federated_out(item: FederatedItem, peer: FederationPeer) -> dict[str, Any]:
    return {"type": item.item_type, "id": item.remote_id, "title": item.title, "summary": item.summary[:500],
            "city_code": item.city_code, "status": item.status, "themes": item.themes or [],
            "url": item.source_url, "source": {"node": peer.name, "url": peer.base_url}}


def network_search(session: Session, settings: Settings, query: str, base_url: str, *,
                   limit: int = 20) -> dict[str, Any]:
    from stadslab.search.service import search

    if not 1 <= limit <= 100:
        raise ValidationFailed("limit must be between 1 and 100", errors=[field_error(["query", "limit"], "1..100")])
    local = search(session, query, limit=limit, with_facets=False)  # validates the query (422 when bad)
    source = _source(settings, base_url)
    items = [{"type": i.type, "id": str(i.id), "title": i.title, "summary": "", "city_code": i.city_code,
              "status": i.status, "themes": list(i.themes), "url": i.url, "source": source} for i in local.items]
    fed_total, found = harvested_search(session, query, settings=settings, limit=limit)
    return {"query": query, "local_total": local.total, "federated_total": fed_total, "items": items + found}


def harvested_search(session: Session, query: str, *, settings: Settings | None = None,
                     limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
    """Harvested items in which every query word occurs (the search analyser's forms), newest
    first, as ``harvested_items`` shapes them; with the number of such items. The query is
    expected to be valid already (``search.service.search`` checked it)."""
    from stadslab.search.text import parse_query

    parsed = parse_query(query)
    words = [t.forms for t in parsed.terms] + [(f,) for p in parsed.phrases for f in p.stems]
    if not words:
        return 0, []
    cond = and_(*[or_(*[FederatedItem.stems.contains(f" {f} ") for f in forms]) for forms in words])
    stmt = (select(FederatedItem, FederationPeer, PeerStatus.last_success_at)
            .join(FederationPeer, FederationPeer.id == FederatedItem.peer_id)
            .outerjoin(PeerStatus, PeerStatus.peer_id == FederatedItem.peer_id).where(cond))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    before = _stale_before(settings)
    rows = session.execute(stmt.order_by(FederatedItem.remote_updated_at.desc(), FederatedItem.id).limit(limit))
    return total, [harvested_out(item, peer, last_ok, before) for item, peer, last_ok in rows]


def replication_graph(session: Session, settings: Settings, base_url: str) -> dict[str, Any]:
    """Solutions and their adoptions on every node; ids are only unique within their node."""
    from stadslab.labs.models import Adoption, Solution

    source = _source(settings, base_url)
    me = source["node"]
    solutions = [{"key": f"{me}:{s.id}", "id": str(s.id), "name": s.name, "maturity": s.maturity, "source": source}
                 for s in session.scalars(select(Solution).order_by(Solution.id))]
    adoptions = [{"solution": f"{me}:{a.solution_id}", "city_code": a.municipality_code, "status": a.status,
                  "adoption_id": str(a.id), "source": source}
                 for a in session.scalars(select(Adoption).order_by(Adoption.id))]
    rows = session.execute(select(FederatedItem, FederationPeer)
                           .join(FederationPeer, FederationPeer.id == FederatedItem.peer_id)
                           .where(FederatedItem.item_type.in_(("solution", "adoption")))
                           .order_by(FederationPeer.name, FederatedItem.item_type, FederatedItem.id))
    for item, peer in rows:
        src = {"node": peer.name, "url": peer.base_url}
        if item.item_type == "solution":
            solutions.append({"key": f"{peer.name}:{item.remote_id}", "id": item.remote_id, "name": item.title,
                              "maturity": item.status, "source": src})
        else:
            sol = item.payload.get("solution") if isinstance(item.payload, dict) else None
            sol_id = sol.get("id") if isinstance(sol, dict) else None
            adoptions.append({"solution": f"{peer.name}:{sol_id}", "city_code": item.city_code,
                              "status": item.status, "adoption_id": item.remote_id, "source": src})
    return {"solutions": solutions, "adoptions": adoptions}
