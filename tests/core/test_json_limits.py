"""``core.json_limits``: the bounds on stored JSON, named by field and limit (no database needed)."""

from __future__ import annotations

import json

import pytest

from stadslab.core.errors import BadRequest
from stadslab.core.json_limits import JsonLimits, check_value, loads

LIMITS = JsonLimits(max_depth=32, max_bytes=1000)


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_depth_at_the_limit_passes_and_one_more_is_a_400_naming_field_and_limit():
    check_value(nested(32), ["result"], LIMITS)
    with pytest.raises(BadRequest) as info:
        check_value(nested(241), ["Datastreams", 0, "Observations", 2, "result"], LIMITS)
    assert info.value.detail == "Datastreams.0.Observations.2.result: nesting depth 241 exceeds the limit of 32"
    assert info.value.errors[0]["field"] == "Datastreams.0.Observations.2.result"


def test_objects_count_like_arrays_and_far_deeper_input_never_exhausts_the_stack():
    deep: object = {}
    for _ in range(50_000):
        deep = {"a": deep}
    with pytest.raises(BadRequest, match="properties: nesting depth 50001 exceeds the limit of 32"):
        check_value(deep, ["properties"], LIMITS)


def test_size_is_bounded_per_field():
    check_value({"x": "a" * 900}, ["parameters"], LIMITS)
    with pytest.raises(BadRequest, match="parameters: is 1008 bytes of JSON, more than the limit of 1000"):
        check_value({"x": "a" * 1000}, ["parameters"], LIMITS)
    with pytest.raises(BadRequest, match="result: is longer than the limit of 1000 bytes"):
        check_value("a" * 1001, ["result"], LIMITS)


@pytest.mark.parametrize("value, where", [
    ("a\ud800", "result"), ({"k": ["ok", "b\udfff"]}, "result.k.1"), ({"\ud83d": 1}, "result.\\ud83d"),
    ("nul\x00", "result"), ({"k": "x\x00"}, "result.k"),
])
def test_lone_surrogates_and_nul_anywhere_in_the_value_are_refused(value, where):
    with pytest.raises(BadRequest) as info:
        check_value(value, ["result"], LIMITS)
    assert info.value.errors[0]["field"] == where
    assert "surrogate" in info.value.detail or "U+0000" in info.value.detail


def test_scalars_and_valid_unicode_pass():
    for value in (1, 2.5, True, None, "fiets 🚲", {"emoji": "🚲", "n": [1, 2, {"x": None}]}):
        check_value(value, ["result"], LIMITS)


def test_loads_refuses_a_lone_surrogate_anywhere_but_reads_escaped_pairs():
    assert loads(json.dumps({"name": "fiets 🚲"}).encode()) == {"name": "fiets 🚲"}  # \ud83d\udeb2 escaped
    with pytest.raises(BadRequest) as info:
        loads(b'{"Datastreams": [{"name": "a\\ud800b"}]}')
    assert info.value.errors[0]["field"] == "Datastreams.0.name"
    with pytest.raises(BadRequest, match="surrogate"):
        loads(b'{"\\udc00": 1}')
    with pytest.raises(BadRequest, match="Malformed JSON"):
        loads(b'{"a": ')
    with pytest.raises(BadRequest, match="required"):
        loads(b"")
