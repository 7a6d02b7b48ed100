"""Compiler: real SQL on SQLite and PostgreSQL against the test schema (see conftest.py).

Each case states which rows must match; the same expectation holds on both
dialects, which is the point: one filter, one meaning.
"""

from __future__ import annotations

import inspect
import sys
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from stadslab.sensorthings.filter import (DEFAULT_MAX_DEPTH, FilterCompileError, FilterSyntaxError,
                                          compile_filter, parse_filter)

from .conftest import ThingResolver, things

ALL_OBS = list(range(1, 10))

# --- observations: JSON results of every kind -------------------------------------------------

RESULT_CASES = [
    ("result gt 5", [1]),
    ("result ge 3.5", [1, 2]),
    ("result lt 0", [9]),
    ("result eq 7", [1]),
    ("result eq 7.0", [1]),
    ("result ne 7", [2, 3, 4, 5, 6, 7, 8, 9]),
    ("result eq '12'", [3]),             # a string literal only meets string results
    ("result eq 12", []),                # ...and a number literal only numbers
    ("result gt 'a'", [8]),
    ("result ge '1'", [3, 8]),
    ("result eq true", [4]),
    ("result eq false", []),
    ("result ne true", [1, 2, 3, 5, 6, 7, 8, 9]),
    ("result eq null", [7]),
    ("result ne null", [1, 2, 3, 4, 5, 6, 8, 9]),
    ("null eq result", [7]),
    ("result gt null", []),
    ("result/pm10 eq 20", [5]),
    ("result/pm25 lt 10 and result/pm10 gt 10", [5]),
    ("result/missing eq null", ALL_OBS),
    ("result[1] eq 2", [6]),
    ("3 in result", [6]),
    ("'x' in result", []),
    ("result in (7, 3.5)", [1, 2]),
    ("result in ('12', 'abc')", [3, 8]),
    ("result in (7, 'abc')", [1, 8]),
    ("result add 1 eq 8", [1]),
    ("result sub 1 gt 2", [1, 2]),
    ("result mul 2 eq 7", [2]),
    ("result div 2 eq 3.5", [1]),
    ("result divby 2 eq -1", [9]),
    ("result mod 2 eq 1", [1]),
    ("result mod 2 eq 1.5", [2]),
    ("-result eq 2", [9]),
    ("result div 0 eq 1 or result mod 0 eq 1", []),   # division by zero: null, never an error
    ("round(result) eq 4", [2]),
    ("floor(result) eq 3 or ceiling(result) eq -2", [2, 9]),
    ("parameters/quality eq 'good'", [1]),
    ("parameters/quality ne 'good'", [2, 3, 4, 5, 6, 7, 8, 9]),
    ("parameters/n ge 3", [1]),
    ("parameters/a/b eq 1", [4]),
    ("parameters eq null", [3, 5, 6, 7, 8, 9]),
    ("parameters/quality in ('good', 'bad')", [1, 2]),
]


@pytest.mark.parametrize("text,expected", RESULT_CASES)
def test_json_results(fdb, text, expected):
    assert fdb.obs(text) == expected


@pytest.mark.parametrize("text,expected", [c for c in RESULT_CASES if c[0].startswith("result")])
def test_shadow_columns_give_the_same_answers(fdb, text, expected):
    assert fdb.obs(text, shadow=True) == expected


# --- time: instants, intervals, functions -----------------------------------------------------

NOW = datetime(2024, 1, 1, 12, 30, tzinfo=timezone.utc)

