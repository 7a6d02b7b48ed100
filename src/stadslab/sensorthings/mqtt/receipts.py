"""Ingest receipts: what makes an at-least-once MQTT create an exactly-once Observation.

The server acknowledges a QoS 1 publish (PUBACK) only after the Observation is
committed, so a worker that dies in between gets the message again from the
broker. The receipt, written in the same transaction as the Observation, turns
that redelivery (and a publisher's own retry) into a no-op.

The key is a SHA-256 over the publishing account and either

* the publisher's MQTT 5 user property ``idempotency-key`` (``KEY_PROPERTY``):
  exact, and the only way to make a deliberate retry of a changed payload safe; or
* the topic and the payload bytes, when the payload states its ``phenomenonTime``:
  a redelivery is byte-identical, and so is, by definition, a true duplicate
  measurement. Without ``phenomenonTime`` the server stamps the time itself, so
  two identical payloads are two measurements: no content key is made and such
  creates are at-least-once (a redelivery may store a second Observation).

Only the digest is stored, never the key or the payload (which may hold personal
data). Receipts older than ``ingest_receipt_retention_hours`` are pruned.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from stadslab.core.auth import Principal
from stadslab.core.database import Base, utcnow
from stadslab.core.errors import BadRequest

#: MQTT 5 user property with the publisher's idempotency key (name compared case-insensitively).
KEY_PROPERTY = "idempotency-key"
MAX_KEY_LENGTH = 256


class IngestReceipt(Base):
    __tablename__ = "sta_ingest_receipts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    via: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    observations: Mapped[int] = mapped_column(Integer, default=0)


def receipt_key(principal: Principal, topic: str, payload: bytes, body: dict,
                user_properties: dict[str, str]) -> str | None:
    """The idempotency key of one create, or ``None`` when it cannot be told apart from a new one."""
    given = next((v for k, v in user_properties.items() if k.lower() == KEY_PROPERTY), None)
    # whose key it is: the user, or for an organisation's token (no user) the token itself, so
    # that two gateways of one organisation reusing a key do not take each other's creates
    who = (f"{principal.user_id}" if principal.user_id is not None else f"token:{principal.token_id}").encode()
    if given is not None:
        if not given.strip() or len(given) > MAX_KEY_LENGTH:
            raise BadRequest(f"user property '{KEY_PROPERTY}' must be 1 to {MAX_KEY_LENGTH} characters")
        material = b"key\0" + who + b"\0" + given.encode()
    elif body.get("phenomenonTime") is not None:
        material = b"msg\0" + who + b"\0" + topic.encode() + b"\0" + payload
    else:
        return None
    return hashlib.sha256(material).hexdigest()


def seen(session: Session, key: str) -> bool:
    return session.scalar(select(IngestReceipt.key).where(IngestReceipt.key == key)) is not None


def claim(session: Session, key: str, via: str) -> IngestReceipt:
    """Insert the receipt before the Observation: a concurrent twin then fails on the key."""
    receipt = IngestReceipt(key=key, via=via)
    session.add(receipt)
    session.flush()
    return receipt


def prune(session: Session, retention_hours: int) -> int:
    cutoff = utcnow() - timedelta(hours=retention_hours)
    result = session.execute(delete(IngestReceipt).where(IngestReceipt.received_at < cutoff))
    session.commit()
    return result.rowcount or 0
