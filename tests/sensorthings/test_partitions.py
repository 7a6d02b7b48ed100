"""Monthly partitions of ``sta_observations`` (PostgreSQL, migration 0012) and the platform retention.

Partitioning exists on PostgreSQL only: those tests use ``pg_db``, which fails in CI
(``STADSLAB_TEST_REQUIRE_ALL=1``) when no PostgreSQL is configured, and skips only
locally. Plan tests check plan shape, never timing. The retention through
``enforce_retention`` runs on both databases.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.governance.models import AuditEvent
from stadslab.governance.privacy import enforce_retention
from stadslab.sensorthings.storage import partitions as P
from stadslab.sensorthings.model.tables import Observation
from stadslab.sensorthings.storage.retention import enforce_observation_retention
from tests.conftest import PG_URL, empty_tables, require_service
from tests.governance.factories import auth_headers, make_token, make_user

from .helpers import STA, datastream, get, new_thing, post
from .helpers import client  # noqa: F401  (an administrator's: these tests write)
from .test_performance_plans import analyze, captured, explain, index_family, plan_nodes

STADSLAB = str(Path(sys.executable).with_name("stadslab"))
NOW = datetime.now(timezone.utc)
THIS_MONTH = P.month_start(NOW)


def _reset_layout(db) -> None:
    """Back to the migrated layout (the window's months + DEFAULT), for the next test; tables are empty."""
    with db.engine.begin() as conn:
        keep = {P.partition_name(m) for m in P.window(NOW)} | {P.DEFAULT}
        for p in P.list_partitions(conn):
            if p.name not in keep:
                conn.execute(text(f'DROP TABLE "{p.name}"'))
        P.ensure_partitions(conn)


@pytest.fixture
def pg_db(_databases):
    if not PG_URL:
        require_service("STADSLAB_TEST_POSTGRES_URL not set: partitioning exists on PostgreSQL only")
    database = _databases.get("postgresql")
    try:
        yield database
    finally:
        empty_tables(database)
        _reset_layout(database)


@pytest.fixture
def pg_client(pg_db) -> Iterator[TestClient]:
    with pg_db.session() as s:
        token = make_token(s, make_user(s, "admin"))
    app = create_app(Settings(database_url=pg_db.url), db=pg_db)
    with TestClient(app, headers=auth_headers(token)) as c:
        yield c


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _create(client, ds: int, times: list[datetime], first_result: int = 0) -> None:
    r = client.post(f"{STA}/CreateObservations", json=[{
        "Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
        "dataArray": [[_iso(t), first_result + i] for i, t in enumerate(times)]}])
    assert r.status_code == 201 and "error" not in r.text, r.text


def _where(db, obs_id: int) -> str:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT tableoid::regclass::text FROM sta_observations WHERE id = :i"),
                            {"i": obs_id}).scalar_one()


def _tables(db) -> set[str]:
    with db.engine.connect() as conn:
        return set(conn.execute(text("SELECT relname FROM pg_class WHERE relname LIKE 'sta_observations_%' "
                                      "AND relkind IN ('r', 'p')")).scalars())


def test_layout_keys_sequence_and_foreign_keys(pg_db):
    with pg_db.engine.begin() as conn:
        assert P.is_partitioned(conn)
        names = [p.name for p in P.list_partitions(conn)]
        pk = conn.execute(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                               "WHERE conrelid = 'sta_observations'::regclass AND contype = 'p'")).scalar_one()
        fks = dict(conn.execute(text("SELECT confrelid::regclass::text, confdeltype FROM pg_constraint "
                                     "WHERE conrelid = 'sta_observations'::regclass AND contype = 'f'")).all())
        seq = conn.execute(text("SELECT pg_get_serial_sequence('sta_observations', 'id')")).scalar()
    assert {P.partition_name(m) for m in P.window(NOW)} <= set(names) and names[-1] == P.DEFAULT
    assert pk == "PRIMARY KEY (id, phenomenon_time_start)"
    assert fks == {"sta_datastreams": "c", "sta_multi_datastreams": "c", "sta_features_of_interest": "c"}
    assert seq == "public.sta_observations_id_seq"