TIME_CASES = [
    ("phenomenonTime ge 2024-01-01T11:00:00Z", [2, 3, 4, 5, 7, 8]),
    ("phenomenonTime gt 2024-01-01T11:00:00Z", [3, 4, 5, 7, 8]),
    ("phenomenonTime lt 2024-01-01T10:30:00Z", [1, 6, 9]),
    ("phenomenonTime le 2024-01-01T10:00:00Z", [1, 6, 9]),
    ("phenomenonTime eq 2024-01-01T11:30:00Z", [2]),
    ("phenomenonTime eq 2024-01-01T10:00:00Z", [1, 9]),
    ("phenomenonTime ne 2024-01-01T10:00:00Z", [2, 3, 4, 5, 6, 7, 8]),
    ("phenomenonTime eq 2024-01-01T11:00:00Z/2024-01-01T12:00:00Z", [2]),
    ("phenomenonTime gt 2024-01-01T00:00:00Z/2024-01-31T00:00:00Z", [4, 7]),
    ("phenomenonTime ge 2024-01-02", [3, 4, 7]),
    ("phenomenonTime eq 2024-01-01T12:00:00+01:00", [2]),       # 11:00 UTC
    ("resultTime eq null", [2, 3, 4, 5, 6, 7, 8, 9]),
    ("resultTime gt 2024-01-01T10:00:00Z", [1]),
    ("resultTime eq 2024-01-01T11:00:05+01:00", [1]),
    ("before(phenomenonTime, 2024-01-01T10:00:00Z)", [6]),
    ("after(phenomenonTime, 2024-01-01T12:00:00Z)", [3, 4, 7]),
    ("meets(phenomenonTime, 2024-01-01T12:00:00Z/2024-01-01T14:00:00Z)", [2, 5]),
    ("during(phenomenonTime, 2024-01-01T00:00:00Z/2024-01-01T12:00:00Z)", [1, 2, 5, 9]),
    ("during(2024-01-01T11:15:00Z, phenomenonTime)", [2]),
    ("overlaps(phenomenonTime, 2024-01-01T11:30:00Z/2024-01-01T12:30:00Z)", [2, 5, 8]),
    ("starts(phenomenonTime, 2024-01-01T11:00:00Z/2024-01-01T15:00:00Z)", [2]),
    ("finishes(phenomenonTime, 2024-01-01T08:00:00Z/2024-01-01T10:00:00Z)", [1, 9]),
    ("after(resultTime, phenomenonTime)", [1]),
    ("before(phenomenonTime, 2024-02-15)", [1, 2, 3, 5, 6, 8, 9]),
    ("year(phenomenonTime) eq 2023", [6]),
    ("month(phenomenonTime) eq 2", [4]),
    ("day(phenomenonTime) eq 2", [3]),
    ("hour(phenomenonTime) eq 11", [2]),
    ("minute(phenomenonTime) eq 0 and second(phenomenonTime) eq 0", ALL_OBS),
    ("fractionalseconds(phenomenonTime) eq 0.25", [6]),
    ("fractionalseconds(phenomenonTime) gt 0", [6]),
    ("date(phenomenonTime) eq 2024-01-01", [1, 2, 5, 8, 9]),
    ("time(phenomenonTime) ge 12:00:00", [5, 6, 8]),
    ("time(phenomenonTime) eq time(2024-06-01T23:00:00.25Z)", [6]),
    ("totaloffsetminutes(phenomenonTime) eq 0", ALL_OBS),
    ("totaloffsetminutes(2024-01-01T00:00:00+02:00) eq 120", ALL_OBS),
    ("hour(2024-01-01T01:00:00+02:00) eq 23 and year(2024-01-01T01:00:00+02:00) eq 2023", ALL_OBS),
    ("phenomenonTime gt now()", [3, 4, 7]),
    ("phenomenonTime ge now() sub duration'PT1H'", [3, 4, 5, 7, 8]),
    ("phenomenonTime add duration'PT1H' gt 2024-01-01T12:30:00Z", [3, 4, 5, 7, 8]),
    ("resultTime sub duration'PT5S' eq 2024-01-01T10:00:00Z", [1]),
    ("resultTime sub 2024-01-01T10:00:00Z eq duration'PT5S'", [1]),
    ("phenomenonTime gt mindatetime() and phenomenonTime lt maxdatetime()", ALL_OBS),
    ("maxdatetime() add duration'P1D' gt now()", None),     # folds out of range: a 400
]


@pytest.mark.parametrize("text,expected", TIME_CASES)
def test_time(fdb, text, expected):
    if expected is None:
        with pytest.raises(FilterCompileError, match="out of range"):
            fdb.obs(text, now=NOW)
        return
    assert fdb.obs(text, now=NOW) == expected


