"""The background harvest loop, started by the app only when ``federation_interval_seconds > 0``.

One process of all nodes runs the loop (``core.leader.run_as_leader``); the lease in
``service.harvest`` lets one harvest run at a time, and peers that failed are left alone until
their backoff expires.
"""

from __future__ import annotations

import logging

from stadslab.core.leader import run_as_leader

log = logging.getLogger("stadslab.federation")

LEADER_NAME = "federation-harvest"


def _one_pass(app) -> None:
    from . import service

    settings, db = app.state.settings, app.state.db
    with db.session() as session:
        reports = service.harvest(session, settings, force=False,
                                  lease_seconds=max(3 * settings.federation_interval_seconds, 300))
    for r in reports or []:
        if not r.ok:
            log.warning("federation: harvest of %s failed: %s", r.peer, "; ".join(r.errors))


def start_federation(app) -> None:
    """The harvest pass runs on the leader of ``federation-harvest`` only (``core.leader``: one
    process of all nodes; it moves when that process dies). The lease row inside ``service.harvest``
    still guards a harvest started by hand (``stadslab federation harvest``) at the same time."""
    settings = app.state.settings
    if settings.federation_interval_seconds > 0:
        app.state.federation_task = run_as_leader(app.state.db, LEADER_NAME, lambda: _one_pass(app),
                                                  settings.federation_interval_seconds,
                                                  poll=settings.leader_poll_seconds)


def stop_federation(app) -> None:
    task = getattr(app.state, "federation_task", None)
    if task is not None:
        task.stop()
        app.state.federation_task = None
