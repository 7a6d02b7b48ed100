"""Migration 0013 (public location precision) goes up and down on both databases."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from stadslab.core.database import make_engine
from stadslab.core.migrate import alembic_config, downgrade, upgrade
from tests.core.test_migrations import empty_url  # noqa: F401  (a fresh database per dialect)

ADDED = {"sta_things": {"location_precision_m"}, "sta_locations": {"public_location", "public_precision_m"},
         "sta_features_of_interest": {"public_feature", "public_precision_m"}}


def _columns(engine) -> dict[str, set[str]]:
    found = inspect(engine)
    return {t: {c["name"] for c in found.get_columns(t)} for t in ADDED}


def test_0013_up_down_up(empty_url):  # noqa: F811
    before = ScriptDirectory.from_config(alembic_config(empty_url)).get_revision("0013").down_revision
    upgrade(empty_url)
    engine = make_engine(empty_url)
    assert all(ADDED[t] <= cols for t, cols in _columns(engine).items())
    assert "sta_public_precision_defaults" in inspect(engine).get_table_names()
    engine.dispose()
    downgrade(empty_url, before)
    engine = make_engine(empty_url)
    assert all(not (ADDED[t] & cols) for t, cols in _columns(engine).items())
    assert "sta_public_precision_defaults" not in inspect(engine).get_table_names()
    engine.dispose()
    upgrade(empty_url)
    engine = make_engine(empty_url)
    assert all(ADDED[t] <= cols for t, cols in _columns(engine).items())
    engine.dispose()
