"""Plan shape (never timing) and correctness of the indexed read paths of migration 0005.

* The newest page of a Datastream is an index range scan of
  ``(datastream_id, phenomenon_time_start, id)`` read backwards, with no sort.
* Spatial ``$filter`` functions on Locations use the GiST index on ``geom``
  (PostgreSQL + PostGIS) or the R*Tree of bounding boxes (SQLite), and answer
  exactly what shapely answers.

The SQL is captured from real requests, then explained with the same parameters.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from shapely.geometry import box, shape
from sqlalchemy import event, text

from stadslab.sensorthings.filter import index as filter_index
from tests.conftest import require_service

from .helpers import STA, datastream, get, location, new_thing, post, thing

from .helpers import client  # noqa: F401  (an administrator's: these tests write)


@contextmanager
def captured(db):
    statements: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)


def explain(db, statement: str, parameters, *, no_seqscan: bool = False):
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            if no_seqscan:
                conn.exec_driver_sql("SET enable_seqscan = off")
            raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
            conn.rollback()
            return raw if isinstance(raw, list) else json.loads(raw)
        return [r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]


def plan_nodes(plan) -> list[dict]:
    out, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.get("Plans", []))
    return out


def analyze(db) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")


def index_family(db, name: str) -> set[str]:
    """An index and, on a partitioned table (migration 0012), the per-partition indexes made from it."""
    if db.dialect != "postgresql":
        return {name}
    with db.engine.connect() as conn:
        children = conn.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%(n)s)", {"n": name}).scalars().all()
    return {name, *children}


def _page_statement(statements) -> tuple[str, object]:
    found = [(s, p) for s, p in statements
             if "FROM sta_observations" in s and "ORDER BY" in s and "LIMIT" in s]
    assert found, statements
    return found[-1]


def test_newest_page_is_a_backward_index_scan_without_sort(client, db):
    ids = new_thing(client, n_obs=0)
    other = post(client, f"Things({ids['thing']})/Datastreams", datastream())["@iot.id"]
    ds = ids["datastream"]
    # 12,000 rows per stream, interleaved, with equal times in pairs so the id must break ties
    for stream in (ds, other):
        for part in range(3):
            rows = [[f"2024-01-{1 + (n // 2) // 1440:02d}T{(n // 2) % 1440 // 60:02d}:{(n // 2) % 60:02d}:00Z", n]
                    for n in range(part * 4000, (part + 1) * 4000)]
            r = client.post(f"{STA}/CreateObservations", json=[{
                "Datastream": {"@iot.id": stream}, "components": ["phenomenonTime", "result"], "dataArray": rows}])
            assert r.status_code == 201 and "error" not in r.json()
    analyze(db)
    with captured(db) as statements:
        page = get(client, f"Datastreams({ds})/Observations", **{"$top": 100, "$orderby": "phenomenonTime desc"})
    statement, parameters = _page_statement(statements)
    plan = explain(db, statement, parameters)
    if db.dialect == "postgresql":
        nodes = plan_nodes(plan)
        assert not [n for n in nodes if "Sort" in n["Node Type"]], nodes
        family = index_family(db, "ix_sta_observations_datastream_time")
        scans = [n for n in nodes if n.get("Index Name") in family]
        assert scans and all(n["Scan Direction"] == "Backward" for n in scans), nodes
    else:
        assert any("USING INDEX ix_sta_observations_datastream_time" in line for line in plan), plan
        assert not any("TEMP B-TREE" in line for line in plan), plan
    # correctness: newest first, ties by id descending, and the next page continues exactly
    results = [o["result"] for o in page["value"]]
    assert results == list(range(11999, 11899, -1))
    nxt = client.get(page["@iot.nextLink"]).json()
    assert [o["result"] for o in nxt["value"]] == list(range(11899, 11799, -1))


BOX = box(4.25, 51.9, 4.75, 53.0)
BOX_WKT = "POLYGON((4.25 51.9, 4.75 51.9, 4.75 53, 4.25 53, 4.25 51.9))"


def _spatial_things(client) -> dict[int, object]:
    """Things with point, polygon and Feature Locations in and around BOX; returns Location id -> shape."""
    geometries = [{"type": "Point", "coordinates": [4.0 + i * 0.1, 52.0 + i * 0.05]} for i in range(12)]
    geometries += [
        {"type": "Polygon", "coordinates": [[[4.7, 52.9], [5.5, 52.9], [5.5, 53.5], [4.7, 53.5], [4.7, 52.9]]]},
        {"type": "Feature", "properties": {"coordinates": [0, 0]},
         "geometry": {"type": "LineString", "coordinates": [[3.0, 52.5], [4.3, 52.5]]}},
        {"type": "Polygon", "coordinates": [[[4.3, 52.0], [4.6, 52.0], [4.6, 52.5], [4.3, 52.5], [4.3, 52.0]]]},
    ]
    shapes = {}
    for i, geometry in enumerate(geometries):
        created = post(client, "Things", thing(name=f"t{i}", Locations=[location(location=geometry)]))
        loc = get(client, f"Things({created['@iot.id']})/Locations")["value"][0]
        g = geometry["geometry"] if geometry["type"] == "Feature" else geometry
        shapes[loc["@iot.id"]] = (created["@iot.id"], shape(g))
    return shapes


def _ids(client, path: str, flt: str) -> set[int]:
    return {x["@iot.id"] for x in get(client, path, **{"$filter": flt, "$top": 1000, "$select": "id"})["value"]}


def test_spatial_filters_answer_like_shapely(client, db):
    shapes = _spatial_things(client)
    expect = {lid for lid, (_t, g) in shapes.items() if g.intersects(BOX)}
    assert 0 < len(expect) < len(shapes)
    lit = f"geography'{BOX_WKT}'"
    assert _ids(client, "Locations", f"geo.intersects(location, {lit})") == expect
    assert _ids(client, "Locations", f"geo.intersects({lit}, location)") == expect
    assert _ids(client, "Locations", f"not geo.intersects(location, {lit})") == set(shapes) - expect
    assert _ids(client, "Locations", f"st_within(location, {lit})") == \
        {lid for lid, (_t, g) in shapes.items() if g.within(BOX)}
    assert _ids(client, "Locations", f"st_disjoint(location, {lit})") == set(shapes) - expect
    assert _ids(client, "Things", f"Locations/any(l: geo.intersects(l/location, {lit}))") == \
        {t for lid, (t, _g) in shapes.items() if lid in expect}
    # a Location that moves leaves the box: the index follows updates
    inside = sorted(expect)[0]
    r = client.patch(f"{STA}/Locations({inside})", json={"location": {"type": "Point", "coordinates": [9, 9]}})
    assert r.status_code == 200
    assert _ids(client, "Locations", f"geo.intersects(location, {lit})") == expect - {inside}
    assert client.delete(f"{STA}/Locations({sorted(expect)[-1]})").status_code == 200
    assert _ids(client, "Locations", f"geo.intersects(location, {lit})") == expect - {inside, sorted(expect)[-1]}


def test_spatial_filter_uses_the_spatial_index(client, db, session):
    _spatial_things(client)
    if not filter_index.indexed_tables(session):
        require_service("no spatial index here (PostGIS not installed)")
    analyze(db)
    with captured(db) as statements:
        get(client, "Locations", **{"$filter": f"geo.intersects(location, geography'{BOX_WKT}')"})
    statement, parameters = [(s, p) for s, p in statements if "FROM sta_locations" in s and "LIMIT" in s][-1]
    # enable_seqscan off: the question is whether the index *can* serve the filter (tiny table here)
    plan = explain(db, statement, parameters, no_seqscan=True)
    if db.dialect == "postgresql":
        names = {n.get("Index Name") for n in plan_nodes(plan)}
        assert "ix_sta_locations_geom" in names, plan
        assert "ST_GeomFromGeoJSON" not in statement
    else:
        assert any("sta_locations_rtree" in line and "VIRTUAL TABLE INDEX" in line for line in plan), plan


@pytest.fixture
def sqlite_session(sqlite_db):
    with sqlite_db.session() as s:
        yield s


def test_rtree_boxes_follow_the_geojson(sqlite_session):
    """SQLite only: the R*Tree that serves spatial filters there (PostgreSQL uses PostGIS)."""
    session = sqlite_session
    assert "sta_locations" in filter_index.indexed_tables(session)
    session.execute(text(
        "INSERT INTO sta_locations (id, name, description, encoding_type, location) VALUES "
        "(1, 'a', 'b', 'application/geo+json', :p), (2, 'a', 'b', 'application/geo+json', :f), "
        "(3, 'a', 'b', 'application/geo+json', 'not json')"),
        {"p": json.dumps({"type": "MultiPoint", "coordinates": [[4, 52, 7], [5.5, 51]]}),
         "f": json.dumps({"type": "Feature", "properties": {},
                          "geometry": {"type": "GeometryCollection", "geometries": [
                              {"type": "Point", "coordinates": [1, 2]},
                              {"type": "LineString", "coordinates": [[3, 4], [-1, 8]]}]}})})
    boxes = {r[0]: r[1:] for r in session.execute(text("SELECT * FROM sta_locations_rtree"))}
    assert boxes[1] == pytest.approx((4, 5.5, 51, 52))
    assert boxes[2] == pytest.approx((-1, 3, 2, 8))
    assert boxes[3][0] < -1e37 and boxes[3][1] > 1e37  # unreadable: always a candidate
    session.rollback()


def test_any_and_all_over_in_and_link_navigations(client, db):
    """``any()``/``all()`` whose first hop is a foreign key or link table run as ``id IN (subquery)``;
    Observations of MultiDatastreams (NULL datastream_id) must not turn ``all()`` into NULL."""
    from .helpers import COMPLEX, MEASUREMENT, observed_property, sensor

    t = post(client, "Things", thing(Locations=[location(4.5, 52.5)]))["@iot.id"]
    streams = {}
    for name, results in (("a", [6, 7]), ("b", [1, 9]), ("c", [])):
        ds = post(client, f"Things({t})/Datastreams", datastream(name=name))["@iot.id"]
        streams[name] = ds
        for i, value in enumerate(results):
            post(client, f"Datastreams({ds})/Observations",
                 {"result": value, "phenomenonTime": f"2024-01-01T00:0{i}:00Z"})
    md = post(client, "MultiDatastreams", {
        "name": "wind", "description": "d", "observationType": COMPLEX, "unitOfMeasurements": [{"name": "m/s"}],
        "multiObservationDataTypes": [MEASUREMENT], "Thing": {"@iot.id": t}, "Sensor": sensor(),
        "ObservedProperties": [observed_property("v")]})["@iot.id"]
    post(client, f"MultiDatastreams({md})/Observations", {"result": [3]})
    names = {v: k for k, v in streams.items()}

    def found(flt: str) -> set[str]:
        return {names[i] for i in _ids(client, "Datastreams", flt)}

    assert found("Observations/all(o: o/result gt 5)") == {"a", "c"}
    assert found("Observations/any(o: o/result gt 8)") == {"b"}
    assert found("not Observations/any(o: o/result gt 8)") == {"a", "c"}
    other = post(client, "Things", thing(Locations=[location(9, 9)]))["@iot.id"]
    lit = f"geography'{BOX_WKT}'"
    assert _ids(client, "Things", f"Locations/all(l: geo.intersects(l/location, {lit}))") >= {t}
    assert other not in _ids(client, "Things", f"Locations/all(l: geo.intersects(l/location, {lit}))")
    assert _ids(client, "Things", f"Locations/any(l: geo.intersects(l/location, {lit}))") == {t}


def test_multidatastream_pages_use_the_partial_index(client, db):
    """Migration 0016: ``ix_sta_observations_multi_datastream_time`` leaves out the rows of
    Datastreams (NULL multi_datastream_id), and MultiDatastream pages still use it."""
    from .helpers import COMPLEX, MEASUREMENT, observed_property, sensor

    t = post(client, "Things", thing(Locations=[location(4.5, 52.5)]))["@iot.id"]
    md = post(client, "MultiDatastreams", {
        "name": "wind", "description": "d", "observationType": COMPLEX, "unitOfMeasurements": [{"name": "m/s"}],
        "multiObservationDataTypes": [MEASUREMENT], "Thing": {"@iot.id": t}, "Sensor": sensor(),
        "ObservedProperties": [observed_property("v")]})["@iot.id"]
    for i in range(30):
        post(client, f"MultiDatastreams({md})/Observations",
             {"result": [i], "phenomenonTime": f"2024-01-01T00:{i:02d}:00Z"})
    ds = post(client, f"Things({t})/Datastreams", datastream())["@iot.id"]
    rows = [[f"2024-01-02T{n // 60:02d}:{n % 60:02d}:00Z", n] for n in range(1000)]
    r = client.post(f"{STA}/CreateObservations", json=[{
        "Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}])
    assert r.status_code == 201
    analyze(db)
    with captured(db) as statements:
        page = get(client, f"MultiDatastreams({md})/Observations", **{"$top": 10, "$orderby": "phenomenonTime desc"})
    assert [o["result"] for o in page["value"]] == [[29 - k] for k in range(10)]
    statement, parameters = _page_statement(statements)
    plan = explain(db, statement, parameters, no_seqscan=True)
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            family = index_family(db, "ix_sta_observations_multi_datastream_time")
            assert any(n.get("Index Name") in family for n in plan_nodes(plan)), plan
            definitions = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = ANY(%(f)s)", {"f": list(family)}).scalars().all()
        else:
            assert any("ix_sta_observations_multi_datastream_time" in line for line in plan), plan
            definitions = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = "
                                               "'ix_sta_observations_multi_datastream_time'").scalars().all()
    assert definitions and all("multi_datastream_id IS NOT NULL" in d for d in definitions), definitions


def _explain_analyze(db, statement: str, parameters) -> list[dict]:
    with db.engine.connect() as conn:
        raw = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar()
        conn.rollback()
    return plan_nodes(raw if isinstance(raw, list) else json.loads(raw))


def _observations_read(nodes: list[dict]) -> int:
    """Rows that scan nodes of sta_observations (or its partitions) handed up, over all loops."""
    return sum(n["Actual Rows"] * n["Actual Loops"] for n in nodes
               if n.get("Relation Name", "").startswith("sta_observations"))


@pytest.mark.parametrize("top,skip", [(5, 0), (3, 4)])
def test_nested_expand_seeks_the_first_rows_per_parent(client, db, top, skip):
    """Issue #18: ``$expand=Observations($top;$skip;$orderby)`` at any depth reads at most
    parents × (top + skip + 1) Observations (the +1 tells whether a nextLink is due), through
    the (datastream_id, phenomenon_time_start, id) index: no window over every Observation."""
    things, streams = [], []
    for t in range(3):
        tid = post(client, "Things", thing(name=f"plan{t}", Locations=[location()]))["@iot.id"]
        things.append(tid)
        for _ in range(2):
            ds = post(client, f"Things({tid})/Datastreams", datastream())["@iot.id"]
            streams.append(ds)
            rows = [[f"2024-02-{1 + n // 1440:02d}T{n % 1440 // 60:02d}:{n % 60:02d}:00Z", ds * 10000 + n]
                    for n in range(1500)]
            r = client.post(f"{STA}/CreateObservations", json=[{
                "Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}])
            assert r.status_code == 201 and "error" not in r.json(), r.text
    analyze(db)
    inner = f"$top={top};$orderby=phenomenonTime desc" + (f";$skip={skip}" if skip else "")
    with captured(db) as statements:
        page = get(client, "Things", **{"$filter": "startswith(name, 'plan')", "$orderby": "name",
                                        "$expand": f"Datastreams($expand=Observations({inner}))"})
    # correctness: each Datastream its newest rows after the skip, newest first, and a nextLink
    assert [t["@iot.id"] for t in page["value"]] == things
    for t in page["value"]:
        assert len(t["Datastreams"]) == 2
        for d in t["Datastreams"]:
            newest = d["@iot.id"] * 10000 + 1499 - skip
            assert [o["result"] for o in d["Observations"]] == list(range(newest, newest - top, -1))
            assert d["Observations@iot.nextLink"].endswith(f"$skip={skip + top}") or \
                f"%24skip={skip + top}" in d["Observations@iot.nextLink"]
    found = [(s, p) for s, p in statements if "FROM sta_observations" in s]
    assert len(found) == 1, found  # one round trip for the level
    statement, parameters = found[0]
    assert "row_number" not in statement.lower()
    parents = len(streams)
    if db.dialect == "postgresql":
        nodes = _explain_analyze(db, statement, parameters)
        assert any(n["Node Type"] == "Nested Loop" for n in nodes), nodes
        family = index_family(db, "ix_sta_observations_datastream_time")
        assert any(n.get("Index Name") in family for n in nodes), nodes
        read = _observations_read(nodes)
        # partitions (migration 0012): a Merge Append may pull one row ahead from each partition
        partitions = max(1, len(family) - 1)
        assert read <= parents * (top + skip + 1 + partitions - 1), (read, nodes)
        assert read < 2 * parents * (top + skip + 1) < 1500
    else:
        plan = explain(db, statement, parameters)
        seeks = [line for line in plan if "USING INDEX ix_sta_observations_datastream_time (datastream_id=?)"
                 in line or "USING COVERING INDEX ix_sta_observations_datastream_time (datastream_id=?)" in line]
        assert len(seeks) == parents, plan
        assert not any(line.startswith("SCAN sta_observations") for line in plan), plan
        assert not any("TEMP B-TREE" in line for line in plan), plan
