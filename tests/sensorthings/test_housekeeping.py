"""The hub's periodic work (``sensorthings.housekeeping.maintain``), run by the leading process."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from stadslab.core.config import Settings
from stadslab.core.database import utcnow
from stadslab.sensorthings import housekeeping
from stadslab.sensorthings.mqtt.receipts import IngestReceipt
from stadslab.sensorthings.storage.partitions import is_partitioned, list_partitions


def test_maintenance_prunes_receipts_and_keeps_the_partitions(db):
    with db.session() as s:
        s.add_all([IngestReceipt(key="a" * 64, via="mqtt", received_at=utcnow() - timedelta(hours=200), observations=1),
                   IngestReceipt(key="b" * 64, via="mqtt", received_at=utcnow() - timedelta(hours=1), observations=1)])
        s.commit()
    done = housekeeping.maintain(db, Settings(database_url=db.url, ingest_receipt_retention_hours=168))
    assert done["receipts_pruned"] == 1
    with db.session() as s:
        assert s.scalars(select(IngestReceipt.key)).all() == ["b" * 64]
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            assert is_partitioned(conn)
            now = utcnow()
            # the window around now exists (made at start or by this pass)
            assert any(p.lower is not None and p.lower <= now < p.upper for p in list_partitions(conn))
    else:
        assert "partitions_created" not in done