def test_newest_page_uses_the_stream_index_and_a_time_bound_prunes(pg_client, pg_db):
    client, db = pg_client, pg_db
    ds = new_thing(client, n_obs=0)["datastream"]
    other = post(client, f"Things({new_thing(client, n_obs=0)['thing']})/Datastreams", datastream())["@iot.id"]
    months = [P.add_months(THIS_MONTH, n) for n in (-2, -1, 0)]
    for stream in (ds, other):
        _create(client, stream, [m + timedelta(days=1, minutes=i) for m in months for i in range(400)])
    analyze(db)
    with captured(db) as statements:
        page = get(client, f"Datastreams({ds})/Observations", **{"$top": 100, "$orderby": "phenomenonTime desc"})
    statement, parameters = [(s, p) for s, p in statements
                             if "FROM sta_observations" in s and "ORDER BY" in s and "LIMIT" in s][-1]
    nodes = plan_nodes(explain(db, statement, parameters))
    assert not [n for n in nodes if "Sort" in n["Node Type"]], nodes
    family = index_family(db, "ix_sta_observations_datastream_time")
    scans = [n for n in nodes if n.get("Relation Name", "").startswith("sta_observations")]
    assert scans and all(n.get("Index Name") in family and n["Scan Direction"] == "Backward" for n in scans), nodes
    assert {P.partition_name(m) for m in months} <= {n["Relation Name"] for n in scans}
    assert [o["result"] for o in page["value"]] == list(range(1199, 1099, -1))

    lo, hi = months[1], months[2]
    flt = f"phenomenonTime ge {_iso(lo)} and phenomenonTime lt {_iso(hi)}"
    with captured(db) as statements:
        bounded = get(client, f"Datastreams({ds})/Observations",
                      **{"$top": 1000, "$orderby": "phenomenonTime desc", "$filter": flt})
    statement, parameters = [(s, p) for s, p in statements
                             if "FROM sta_observations" in s and "ORDER BY" in s and "LIMIT" in s][-1]
    nodes = plan_nodes(explain(db, statement, parameters))
    scanned = {n["Relation Name"] for n in nodes if n.get("Relation Name", "").startswith("sta_observations")}
    assert scanned == {P.partition_name(lo)}, nodes  # the other months and DEFAULT are pruned
    assert [o["result"] for o in bounded["value"]] == list(range(799, 399, -1))


def test_far_future_lands_in_default_reads_back_and_moves_to_its_month(pg_client, pg_db):
    client, db = pg_client, pg_db
    ds = new_thing(client, n_obs=0)["datastream"]
    obs = post(client, f"Datastreams({ds})/Observations", {"phenomenonTime": "2099-06-03T10:00:00Z", "result": 7})
    oid = obs["@iot.id"]
    assert _where(db, oid) == P.DEFAULT
    assert get(client, f"Observations({oid})")["result"] == 7
    assert [o["@iot.id"] for o in get(client, f"Datastreams({ds})/Observations")["value"]] == [oid]
    with db.engine.begin() as conn:  # the default window leaves far-future rows where they are
        assert P.adopt_default_rows(conn) == {}
    with db.engine.begin() as conn:  # a month "about to receive rows" that DEFAULT already holds rows for
        assert P.ensure_partitions(conn, months={datetime(2099, 6, 20, tzinfo=timezone.utc)}) == \
            ["sta_observations_p209906"]
    assert _where(db, oid) == "sta_observations_p209906"
    assert get(client, f"Observations({oid})")["result"] == 7
    post(client, f"Datastreams({ds})/Observations", {"phenomenonTime": "2099-07-01T00:00:00Z", "result": 8})
    with db.engine.begin() as conn:
        moved = P.adopt_default_rows(conn, now=datetime(2099, 6, 1, tzinfo=timezone.utc))
        left = conn.execute(text(f"SELECT count(*) FROM {P.DEFAULT}")).scalar_one()
    assert moved == {"sta_observations_p209907": 1} and left == 0
    assert sorted(o["result"] for o in get(client, f"Datastreams({ds})/Observations")["value"]) == [7, 8]
    # an update of the time moves the row to its month's partition; the id stays
    r = client.patch(f"{STA}/Observations({oid})", json={"phenomenonTime": _iso(THIS_MONTH + timedelta(hours=2))})
    assert r.status_code == 200, r.text
    assert _where(db, oid) == P.partition_name(THIS_MONTH)
    assert get(client, f"Observations({oid})")["phenomenonTime"] == _iso(THIS_MONTH + timedelta(hours=2))


def test_startup_makes_missing_months_again(pg_db):
    victim = P.partition_name(P.add_months(THIS_MONTH, 1))
    with pg_db.engine.begin() as conn:
        conn.execute(text(f'DROP TABLE "{victim}"'))
    assert victim not in _tables(pg_db)
    with TestClient(create_app(Settings(database_url=pg_db.url), db=pg_db)):
        pass
    assert victim in _tables(pg_db)


