"""A tiny Thing/Observation schema of the tests' own, with resolvers, on both dialects.

The tables live on a separate ``MetaData`` (so the suite's table emptying leaves
them alone); they are created on first use and dropped at the end of the test
session. Test scaffolding, not a production path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from sqlalchemy import (JSON, Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, MetaData,
                        String, Table, Text, exists, select, text)

from stadslab.sensorthings.filter import (ResolvedValue, ValueKind, compile_filter,
                                          install_sqlite_functions, register_sqlite_functions)

meta = MetaData()

things = Table(
    "flt_things", meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(100)),
    Column("description", Text),
    Column("active", Boolean),
    Column("installed", Date),
    Column("created", DateTime(timezone=True)),
    Column("properties", JSON),
    Column("location", JSON),
)

observations = Table(
    "flt_observations", meta,
    Column("id", Integer, primary_key=True),
    Column("thing_id", ForeignKey("flt_things.id")),
    Column("result", JSON),
    Column("result_number", Float),
    Column("result_string", Text),
    Column("phenomenon_start", DateTime(timezone=True)),
    Column("phenomenon_end", DateTime(timezone=True)),
    Column("result_time", DateTime(timezone=True)),
    Column("parameters", JSON),
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@dataclass
class ThingResolver:
    dialect: str
    t: Table = things

    def resolve_property(self, path):
        c = self.t.c
        simple = {("id",): (c.id, ValueKind.NUMBER), ("name",): (c.name, ValueKind.STRING),
                  ("description",): (c.description, ValueKind.STRING),
                  ("active",): (c.active, ValueKind.BOOLEAN),
                  ("installed",): (c.installed, ValueKind.DATE),
                  ("created",): (c.created, ValueKind.DATETIME),
                  ("location",): (c.location, ValueKind.GEOMETRY)}
        if tuple(path) in simple:
            expr, kind = simple[tuple(path)]
            return ResolvedValue(expr, kind)
        if path and path[0] == "properties":
            return ResolvedValue(c.properties, ValueKind.JSON, json_path=tuple(path[1:]))
        return None

    def resolve_any(self, path, variable, build_predicate):
        if tuple(path) != ("Observations",):
            return None
        o = observations.alias()
        cond = build_predicate(ObservationResolver(self.dialect, o))
        return exists(select(1).select_from(o).where(o.c.thing_id == self.t.c.id, cond))


@dataclass
class ObservationResolver:
    dialect: str
    t: Table = observations
    shadow: bool = False

    def resolve_property(self, path):
        c = self.t.c
        path = tuple(path)
        if path == ("id",):
            return ResolvedValue(c.id, ValueKind.NUMBER)
        if path == ("result",):
            if self.shadow:
                return ResolvedValue(c.result, ValueKind.JSON, number=c.result_number,
                                     string=c.result_string)
            return ResolvedValue(c.result, ValueKind.JSON)
        if path[:1] == ("result",):
            return ResolvedValue(c.result, ValueKind.JSON, json_path=path[1:])
        if path == ("phenomenonTime",):
            return ResolvedValue(c.phenomenon_start, ValueKind.INTERVAL, end=c.phenomenon_end)
        if path == ("resultTime",):
            return ResolvedValue(c.result_time, ValueKind.DATETIME)
        if path[:1] == ("parameters",):
            return ResolvedValue(c.parameters, ValueKind.JSON, json_path=path[1:])
        if path[:1] == ("Thing",) and len(path) > 1:
            th = things.alias()
            inner = ThingResolver(self.dialect, th).resolve_property(path[1:])
            if inner is None:
                return None
            sub = select(inner.expr).where(th.c.id == c.thing_id).scalar_subquery()
            return ResolvedValue(sub, inner.kind, json_path=inner.json_path)
        return None

    def resolve_any(self, path, variable, build_predicate):
        """``Siblings``: the other Observations of the same Thing (to test nested lambdas)."""
        if tuple(path) != ("Siblings",):
            return None
        o = observations.alias()
        cond = build_predicate(ObservationResolver(self.dialect, o, self.shadow))
        return exists(select(1).select_from(o).where(o.c.thing_id == self.t.c.thing_id,
                                                       o.c.id != self.t.c.id, cond))


# --- fixtures --------------------------------------------------------------------------------

THINGS = [
    dict(id=1, name="Luchtmeter Dam", description="NO2 and PM10 at Dam square", active=True,
         installed=datetime(2021, 3, 1).date(), created=utc(2021, 3, 1, 8, 30, 0),
         properties={"owner": "Gemeente Amsterdam", "height": 3.5, "tags": ["air", "no2"],
                     "floors": 4, "public": True, "nested": {"level": 2},
                     "spot": {"type": "Point", "coordinates": [4.9, 52.37]},
                     "since": "2021-03-01T00:00:00Z"},
         location={"type": "Point", "coordinates": [4.8930, 52.3731]}),
    dict(id=2, name="Geluidsmeter Coolsingel", description="Noise (dB) at 'Coolsingel'",
         active=False, installed=datetime(2022, 7, 15).date(), created=utc(2022, 7, 15, 23, 59, 59),
         properties={"owner": "Gemeente Rotterdam", "height": 5, "tags": ["noise"], "public": False,
                     "since": "2022-07-15T12:00:00Z"},
         location={"type": "Feature", "properties": {},
                   "geometry": {"type": "Point", "coordinates": [4.4777, 51.9225]}}),
    dict(id=3, name="ZOË Ĳsselmeer", description=None, active=None, installed=None, created=None,
         properties=None,
         location={"type": "LineString", "coordinates": [[5.0, 52.5], [5.5, 52.8]]}),
]

OBS = [
    # id, thing, result, start, end, result_time, parameters
    (1, 1, 7, utc(2024, 1, 1, 10, 0), None, utc(2024, 1, 1, 10, 0, 5), {"quality": "good", "n": 3}),
    (2, 1, 3.5, utc(2024, 1, 1, 11, 0), utc(2024, 1, 1, 12, 0), None, {"quality": "bad"}),
    (3, 1, "12", utc(2024, 1, 2, 0, 0), None, None, None),
    (4, 2, True, utc(2024, 2, 1, 0, 0), utc(2024, 2, 29, 23, 59, 59), None, {"a": {"b": 1}}),
    (5, 2, {"pm10": 20, "pm25": 9}, utc(2024, 1, 1, 12, 0), None, None, None),
    (6, 2, [1, 2, 3], utc(2023, 12, 31, 23, 0, 0, 250000), None, None, None),
    (7, 2, None, utc(2024, 3, 1, 0, 0), None, None, None),
    (8, 1, "abc", utc(2024, 1, 1, 12, 0), utc(2024, 1, 1, 13, 0), None, None),
    (9, 1, -2, utc(2024, 1, 1, 9, 0), utc(2024, 1, 1, 10, 0), None, None),
]


def observation_rows():
    rows = []
    for oid, thing, result, start, end, rtime, params in OBS:
        rows.append(dict(
            id=oid, thing_id=thing, result=result,
            result_number=float(result) if isinstance(result, (int, float))
            and not isinstance(result, bool) else None,
            result_string=result if isinstance(result, str) else None,
            phenomenon_start=start, phenomenon_end=end, result_time=rtime, parameters=params))
    return rows


class FilterDB:
    """Runs filters against the test tables and returns the matching ids."""

    def __init__(self, db, conn):
        self.db = db
        self.conn = conn
        self.dialect = db.dialect

    def things(self, text_: str, **kw) -> list[int]:
        where = compile_filter(text_, ThingResolver(self.dialect), **kw)
        return [r[0] for r in self.conn.execute(select(things.c.id).where(where).order_by(things.c.id))]

    def obs(self, text_: str, shadow: bool = False, **kw) -> list[int]:
        where = compile_filter(text_, ObservationResolver(self.dialect, shadow=shadow), **kw)
        stmt = select(observations.c.id).where(where).order_by(observations.c.id)
        return [r[0] for r in self.conn.execute(stmt)]


@pytest.fixture(scope="session")
def _filter_tables(_databases):
    """Databases that hold the test tables; they are dropped when the session ends."""
    created: dict[str, object] = {}
    yield created
    for db in created.values():
        meta.drop_all(db.engine)


@pytest.fixture
def fdb(db, _filter_tables):
    """The test tables, filled once per dialect, on the ``db`` dialect.

    The tests only read them (the injection tests check they are still there),
    so they are created on first use and dropped at the end of the session.
    """
    install_sqlite_functions(db.engine)
    if db.url not in _filter_tables:
        if db.dialect == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        meta.drop_all(db.engine)
        meta.create_all(db.engine)
        _filter_tables[db.url] = db
        with db.engine.begin() as conn:
            conn.execute(things.insert(), THINGS)
            conn.execute(observations.insert(), observation_rows())
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":  # pooled connections may predate the listener
            register_sqlite_functions(conn.connection.dbapi_connection)
        yield FilterDB(db, conn)
        conn.rollback()
