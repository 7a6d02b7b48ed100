"""The background harvest loop, started by the app only when ``federation_interval_seconds > 0``.

Every worker process runs the loop; the lease in ``service.harvest`` lets one of them
harvest at a time, and peers that failed are left alone until their backoff expires.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("stadslab.federation")


def _one_pass(app) -> None:
    from . import service

    settings, db = app.state.settings, app.state.db
    with db.session() as session:
        reports = service.harvest(session, settings, force=False,
                                  lease_seconds=max(3 * settings.federation_interval_seconds, 300))
    for r in reports or []:
        if not r.ok:
            log.warning("federation: harvest of %s failed: %s", r.peer, "; ".join(r.errors))


async def _loop(app) -> None:
    interval = app.state.settings.federation_interval_seconds
    while True:
        try:
            await asyncio.to_thread(_one_pass, app)
        except Exception:  # noqa: BLE001 - the loop must outlive one bad pass
            log.exception("federation: harvest pass failed")
        await asyncio.sleep(interval)


def start_federation(app) -> None:
    if app.state.settings.federation_interval_seconds > 0:
        app.state.federation_task = asyncio.get_running_loop().create_task(_loop(app))


async def stop_federation(app) -> None:
    task = getattr(app.state, "federation_task", None)
    if task is not None:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001
            pass
