"""A node whose secret key or schema version differs from the others refuses to start (``core.node_check``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.core.database import utcnow
from stadslab.core.node_check import NodeMismatch, cluster_nodes, code_revisions, node_id, secret_fingerprint


def _other_node(db, key: str, *, seen_ago: float = 0.0) -> None:
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(cluster_nodes.insert().values(
            node_id="elsewhere:1", secret_fingerprint=secret_fingerprint(key),
            schema_revision=",".join(sorted(code_revisions())), started_at=now,
            seen_at=now - timedelta(seconds=seen_ago)))


def _start(db, key: str):
    return TestClient(create_app(Settings(database_url=db.url, secret_key=key), db=db))


def test_a_node_with_another_secret_key_than_a_live_node_refuses_to_start(db):
    _other_node(db, "the-key-of-the-others")
    with pytest.raises(NodeMismatch, match="STADSLAB_SECRET_KEY differs from that of the running node elsewhere:1"):
        with _start(db, "a-different-key"):
            pass
    with db.engine.connect() as conn:  # and it did not register itself
        assert conn.execute(select(cluster_nodes.c.node_id)).scalars().all() == ["elsewhere:1"]


def test_the_same_key_starts_and_registers_until_it_stops(db):
    _other_node(db, "shared-key")
    with _start(db, "shared-key") as client:
        assert client.get("/api/v1/health/live").status_code == 200
        with db.engine.connect() as conn:
            rows = dict(conn.execute(select(cluster_nodes.c.node_id, cluster_nodes.c.secret_fingerprint)).all())
        assert rows[node_id()] == secret_fingerprint("shared-key") != "shared-key"
    with db.engine.connect() as conn:
        assert node_id() not in conn.execute(select(cluster_nodes.c.node_id)).scalars().all()


def test_a_key_of_a_dead_node_does_not_block_a_rotation(db):
    _other_node(db, "the-old-key", seen_ago=3600)
    with _start(db, "the-new-key") as client:
        assert client.get("/api/v1/health/live").status_code == 200


def test_a_node_of_another_schema_version_refuses_to_start(db):
    with db.engine.begin() as conn:
        [old] = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        conn.execute(text("UPDATE alembic_version SET version_num = '0017'"))
    try:
        with pytest.raises(NodeMismatch, match=r"expects schema version .* but the database is at 0017: run `stadslab db upgrade`"):
            with _start(db, "k"):
                pass
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": old})


def test_a_database_at_a_revision_this_code_does_not_know_is_refused_before_migrating(db):
    from stadslab.core.node_check import check_before_upgrade

    check_before_upgrade(db.url)  # in step: nothing to say
    with db.engine.begin() as conn:
        [old] = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        with pytest.raises(NodeMismatch, match="schema version 9999, which this node's code .* does not know"):
            check_before_upgrade(db.url)
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": old})
