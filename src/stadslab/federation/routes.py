"""Federation endpoints: peers (admin), peer health, network-wide search and replication graph."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, get_principal, known_up_front, require_role
from stadslab.core.database import get_session

from . import service
from .schemas import (HarvestOut, NetworkItemsOut, NetworkSearchOut, PeerHealth, PeerIn, PeerOut, PeerPatch,
                      ReplicationGraph, TombstonesOut)

router = APIRouter(prefix="/federation", tags=["federation"])


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/peers", response_model=list[PeerOut], summary="Peer nodes this node harvests (admin)")
def list_peers(p: Principal = Depends(get_principal), session: Session = Depends(get_session)):
    return [service.peer_out(x) for x in service.list_peers(session, p)]


@router.post("/peers", response_model=PeerOut, status_code=201, summary="Register a peer node (admin)")
@known_up_front(role="admin")
def create_peer(body: PeerIn, request: Request, p: Principal = Depends(get_principal),
                session: Session = Depends(get_session)):
    peer = service.create_peer(session, request.app.state.settings, p, name=body.name, base_url=body.base_url,
                               token=body.token, active=body.active)
    return service.peer_out(peer)


@router.get("/peers/{peer_id}", response_model=PeerOut, summary="One peer (admin)")
def get_peer(peer_id: int, p: Principal = Depends(get_principal), session: Session = Depends(get_session)):
    require_role(p, "admin")
    return service.peer_out(service.get_peer(session, peer_id))


@router.patch("/peers/{peer_id}", response_model=PeerOut, summary="Change a peer (admin)")
@known_up_front(role="admin")
def update_peer(peer_id: int, body: PeerPatch, request: Request, p: Principal = Depends(get_principal),
                session: Session = Depends(get_session)):
    peer = service.update_peer(session, request.app.state.settings, p, peer_id, body.model_dump(exclude_unset=True))
    return service.peer_out(peer)


@router.delete("/peers/{peer_id}", status_code=204, summary="Remove a peer and its harvested items (admin)")
@known_up_front(role="admin")
def delete_peer(peer_id: int, p: Principal = Depends(get_principal), session: Session = Depends(get_session)):
    service.delete_peer(session, p, peer_id)
    return Response(status_code=204)


@router.get("/peers/{peer_id}/health", response_model=PeerHealth, summary="Harvest health of a peer (admin)")
def peer_health(peer_id: int, request: Request, p: Principal = Depends(get_principal),
                session: Session = Depends(get_session)):
    require_role(p, "admin")  # last_error can name peer hosts and internal addresses
    return service.peer_health(session, peer_id, request.app.state.settings)


@router.post("/harvest", response_model=HarvestOut, summary="Harvest the peers now (admin)")
@known_up_front(role="admin")
def harvest_now(request: Request, peer: str | None = Query(None, description="Only this peer (name)"),
                p: Principal = Depends(get_principal), session: Session = Depends(get_session)):
    require_role(p, "admin")
    reports = service.harvest(session, request.app.state.settings, peer_name=peer)
    return {"peers": [r.as_dict() for r in reports or []]}


@router.get("/search", response_model=NetworkSearchOut, summary="Search this node and everything harvested")
def network_search(request: Request, q: str = Query(..., max_length=500), limit: int = Query(20),
                   session: Session = Depends(get_session)):
    return service.network_search(session, request.app.state.settings, q, _base(request), limit=limit)


@router.get("/replication-graph", response_model=ReplicationGraph,
            summary="Solutions and adoptions of every node, attributed to their node")
def replication_graph(request: Request, session: Session = Depends(get_session)):
    return service.replication_graph(session, request.app.state.settings, _base(request))


@router.get("/items", response_model=NetworkItemsOut,
            summary="This node's items of one type, then every peer's, each marked with its node")
def network_items(request: Request, type: str = Query(..., description="project, living_lab, solution, "
                                                                         "adoption, organisation or coalition"),
                  city: str | None = Query(None, max_length=6, description="CBS code, e.g. GM0344"),
                  limit: int = Query(50), offset: int = Query(0), session: Session = Depends(get_session)):
    return service.network_items(session, request.app.state.settings, type, _base(request), municipality=city,
                                 limit=limit, offset=offset)


@router.get("/tombstones", response_model=TombstonesOut,
            summary="Deleted registry items of one type (the change feed's deletes), oldest first")
def tombstones(type: str = Query(..., description="project, living_lab, solution, adoption, organisation or "
                                                     "coalition"),
               since: datetime | None = Query(None, description="Only deletes at or after this time"),
               limit: int = Query(100), offset: int = Query(0), session: Session = Depends(get_session)):
    return service.tombstones(session, type, since, limit=limit, offset=offset)
