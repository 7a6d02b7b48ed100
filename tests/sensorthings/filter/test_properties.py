"""Property-based tests: the parser fails only with FilterSyntaxError, unparse round-trips,
and well-typed filters compile to SQL that runs on both dialects without a database error."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from stadslab.sensorthings.filter import (FilterError, FilterSyntaxError, compile_filter,
                                          parse_filter, unparse)

from .conftest import ObservationResolver, observations
from .strategies import token_soup, trees, typed_trees, well_scoped


def _parse_or_syntax_error(text: str):
    try:
        return parse_filter(text)
    except FilterSyntaxError as exc:
        assert exc.status == 400
        assert exc.position is not None and 0 <= exc.position <= len(text)
        assert f"column {exc.column}" in exc.detail
        return None


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_filter_syntax_error(text):
    _parse_or_syntax_error(text)


@settings(max_examples=600, deadline=None)
@given(token_soup)
def test_token_soup_raises_only_filter_syntax_error(text):
    tree = _parse_or_syntax_error(text)
    if tree is not None:  # whatever parses must print back to the same tree
        assert parse_filter(unparse(tree), max_depth=500) == tree


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3000), st.sampled_from(["(", "not ", "-", "round(", "a/any(x: ", "'"]))
def test_hostile_nesting_never_overflows_the_stack(k, opener):
    _parse_or_syntax_error(opener * k + "a")


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_unparse_round_trips(tree):
    assume(well_scoped(tree))
    text = unparse(tree)
    again = parse_filter(text, max_length=10**6, max_depth=500)
    assert again == tree, text
    assert unparse(again) == text


@settings(max_examples=int(os.environ.get("FILTER_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tree=typed_trees())
def test_typed_filters_run_without_database_errors(fdb, tree):
    """Whatever compiles must execute: no SQL error (a 500) for any well-typed filter."""
    text = unparse(tree)
    for shadow in (False, True):
        try:
            where = compile_filter(text, ObservationResolver(fdb.dialect, shadow=shadow))
        except FilterError:
            return
        stmt = select(observations.c.id).where(where)
        with fdb.conn.begin_nested():
            fdb.conn.execute(stmt).all()
