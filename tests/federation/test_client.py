"""The peer client's retry schedule and record normalisation (pure functions, no database)."""

from __future__ import annotations

import pytest

from stadslab.federation.client import FetchPolicy, backoff_delays
from stadslab.federation.harvester import normalise_record


def test_backoff_is_exponential_and_capped():
    assert backoff_delays(FetchPolicy(retries=6, backoff=0.5, backoff_max=3.0)) == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff_delays(FetchPolicy(retries=1)) == []


def test_adoption_title_and_codes_come_from_nested_references():
    row = normalise_record("adoption", {"id": 4, "solution": {"id": 9, "name": "Slimme lantaarn"},
                                        "city": {"code": "GM0363", "name": "Amsterdam"}, "status": "adopted",
                                        "outcome": "Werkt goed", "updated_at": "2026-11-01T10:00:00"})
    assert row["title"] == "Slimme lantaarn in Amsterdam" and row["city_code"] == "GM0363"
    assert row["remote_id"] == "4" and row["summary"] == "Werkt goed"
    assert row["remote_updated_at"].tzinfo is not None  # naive peer times are read as UTC


@pytest.mark.parametrize("record, message", [
    (["a list"], "not a JSON object"),
    ({"id": True, "updated_at": "2026-01-01T00:00:00Z"}, "no valid id"),
    ({"id": 3, "updated_at": "yesterday"}, "updated_at"),
    ({"id": 3}, "updated_at"),
])
def test_bad_records_name_what_is_wrong(record, message):
    with pytest.raises(ValueError, match=message):
        normalise_record("project", record)
