"""Platform-wide Observation retention (``STADSLAB_OBSERVATION_RETENTION_DAYS``).

Why a second retention next to ``governance.privacy.enforce_retention``: that one
is per Thing and exists for personal data (AVG); this one bounds the storage of the
whole hub. An Observation is past it when its phenomenon time *started* before
``now - days``: the start is the partition key, so on PostgreSQL every month
partition that ends on or before the cutoff is dropped whole (exactly counted
first, for the log and the audit trail) and only the month that straddles the
cutoff and the DEFAULT partition are trimmed with DELETE (pruning limits that
DELETE to them). SQLite deletes rows. Per-Thing personal-data periods that are
shorter still apply (``enforce_retention`` runs both, this one first).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from stadslab.core.database import utcnow

from . import partitions
from ..model.tables import Observation

log = logging.getLogger("stadslab.sensorthings.retention")  # the name operators filter on, kept across the move


@dataclass
class ObservationRetentionReport:
    cutoff: datetime | None = None
    #: partition name -> rows it held (PostgreSQL)
    partitions_dropped: dict[str, int] = field(default_factory=dict)
    #: rows removed with DELETE (the straddling month, DEFAULT, or SQLite)
    observations_deleted: int = 0

    @property
    def observations_removed(self) -> int:
        return sum(self.partitions_dropped.values()) + self.observations_deleted


def enforce_observation_retention(session: Session, days: int | None, now: datetime | None = None, *,
                                  dry_run: bool = False) -> ObservationRetentionReport:
    """Remove Observations older than ``days`` (None: keep forever). Joins the caller's transaction.

    One audit event ``observations.retention`` records what went; the caller commits.
    """
    report = ObservationRetentionReport()
    if days is None:
        return report
    if days < 1:
        raise ValueError("observation retention must be at least 1 day")
    report.cutoff = cutoff = (now or utcnow()) - timedelta(days=days)
    conn = session.connection()
    report.partitions_dropped = partitions.drop_partitions_before(conn, cutoff, dry_run=dry_run)
    too_old = Observation.phenomenon_time_start < cutoff
    if dry_run:
        report.observations_deleted = session.scalar(select(func.count()).select_from(Observation)
                                                     .where(too_old)) or 0
        # the dropped partitions are still there in a dry run: they were counted twice
        report.observations_deleted -= sum(report.partitions_dropped.values())
    else:
        report.observations_deleted = session.execute(
            delete(Observation).where(too_old).execution_options(synchronize_session=False)).rowcount or 0
        if report.observations_removed:
            from stadslab.core.auth import SYSTEM
            from stadslab.governance import audit

            audit.record(session, SYSTEM, "observations.retention", "sta_observations", None, None, {
                "cutoff": cutoff, "retention_days": days, "partitions_dropped": report.partitions_dropped,
                "observations_deleted": report.observations_deleted})
    log.info("observation retention%s: cutoff %s, %d partition(s) %s (%d row(s)), %d row(s) %s",
             " (dry run)" if dry_run else "", cutoff.isoformat(), len(report.partitions_dropped),
             "would be dropped" if dry_run else "dropped", sum(report.partitions_dropped.values()),
             report.observations_deleted, "would be deleted" if dry_run else "deleted")
    return report
