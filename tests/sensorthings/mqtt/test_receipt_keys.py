"""Idempotency keys of MQTT creates belong to their publisher."""

from __future__ import annotations

from stadslab.core.auth import Principal
from stadslab.sensorthings.mqtt.receipts import receipt_key


def _org_token(token_id: int) -> Principal:
    return Principal(user_id=None, organisation_id=7, role="editor", via="token", token_id=token_id)


def test_two_organisation_tokens_reusing_a_key_do_not_collide():
    """Organisation tokens have no user: before, both keyed on ``None`` and the second gateway's
    create was taken for a redelivery of the first and dropped."""
    props = {"idempotency-key": "meting-1"}
    body = {"result": 1}
    a = receipt_key(_org_token(1), "t", b"{}", body, props)
    b = receipt_key(_org_token(2), "t", b"{}", body, props)
    assert a and b and a != b
    assert receipt_key(_org_token(1), "t", b"{}", body, props) == a  # a redelivery still matches


def test_a_users_keys_are_the_users_whatever_token_they_use():
    props = {"idempotency-key": "meting-1"}
    one = Principal(user_id=3, organisation_id=7, role="editor", via="token", token_id=1)
    two = Principal(user_id=3, organisation_id=7, role="editor", via="token", token_id=2)
    assert receipt_key(one, "t", b"{}", {}, props) == receipt_key(two, "t", b"{}", {}, props)