def test_now_defaults_to_the_current_time(fdb):
    assert fdb.obs("phenomenonTime lt now()") == ALL_OBS
    assert fdb.obs("phenomenonTime gt now()") == []


def test_to_one_navigation(fdb):
    assert fdb.obs("Thing/name eq 'Geluidsmeter Coolsingel'") == [4, 5, 6, 7]
    assert fdb.obs("Thing/properties/owner eq 'Gemeente Amsterdam'") == [1, 2, 3, 8, 9]
    assert fdb.obs("Thing/active eq true and result gt 0") == [1, 2]
    assert fdb.obs("st_within(Thing/location, geography'POLYGON((4 52, 5 52, 5 53, 4 53, 4 52))')") \
        == [1, 2, 3, 8, 9]


# --- things: plain columns, JSON properties, strings, math, geometry --------------------------

THING_CASES = [
    ("name eq 'Luchtmeter Dam'", [1]),
    ("name ne 'Luchtmeter Dam'", [2, 3]),
    ("name gt 'H'", [1, 3]),
    ("name lt 'Z'", [1, 2]),
    ("name gt 'ZOË'", [3]),
    ("name eq description", []),
    ("description eq null", [3]),
    ("description ne null", [1, 2]),
    ("not (description eq 'x')", [1, 2, 3]),
    ("not (description ne 'x')", []),
    ("description eq 'Noise (dB) at ''Coolsingel'''", [2]),
    ("active eq true", [1]),
    ("active eq false", [2]),
    ("active ne true", [2, 3]),
    ("active", [1]),
    ("not active", [2, 3]),
    ("installed ge 2022-01-01", [2]),
    ("installed eq 2021-03-01", [1]),
    ("year(installed) eq 2022 and month(installed) eq 7 and day(installed) eq 15", [2]),
    ("date(created) eq 2022-07-15", [2]),
    ("created gt 2022-07-15T23:59:58Z", [2]),
    ("created eq 2021-03-01T09:30:00+01:00", [1]),
    ("minute(created) eq 30", [1]),
    ("second(created) eq 59", [2]),
    ("created sub 2021-03-01T08:00:00Z eq duration'PT30M'", [1]),
    ("id eq '1'", [1]),
    ("id in (1, 3)", [1, 3]),
    ("id in ('2')", [2]),
    ("id add 1 eq 3", [2]),
    ("id div 2 eq 1", [2, 3]),              # integer division for integers
    ("id divby 2 eq 1.5", [3]),
    ("id mod 2 eq 1", [1, 3]),
    ("5 div 2 eq 2 and -5 div 2 eq -2 and 7 mod 3 eq 1 and 5 divby 2 eq 2.5", [1, 2, 3]),
    ("9223372036854775807 add 1 gt 0 and 9223372036854775807 mul 9223372036854775807 gt 0", [1, 2, 3]),
    ("properties/owner eq 'Gemeente Amsterdam'", [1]),
    ("properties/height gt 4", [2]),
    ("properties/height eq 3.5", [1]),
    ("properties/public eq true", [1]),
    ("properties/public eq false", [2]),
    ("properties/public", [1]),
    ("properties/missing eq null", [1, 2, 3]),
    ("properties eq null", [3]),
    ("properties/owner ne null", [1, 2]),
    ("properties/nested/level eq 2", [1]),
    ("properties/tags[0] eq 'noise'", [2]),
    ("'no2' in properties/tags", [1]),
    ("'noise' in properties/tags", [2]),
    ("'x' in properties/tags", []),
    ("'Gemeente Amsterdam' in properties/owner", []),   # not an array
    ("properties/owner in ('Gemeente Rotterdam', 'x')", [2]),
    ("properties/floors in (4, 5)", [1]),
    ("properties/since lt 2022-01-01T00:00:00Z", [1]),      # JSON text vs an instant
    ("properties/since eq 2022-07-15T14:00:00+02:00", [2]),
    ("properties/floors gt properties/height", [1]),
    ("properties/height eq properties/height", [1, 2, 3]),    # null eq null is true (OData)
    ("properties/height ne properties/floors", [1, 2]),
    ("properties/owner eq properties/nested/missing", [3]),
    ("properties/owner eq name", []),                  # a string member never equals another
    ("properties/height eq id", []),
    ("properties/nested/missing eq description", [3]),  # absent meets null
    ("substringof('Dam', name)", [1]),
    ("contains(description, 'Coolsingel')", [2]),
    ("contains(name, 'dam')", []),                      # case-sensitive on both dialects
    ("startswith(name, 'Gel')", [2]),
    ("startswith(name, '')", [1, 2, 3]),
    ("endswith(name, 'meer')", [3]),
    ("endswith(name, '')", [1, 2, 3]),
    ("endswith(name, 'XLuchtmeter Dam')", []),
    ("length(name) eq 13", [3]),                        # characters, not bytes
    ("length(name) eq 14", [1]),
    ("indexof(name, 'meter') eq 5", [1]),
    ("indexof(name, 'xyz') eq -1", [1, 2, 3]),
    ("substring(name, 11) eq 'Dam'", [1]),
    ("substring(name, 0, 3) eq 'Gel'", [2]),
    ("substring(name, 100) eq ''", [1, 2, 3]),
    ("substring(name, 1, -1) eq ''", [1, 2, 3]),
    ("substring(name, 99999999999999, 99999999999999) eq ''", [1, 2, 3]),
    ("tolower(name) eq 'zoë ĳsselmeer'", [3]),
    ("toupper(name) eq 'ZOË ĲSSELMEER'", [3]),
    ("tolower(properties/owner) eq 'gemeente rotterdam'", [2]),
    ("trim(concat('  ', name)) eq name", [1, 2, 3]),
    ("concat(concat(name, ' - '), properties/owner) eq 'Luchtmeter Dam - Gemeente Amsterdam'", [1]),
    ("round(properties/height) eq 4", [1]),
    ("round(properties/height mul -1) eq -4", [1]),
    ("floor(properties/height) eq 3", [1]),
    ("ceiling(properties/height) eq 5", [2]),
    ("round(2.5) eq 3 and round(-2.5) eq -3 and floor(-0.5) eq -1 and ceiling(0.2) eq 1", [1, 2, 3]),
    ("st_within(location, geography'POLYGON((4 52, 5 52, 5 53, 4 53, 4 52))')", [1]),
    ("geo.intersects(location, geography'POLYGON((4.4 51.9, 4.5 51.9, 4.5 51.95, 4.4 51.95, 4.4 51.9))')",
     [2]),                                              # a GeoJSON Feature is read too
    ("st_intersects(location, geography'LINESTRING(5.25 52.0, 5.25 53.0)')", [3]),
    ("st_crosses(location, geography'LINESTRING(5.25 52.0, 5.25 53.0)')", [3]),
    ("st_disjoint(location, geography'POLYGON((4 52, 5 52, 5 53, 4 53, 4 52))')", [2]),  # 3 touches
    ("st_equals(location, geography'POINT(4.893 52.3731)')", [1]),
    ("st_contains(geometry'POLYGON((4 52, 5 52, 5 53, 4 53, 4 52))', location)", [1]),
    ("st_touches(location, geography'POINT(5 52.5)')", [3]),
    ("st_overlaps(geography'POLYGON((0 0, 2 0, 2 2, 0 2, 0 0))', "
     "geography'POLYGON((1 1, 3 1, 3 3, 1 3, 1 1))')", [1, 2, 3]),
    ("st_relate(location, geography'POLYGON((4 52, 5 52, 5 53, 4 53, 4 52))', 'T*F**F***')", [1]),
    ("geo.distance(location, geography'POINT(4.4777 51.9225)') lt 0.001", [2]),
    ("geo.distance(location, geography'POINT(4.4777 51.9225)') gt 0", [1, 3]),
    ("geo.length(location) gt 0.5", [3]),
    ("geo.length(location) eq 0", [1, 2]),
    ("st_within(properties/spot, geography'POLYGON((4 52, 5 52, 5 53, 4 53, 4 52))')", [1]),
    ("st_within(location, geography'SRID=4326;POLYGON((4 52, 5 52, 5 53, 4 53, 4 52))')", [1]),
    ("Observations/any(o: o/result gt 5)", [1]),
    ("Observations/any()", [1, 2]),
    ("Observations/all(o: o/phenomenonTime ge 2024-01-01T00:00:00Z)", [1, 3]),
    ("Observations/any(o: o/result eq true)", [2]),
    ("Observations/any(o: o/result gt properties/height)", [1]),    # outer property inside
    ("Observations/any(o: o/Thing/name eq name)", [1, 2]),
    ("not Observations/any(o: o/result eq null)", [1, 3]),
    ("Observations/any(o: o/result gt 5) and Observations/any(p: p/result eq '12')", [1]),
    ("Observations/any(x: x/result gt 5) or name eq 'ZOË Ĳsselmeer'", [1, 3]),
    ("Observations/any(o: o/Siblings/any(s: s/result eq true) and o/result eq null)", [2]),
    ("Observations/any(o: o/Siblings/any(s: s/result gt o/result))", [1]),
]