def test_retention_drops_old_months_and_deletes_only_the_rest(pg_client, pg_db):
    client, db = pg_client, pg_db
    ds = new_thing(client, n_obs=0)["datastream"]
    two_ago, one_ago = P.add_months(THIS_MONTH, -2), P.add_months(THIS_MONTH, -1)
    _create(client, ds, [datetime(2024, 1, 5, tzinfo=timezone.utc) + timedelta(hours=i) for i in range(5)])
    with db.engine.begin() as conn:
        assert P.adopt_default_rows(conn) == {"sta_observations_p202401": 5}
    _create(client, ds, [datetime(2023, 5, 1, tzinfo=timezone.utc)], 100)  # stays in DEFAULT: deleted
    _create(client, ds, [datetime(2099, 1, 1, tzinfo=timezone.utc)], 200)  # DEFAULT, kept
    _create(client, ds, [two_ago + timedelta(days=d) for d in range(20)], 300)  # dropped with its month
    _create(client, ds, [one_ago + timedelta(days=d) for d in (0, 1, 2, 20, 21)], 400)  # 3 deleted, 2 kept
    _create(client, ds, [THIS_MONTH + timedelta(hours=1)], 500)  # kept
    cutoff = one_ago + timedelta(days=10)
    days = (NOW - cutoff).days
    cutoff = NOW - timedelta(days=days)
    assert one_ago + timedelta(days=2) < cutoff < one_ago + timedelta(days=20)
    with db.session() as s:
        dry = enforce_observation_retention(s, days, NOW, dry_run=True)
        s.rollback()
    assert dry.partitions_dropped == {"sta_observations_p202401": 5, P.partition_name(two_ago): 20}
    assert dry.observations_deleted == 4
    assert {"sta_observations_p202401", P.partition_name(two_ago)} <= _tables(db)  # dry run: all still there
    with db.session() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
        report = enforce_observation_retention(s, days, NOW)
        s.commit()
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "observations.retention")).all()
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before + 1
    assert report.partitions_dropped == dry.partitions_dropped and report.observations_deleted == 4
    assert len(events) == 1 and events[0].after["observations_deleted"] == 4
    assert events[0].after["partitions_dropped"] == dry.partitions_dropped
    gone = {"sta_observations_p202401", P.partition_name(two_ago)}
    assert not gone & _tables(db)
    with db.engine.connect() as conn:
        inherits = set(conn.execute(text("SELECT inhrelid::regclass::text FROM pg_inherits "
                                         "WHERE inhparent = 'sta_observations'::regclass")).scalars())
    assert not gone & inherits and {P.partition_name(one_ago), P.DEFAULT} <= inherits
    left = sorted(o["result"] for o in get(client, f"Datastreams({ds})/Observations", **{"$top": 100})["value"])
    assert left == [200, 403, 404, 500]


def test_platform_retention_through_enforce_retention(db, client):
    """Both databases: the platform period joins the personal-data retention's run (SQLite: DELETE)."""
    ds = new_thing(client, n_obs=0)["datastream"]
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=5)
    _create(client, ds, [old, old + timedelta(hours=1), recent])
    with db.session() as s:
        report = enforce_retention(s, NOW, observation_retention_days=30)
    assert report.platform.observations_removed == 2
    with db.session() as s:
        kept = s.execute(select(Observation.result).where(Observation.datastream_id == ds)).scalars().all()
        assert kept == [2]
        assert report.observations_deleted == 0  # the personal-data part had nothing to do
    with db.session() as s:
        assert enforce_retention(s, NOW).platform is None  # unset: keep forever
    if db.dialect == "postgresql":  # a month of the window may have been dropped: back for the next tests
        with db.engine.begin() as conn:
            P.ensure_partitions(conn)


def test_retention_refuses_a_period_below_a_day(db):
    with db.session() as s, pytest.raises(ValueError):
        enforce_observation_retention(s, 0)


def test_cli_adopts_default_rows_and_enforces_retention(pg_client, pg_db):
    ds = new_thing(pg_client, n_obs=0)["datastream"]
    _create(pg_client, ds, [datetime(2023, 3, 5, tzinfo=timezone.utc), datetime(2023, 3, 6, tzinfo=timezone.utc)])
    env = {**os.environ, "STADSLAB_DATABASE_URL": pg_db.url, "COLUMNS": "200"}

    def run(*args: str) -> str:
        done = subprocess.run([STADSLAB, "observations", *args], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "sta_observations_p202303: 2 row(s) moved out of sta_observations_default" in run("partitions")
    assert "sta_observations_p202303" in _tables(pg_db)
    assert "1 partition(s) (2 observations) would be dropped" in run("retention", "--days", "365", "--dry-run")
    assert "sta_observations_p202303" in _tables(pg_db)
    assert "1 partition(s) (2 observations) were dropped" in run("retention", "--days", "365")
    assert "sta_observations_p202303" not in _tables(pg_db)
    assert "nothing removed" in run("retention")  # no period configured, none given
