"""Readiness checks: which dependency keeps this process from serving traffic."""

from __future__ import annotations

import concurrent.futures
from functools import lru_cache

from sqlalchemy import text

_pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="stadslab-ready")


@lru_cache(maxsize=1)
def _script():
    from alembic.script import ScriptDirectory

    from stadslab.core.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def migration_heads() -> frozenset[str]:
    return frozenset(_script().get_heads())


def applied_revisions(current) -> set[str]:
    """Every revision implied by the database's alembic_version rows (they list only branch tips)."""
    script = _script()
    applied: set[str] = set()
    for rev in current:
        applied.update(r.revision for r in script.iterate_revisions(rev, "base"))
    return applied


def _database_state(db) -> dict:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        current = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
    return {"current": sorted(current)}


def readiness(app, timeout: float = 2.0) -> tuple[bool, dict]:
    """Returns (ready, checks). The database check runs in a thread so a hung connection cannot hang the probe."""
    checks: dict[str, dict] = {}
    future = _pool.submit(_database_state, app.state.db)
    try:
        state = future.result(timeout=timeout)
        checks["database"] = {"status": "up"}
        heads = migration_heads()
        if heads <= applied_revisions(state["current"]):
            checks["migrations"] = {"status": "up", "revision": state["current"]}
        else:
            checks["migrations"] = {"status": "down", "detail": f"database at {state['current']}, code expects "
                                    f"{sorted(heads)}; run 'stadslab db upgrade'"}
    except concurrent.futures.TimeoutError:
        checks["database"] = {"status": "down", "detail": f"no answer within {timeout:g} s"}
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = {"status": "down", "detail": type(exc).__name__}
    settings = app.state.settings
    if settings.mqtt_url:
        mqtt = getattr(app.state, "mqtt", None)
        connected = bool(getattr(getattr(mqtt, "bus", None), "connected", False))
        checks["broker"] = {"status": "up" if connected else "down"}
    ready = all(c["status"] == "up" for c in checks.values())
    return ready, checks