@pytest.mark.parametrize("text,expected", [c for c in THING_CASES if c[1] is not None])
def test_things(fdb, text, expected):
    assert fdb.things(text) == expected


# --- injection attempts -----------------------------------------------------------------------

INJECTIONS = [
    ("name eq 'x'' or 1=1 --'", []),
    ("name eq 'Luchtmeter Dam''; DROP TABLE flt_things; --'", []),
    ("name eq 'Luchtmeter Dam' or name eq ''') OR 1=1 --'", [1]),
    ("properties/owner eq '1'' OR ''1''=''1'", []),
    ("contains(name, '%') or startswith(name, '_') or endswith(name, '\\')", []),
    ("'x'' OR 1=1)--' in properties/tags", []),
    ("st_within(location, geography'POINT(1 1)') or name eq ';DROP TABLE flt_things'", []),
]


@pytest.mark.parametrize("text,expected", INJECTIONS)
def test_injection_attempts_are_just_strings(fdb, text, expected):
    assert fdb.things(text) == expected
    assert fdb.conn.execute(select(func.count()).select_from(things)).scalar_one() == 3


@pytest.mark.parametrize("text", ["name eq 'x';DROP TABLE flt_things", ";DROP TABLE flt_things",
                                  "name eq 'x' -- comment", "properties/owner') OR 1=1 --",
                                  "name eq \"x\" or 1=1"])
