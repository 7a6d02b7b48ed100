"""The notification queue is bounded by the changes it holds, not only by batches."""

from __future__ import annotations

from stadslab.sensorthings.mqtt.changes import EntityChange
from stadslab.sensorthings.mqtt.notify import Notifier
from stadslab.sensorthings.read.serialize import Links


def test_a_backlog_of_changes_is_bounded_and_counted(sqlite_db):
    # not started: nothing is published, so submitted batches stay queued
    notifier = Notifier(sqlite_db, bus=None, prefix="v1.1", links=Links("http://x/sta/v1.1"),
                        max_queued_changes=1_000)
    batch = [EntityChange("Observation", n) for n in range(400)]
    notifier.submit(batch)
    notifier.submit(batch)
    assert notifier.queued_changes == 800 and notifier.dropped_batches == 0
    notifier.submit(batch)  # 1,200 > 1,000: refused whole, memory stays bounded
    assert notifier.queued_changes == 800 and notifier.dropped_batches == 1
    notifier.submit(batch[:200])  # still fits exactly
    assert notifier.queued_changes == 1_000 and notifier.dropped_batches == 1
