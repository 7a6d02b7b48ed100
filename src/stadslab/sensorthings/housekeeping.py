"""The hub's periodic work, run by one process of all nodes (``core.leader.run_as_leader``).

Every ``STADSLAB_MAINTENANCE_INTERVAL_SECONDS`` the leader of ``sensorthings-maintenance``
makes the Observation month partitions around now (PostgreSQL), enforces the platform
retention when one is configured, and prunes expired MQTT ingest receipts. Each part is
idempotent and logged; one failing does not stop the others.
"""

from __future__ import annotations

import logging

from stadslab.core.database import Database, lift_statement_timeout
from stadslab.core.unit_of_work import commit

from .mqtt import receipts
from .storage.partitions import ensure_partitions, is_partitioned
from .storage.retention import enforce_observation_retention

log = logging.getLogger("stadslab.sensorthings.housekeeping")

LEADER_NAME = "sensorthings-maintenance"


def maintain(db: Database, settings) -> dict:
    """One pass; returns what it did (for the log and the tests)."""
    done: dict = {}
    try:
        if db.dialect == "postgresql":
            with db.engine.begin() as conn:
                lift_statement_timeout(conn)
                if is_partitioned(conn):
                    done["partitions_created"] = ensure_partitions(conn)
    except Exception:  # noqa: BLE001 - the next pass (or `stadslab observations partitions`) catches up
        log.exception("partition maintenance failed")
    if settings.observation_retention_days:
        try:
            with db.session() as session:
                lift_statement_timeout(session)
                report = enforce_observation_retention(session, settings.observation_retention_days)
                commit(session, "Retention could not be enforced")
                done["retention_deleted"] = report.observations_deleted
                done["retention_partitions_dropped"] = sorted(report.partitions_dropped)
        except Exception:  # noqa: BLE001
            log.exception("observation retention failed")
    try:
        with db.session() as session:
            done["receipts_pruned"] = receipts.prune(session, settings.ingest_receipt_retention_hours)
    except Exception:  # noqa: BLE001
        log.exception("pruning MQTT ingest receipts failed")
    if any(done.get(k) for k in ("partitions_created", "retention_deleted", "retention_partitions_dropped",
                                 "receipts_pruned")):
        log.info("maintenance: %s", done)
    return done
