"""Hypothesis strategies: arbitrary syntax trees, token soup, and well-typed filters for the test schema."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

from stadslab.sensorthings.filter import ast as A
from stadslab.sensorthings.filter.functions import FUNCTIONS

RESERVED = {"true", "false", "null", "not"}
VARIABLES = [f"v{i}" for i in range(6)]
WKT = ["POINT(4.9 52.37)", "POINT (1 2)", "LINESTRING(0 0, 1 1, 2 0)",
       "POLYGON((4 52, 5 52, 5 53, 4 53, 4 52))", "POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))",
       "MULTIPOINT((0 0), (1 1))", "POINT EMPTY"]

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s.lower() not in RESERVED and s not in VARIABLES)

zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5)),
                         timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(minutes=-30))])
instants = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31),
                        timezones=zones)


@st.composite
def intervals(draw):
    a, b = draw(instants), draw(instants)
    return A.IntervalLit(*sorted((a, b)))


decimals = st.decimals(min_value=Decimal("-1e300"), max_value=Decimal("1e300"), allow_nan=False,
                       allow_infinity=False).filter(lambda d: d == 0 or d.copy_abs() >= Decimal("1e-300"))

paths = st.tuples(names, st.lists(st.one_of(names, st.integers(0, 50)), max_size=3)).map(
    lambda t: (t[0], *t[1]))

literals = st.one_of(
    st.text(max_size=12).map(A.StringLit),
    st.integers(-(2**63 - 1), 2**63 - 1).map(A.NumberLit),
    decimals.map(A.NumberLit),
    st.booleans().map(A.BoolLit),
    st.just(A.NullLit()),
    instants.map(A.DateTimeLit),
    st.dates().map(A.DateLit),
    st.times().map(A.TimeLit),
    st.timedeltas(min_value=timedelta(days=-10**6), max_value=timedelta(days=10**6)).map(A.DurationLit),
    intervals(),
    st.tuples(st.sampled_from(["geography", "geometry"]), st.sampled_from(WKT)).map(
        lambda t: A.GeometryLit(*t)),
)

properties = paths.map(lambda p: A.Property(p))


def _extend(children):
    two = st.tuples(children, children)
    functions = st.sampled_from(sorted(FUNCTIONS)).flatmap(
        lambda name: st.lists(children, min_size=FUNCTIONS[name].min_args,
                              max_size=FUNCTIONS[name].max_args).map(
            lambda args, name=name: A.Function(name, tuple(args))))
    lambdas = st.builds(
        lambda kind, coll, var, path, lit, rest: A.Lambda(
            kind, A.Property(coll), var,
            A.And((A.Compare("eq", A.Property(path, var), lit), rest))),
        st.sampled_from(["any", "all"]), paths, st.sampled_from(VARIABLES), paths, literals, children)
    return st.one_of(
        st.builds(lambda op, lr: A.Compare(op, *lr), st.sampled_from(A.COMPARISON_OPS), two),
        st.builds(lambda op, lr: A.Arith(op, *lr), st.sampled_from(A.ARITHMETIC_OPS), two),
        children.map(A.Negate),
        children.map(A.Not),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: A.And(tuple(xs))),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: A.Or(tuple(xs))),
        st.builds(lambda left, items: A.In(left, A.ListExpr(tuple(items))), children,
                  st.lists(children, min_size=1, max_size=3)),
        st.builds(A.In, children, properties),
        functions,
        lambdas,
        paths.map(lambda p: A.Lambda("any", A.Property(p), None, None)),
    )


trees = st.recursive(st.one_of(literals, properties), _extend, max_leaves=25)


def well_scoped(node, scope=()) -> bool:
    """No reused lambda variable, and plain paths never start with a variable in scope."""
    if isinstance(node, A.Lambda):
        if not well_scoped(node.collection, scope):
            return False
        if node.variable is None:
            return True
        if node.variable in scope:
            return False
        return well_scoped(node.predicate, scope + (node.variable,))
    if isinstance(node, A.Property):
        if node.variable is not None:
            return node.variable in scope
        return node.path[0] not in scope
    return all(well_scoped(c, scope) for c in A.children(node))


FRAGMENTS = ["name", "result", " eq ", " ne ", " gt ", " and ", " or ", "not ", " in ", " add ",
             " div ", " mod ", "(", ")", ",", "'", "'x'", "''", "1", "-", "-1", "2.5e3", "/",
             "[0]", "any(", "all(", "d:", "d/", ":", "now()", "null", "true",
             "2024-01-01T00:00:00Z", "2024-01-01", "12:00", "/2024-02-01T00:00:00+01:00",
             "duration'P1D'", "duration'", "geography'POINT(1 2)'", "geography'", "startswith(",
             "geo.distance(", "st_relate(", "substring(", " ", "\t", "\u00e9", ";", "=", "--",
             "$", "@iot.id", "1e999", "99999999999999999999"]
token_soup = st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join)


# --- well-typed filters over the test schema (observations resolver) -------------------------

def _fn(name, *args):
    return A.Function(name, tuple(args))


small_numbers = st.one_of(st.integers(-5, 20), st.sampled_from([0, 2**63 - 1, -(2**63 - 1)]),
                          decimals)
obs_strings = st.sampled_from(["good", "bad", "12", "abc", "", "Luchtmeter Dam", "x' or 1=1 --"])
geoms = st.one_of(st.sampled_from(WKT[:6]).map(lambda w: A.GeometryLit("geography", w)),
                  st.just(A.Property(("Thing", "location"))))


def typed_trees():
    num_leaf = st.one_of(small_numbers.map(A.NumberLit),
                         st.sampled_from([("result",), ("id",), ("parameters", "n"),
                                          ("Thing", "properties", "height"), ("result", 1)])
                         .map(A.Property))
    str_leaf = st.one_of(obs_strings.map(A.StringLit),
                         st.sampled_from([("result",), ("parameters", "quality"), ("Thing", "name")])
                         .map(A.Property))
    dt_leaf = st.one_of(instants.map(A.DateTimeLit),
                        st.sampled_from([("resultTime",), ("phenomenonTime",)]).map(A.Property),
                        st.sampled_from(["now", "mindatetime", "maxdatetime"]).map(_fn))
    durations = st.timedeltas(min_value=timedelta(days=-10**6), max_value=timedelta(days=10**6)) \
        .map(A.DurationLit)

    def nums(inner_num, inner_str, inner_dt):
        return st.one_of(
            st.builds(lambda op, a, b: A.Arith(op, a, b), st.sampled_from(A.ARITHMETIC_OPS),
                      inner_num, inner_num),
            inner_num.map(A.Negate),
            st.sampled_from(["round", "floor", "ceiling"]).flatmap(
                lambda f: inner_num.map(lambda a, f=f: _fn(f, a))),
            inner_str.map(lambda a: _fn("length", a)),
            st.builds(lambda a, b: _fn("indexof", a, b), inner_str, inner_str),
            st.sampled_from(["year", "month", "day", "hour", "minute", "second",
                             "fractionalseconds", "totaloffsetminutes"]).flatmap(
                lambda f: inner_dt.map(lambda a, f=f: _fn(f, a))),
            st.builds(lambda a, b: _fn("geo.distance", a, b), geoms, geoms),
            geoms.map(lambda g: _fn("geo.length", g)),
        )

    def strs(inner_num, inner_str):
        return st.one_of(
            st.sampled_from(["tolower", "toupper", "trim"]).flatmap(
                lambda f: inner_str.map(lambda a, f=f: _fn(f, a))),
            st.builds(lambda a, b: _fn("concat", a, b), inner_str, inner_str),
            st.builds(lambda a, b: _fn("substring", a, b), inner_str, inner_num),
            st.builds(lambda a, b, c: _fn("substring", a, b, c), inner_str, inner_num, inner_num),
        )

    def dts(inner_dt):
        return st.builds(lambda op, a, d: A.Arith(op, a, d), st.sampled_from(["add", "sub"]),
                         inner_dt, durations)

    num = st.deferred(lambda: st.one_of(num_leaf, nums(num, string, dt)))
    string = st.deferred(lambda: st.one_of(str_leaf, strs(num, string)))
    dt = st.deferred(lambda: st.one_of(dt_leaf, dts(dt)))
    when = st.one_of(dt, intervals())

    def conds(inner):
        return st.one_of(
            st.builds(lambda op, a, b: A.Compare(op, a, b), st.sampled_from(A.COMPARISON_OPS),
                      num, num),
            st.builds(lambda op, a, b: A.Compare(op, a, b), st.sampled_from(A.COMPARISON_OPS),
                      string, string),
            st.builds(lambda op, a, b: A.Compare(op, a, b), st.sampled_from(A.COMPARISON_OPS),
                      when, when),
            st.builds(lambda op, a: A.Compare(op, a, A.NullLit()), st.sampled_from(["eq", "ne"]),
                      st.one_of(num, string, dt)),
            st.builds(lambda f, a, b: _fn(f, a, b),
                      st.sampled_from(["startswith", "endswith", "contains", "substringof"]),
                      string, string),
            st.builds(lambda f, a, b: _fn(f, a, b),
                      st.sampled_from(["geo.intersects", "st_equals", "st_disjoint", "st_touches",
                                       "st_within", "st_overlaps", "st_crosses", "st_intersects",
                                       "st_contains"]), geoms, geoms),
            st.builds(lambda a, b, p: _fn("st_relate", a, b, A.StringLit(p)), geoms, geoms,
                      st.sampled_from(["T*F**F***", "FF*FF****", "*********"])),
            st.builds(lambda f, a, b: _fn(f, a, b),
                      st.sampled_from(["before", "after", "meets", "during", "overlaps", "starts",
                                       "finishes"]), when, when),
            st.builds(lambda a, xs: A.In(a, A.ListExpr(tuple(xs))), num,
                      st.lists(num_leaf, min_size=1, max_size=3)),
            st.builds(lambda a, xs: A.In(a, A.ListExpr(tuple(xs))), string,
                      st.lists(str_leaf, min_size=1, max_size=3)),
            st.builds(lambda a: A.In(a, A.Property(("result",))), st.one_of(num_leaf, str_leaf)),
            st.builds(lambda op, b: A.Compare(op, A.Property(("result",)), A.BoolLit(b)),
                      st.sampled_from(["eq", "ne"]), st.booleans()),
            inner.map(A.Not),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: A.And(tuple(xs))),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: A.Or(tuple(xs))),
        )

    return st.recursive(st.just(A.BoolLit(True)), conds, max_leaves=8)