def test_injection_outside_strings_is_a_syntax_error(fdb, text):
    with pytest.raises(FilterSyntaxError):
        fdb.things(text)
    assert fdb.conn.execute(select(func.count()).select_from(things)).scalar_one() == 3


@pytest.mark.parametrize("dialect,sa_dialect", [("sqlite", sqlite.dialect()),
                                                ("postgresql", postgresql.dialect())])
def test_user_values_only_ever_reach_sql_as_bound_parameters(dialect, sa_dialect):
    evil = "x'; DROP TABLE flt_things; --"
    text = (f"name eq '{evil.replace(chr(39), chr(39) * 2)}' or properties/owner eq 'EVIL1' "
            "or st_within(location, geography'POINT(1.5 2.5)') or 'EVIL2' in properties/tags "
            "or st_relate(location, location, 'T********') or created gt 2024-05-06T07:08:09Z")
    where = compile_filter(text, ThingResolver(dialect))
    compiled = select(things.c.id).where(where).compile(dialect=sa_dialect)
    sql = str(compiled)
    for fragment in ("DROP", "EVIL1", "EVIL2", "1.5 2.5", "T********", "2024-05-06"):
        assert fragment not in sql
    params = [str(v) for v in compiled.params.values()]
    assert evil in params and "EVIL1" in params and "EVIL2" in params


