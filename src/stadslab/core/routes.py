"""Platform-level endpoints: health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from stadslab import __version__
from stadslab.core.errors import ServiceUnavailable

router = APIRouter(tags=["platform"])


@router.get("/health")
def health(request: Request) -> dict:
    db = request.app.state.db
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means not healthy
        raise ServiceUnavailable("Database unreachable", headers={"Retry-After": "5"}) from exc
    return {"status": "ok", "version": __version__, "database": db.dialect}
