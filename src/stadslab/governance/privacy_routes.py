"""REST endpoints for data subject rights and retention (thin: parse, call a service, shape)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, get_principal, known_up_front, require_authenticated, require_role
from stadslab.core.database import get_session

from . import privacy

router = APIRouter(tags=["privacy"])


@router.get("/auth/me/export", summary="All data the platform holds about me (AVG art. 15)")
def export_me(p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    require_authenticated(p)
    if p.user_id is None:
        require_role(p, "member")  # organisation tokens are not a person
    return jsonable_encoder(privacy.export_person(session, p, p.user_id))


@router.get("/privacy/users/{user_id}/export",
            summary="All data about a person (AVG art. 15; admins of the person's organisation)")
def export_person(user_id: int, p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    return jsonable_encoder(privacy.export_person(session, p, user_id))


@router.post("/privacy/users/{user_id}/erase",
             summary="Erase a person (AVG art. 17; admins of the person's organisation)")
@known_up_front(role="admin")
def erase_person(user_id: int, p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    return {"user_id": user_id, "erased": True, **privacy.erase_person(session, p, user_id)}


@router.post("/privacy/retention", summary="Enforce sensor data retention now (platform admins)")
@known_up_front(role="admin")
def enforce_retention(request: Request, dry_run: bool = Query(False), p: Principal = Depends(get_principal),
                      session: Session = Depends(get_session)) -> dict:
    """Per-Thing retention of personal data, and first the platform-wide retention
    (``STADSLAB_OBSERVATION_RETENTION_DAYS``) when it is set — as ``stadslab privacy enforce-retention``."""
    require_role(p, "admin")
    report = privacy.enforce_retention(session, dry_run=dry_run,
                                       observation_retention_days=request.app.state.settings.observation_retention_days)
    platform = report.platform
    return {"dry_run": dry_run, "things_checked": report.things_checked,
            "observations_deleted": report.observations_deleted,
            "deleted_per_thing": {str(k): v for k, v in report.deleted_per_thing.items()},
            "unreadable_retention": report.unreadable_retention,
            "platform": None if platform is None else {
                "cutoff": platform.cutoff.isoformat() if platform.cutoff else None,
                "partitions_dropped": platform.partitions_dropped,
                "observations_deleted": platform.observations_deleted,
                "observations_removed": platform.observations_removed}}
