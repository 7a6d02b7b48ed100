"""The leading process exports the signed audit chain head periodically (``STADSLAB_AUDIT_HEAD_EXPORT_DIR``)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.governance.audit import check_head
from tests.support.processes import wait_until

from .factories import make_user


def test_the_leader_writes_a_signed_head_that_checks_out(db, session, tmp_path):
    make_user(session, "admin")  # something in the trail
    target = tmp_path / "heads"
    settings = Settings(database_url=db.url, secret_key="export-key", audit_head_export_dir=str(target),
                        audit_head_export_interval_seconds=3600, leader_poll_seconds=0.1)
    with TestClient(create_app(settings, db=db)):
        assert wait_until(lambda: list(target.glob("audit-head-*.json")), timeout=30)
    [path] = list(target.glob("audit-head-*.json"))
    document = json.loads(path.read_text())
    with db.session() as s:
        assert check_head(s, document, "export-key").ok
        assert not check_head(s, document, "another-key").ok
