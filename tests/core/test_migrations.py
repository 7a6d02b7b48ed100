"""The migration history has one head, and it upgrades and downgrades cleanly on both databases."""

import uuid

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from stadslab.core.database import make_engine, normalise_url
from stadslab.core.migrate import alembic_config, downgrade, upgrade
from tests.conftest import DIALECTS, PG_URL


def test_one_head():
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads


@pytest.fixture(params=DIALECTS)
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"stadslab_migrations_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_downgrade_upgrade(empty_url):
    upgrade(empty_url)
    engine = make_engine(empty_url)
    tables = set(inspect(engine).get_table_names())
    assert {"projects", "sta_observations", "audit_events", "search_documents", "federation_peers"} <= tables
    downgrade(empty_url, "base")
    assert {t for t in inspect(engine).get_table_names() if not t.startswith("spatial_ref")} <= {"alembic_version"}
    upgrade(empty_url)
    assert set(inspect(engine).get_table_names()) == tables
    engine.dispose()