# --- compile errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("text,column,fragment", [
    ("nope eq 1", 1, "unknown property 'nope'"),
    ("properties/owner eq 1 and Thing/name eq 'x'", 27, "unknown property 'Thing/name'"),
    ("name eq 5", 6, "cannot compare a string with a number"),
    ("id eq 'one'", 4, "cannot compare a number with the string 'one'"),
    ("name add 1 eq 2", 6, "cannot add a string and a number"),
    ("year(name) eq 1", 1, "year() needs a date-time"),
    ("st_within(name, geography'POINT(1 1)')", 11, "expected a geometry"),
    ("st_relate(location, location, 'XYZ')", 31, "DE-9IM pattern"),
    ("location eq geography'POINT(1 1)'", 10, "use st_equals()"),
    ("name", 1, "expected a condition"),
    ("name/any(x: x eq 1)", 1, "not a collection"),
    ("Observations/any(o: o/nope eq 1)", 21, "unknown property 'o/nope'"),
    ("active gt false", 8, "cannot be ordered"),
    ("during(name, created)", 8, "compares date-times or time intervals"),
    ("startswith(id, 'a')", 12, "expected a string"),
    ("name in properties/owner/x and id in name", 38, "must be a list"),
])
def test_compile_errors_name_the_column(text, column, fragment):
    with pytest.raises(FilterCompileError) as err:
        compile_filter(text, ThingResolver("sqlite"))
    assert fragment in err.value.message, err.value.message
    assert err.value.column == column, err.value.detail
    assert err.value.status == 400


def test_spatial_can_be_switched_off_for_a_database_without_postgis():
    resolver = ThingResolver("postgresql")
    resolver.spatial = False
    with pytest.raises(FilterCompileError, match="not available") as err:
        compile_filter("name eq 'x' and st_within(location, geography'POINT(1 1)')", resolver)
    assert err.value.column == 17
    compile_filter("name eq 'x'", resolver)


# --- depth: the deepest accepted filter compiles, and runs or is refused with a 400 ----------

DEEP = [
    lambda k: "not " * (k - 2) + "name eq 'x'",
    lambda k: "(" * k + "id" + " add 1)" * k + " gt 0",
    lambda k: "Observations/any(o: " + "round(" * (k - 5) + "o/result" + ")" * (k - 5) + " gt 0)",
    lambda k: "length(" + "trim(" * (k - 3) + "name" + ")" * (k - 2) + " gt 0",
    lambda k: "length(" + "substring(" * (k - 3) + "name" + ", id)" * (k - 3) + ") gt 0",
]


def _deepest(build):
    k = DEFAULT_MAX_DEPTH + 2
    while True:
        try:
            parse_filter(build(k))
            return k
        except FilterSyntaxError:
            k -= 1


@pytest.mark.parametrize("build", DEEP)
def test_deepest_accepted_filter_runs_or_is_refused_cleanly(fdb, build):
    k = _deepest(build)
    assert k >= DEFAULT_MAX_DEPTH - 6
    try:
        fdb.things(build(k))
    except FilterCompileError as err:  # SQLite's parser stack is small: a 400, never a 500
        assert fdb.dialect == "sqlite" and "nests too deeply" in err.message


@pytest.mark.parametrize("dialect,sa_dialect", [("sqlite", sqlite.dialect()),
                                                ("postgresql", postgresql.dialect())])
@pytest.mark.parametrize("build", DEEP)
def test_deepest_filter_leaves_stack_to_spare(build, dialect, sa_dialect):
    """Compiling and rendering the deepest accepted filter fits in 600 Python frames."""
    text = build(_deepest(build))
    budget = len(inspect.stack()) + 600
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(budget)
    try:
        where = compile_filter(text, ThingResolver(dialect))
        str(select(things.c.id).where(where).compile(dialect=sa_dialect))
    except FilterCompileError as err:
        assert dialect == "sqlite" and "nests too deeply" in err.message
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.parametrize("build", DEEP)
def test_moderately_deep_filters_run_on_both_dialects(fdb, build):
    fdb.things(build(12))


def test_nested_not_is_cheap_for_sqlite(fdb):
    text = "not " * 29 + "name eq 'x'"
    assert fdb.things(text) == [1, 2, 3]


def test_long_flat_and_chain_runs(fdb):
    text = " and ".join(f"id ne {i}" for i in range(10, 400))
    assert fdb.things(text) == [1, 2, 3]
