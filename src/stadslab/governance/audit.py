"""The audit trail: an append-only, hash-chained record of every change.

``record`` joins the caller's unit of work and never commits, so an event exists
exactly when the change it describes does. Each event's hash is SHA-256 over the
canonical JSON of the event including the previous event's hash; ``verify_chain``
recomputes the chain and finds the first row that was altered, inserted or removed.

Writers are serialised on one row, ``audit_chain_head``: ``record`` starts with an
``UPDATE ... RETURNING`` of that row, which takes a row lock on PostgreSQL (held until
the caller commits) and the database write lock on SQLite. Two concurrent writers
therefore can never read the same previous hash.

Append-only is enforced in the database (triggers from migration 0004 reject UPDATE
and DELETE on audit_events on both dialects), and there is no update/delete API.

Personal data is kept out: actors are pseudonyms (``audit_actors``), and values of
known personal fields in before/after snapshots are withheld (``PERSONAL_KEYS``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Iterator

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.core.database import utcnow
from stadslab.core.errors import BadRequest

from .models import AuditActor, AuditChainHead, AuditEvent

GENESIS = "0" * 64
HEAD_ID = 1
#: Field names whose values are personal data: the audit trail records that they
#: changed, not what they were (the trail must outlive an erasure request).
PERSONAL_KEYS = frozenset({"email", "contact_email", "contact_name", "contact", "display_name", "password",
                           "password_hash", "phone", "telephone", "address"})
WITHHELD = "<personal data withheld>"
HASHED_FIELDS = ("seq", "at", "actor_type", "actor_ref", "actor_token_id", "organisation_id", "action",
                 "entity_type", "entity_id", "before", "after", "request_id", "prev_hash")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=str)
    return str(value)


def _withhold(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (WITHHELD if k in PERSONAL_KEYS and v not in (None, "") else _withhold(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_withhold(v) for v in value]
    return value


def snapshot(value: Any) -> Any:
    """A JSON value as the audit trail stores it: plain JSON types, personal fields withheld."""
    if value is None:
        return None
    return _withhold(json.loads(json.dumps(value, default=_default)))


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def at_text(at: datetime) -> str:
    """The event time as hashed: UTC, microseconds, no offset (SQLite drops the offset)."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def event_hash(fields: dict[str, Any]) -> str:
    body = {k: fields[k] for k in HASHED_FIELDS}
    body["at"] = at_text(body["at"])
    return hashlib.sha256(canonical_json(body)).hexdigest()


def pseudonym_for(session: Session, user_id: int, *, create: bool = True) -> str | None:
    """The audit pseudonym of a user (made on first use)."""
    found = session.scalar(select(AuditActor.pseudonym).where(AuditActor.user_id == user_id))
    if found or not create:
        return found
    pseudonym = secrets.token_hex(12)
    session.add(AuditActor(pseudonym=pseudonym, user_id=user_id))
    session.flush()
    return pseudonym


def _lock_head(session: Session) -> tuple[int, str]:
    """Advance the head by one and return (new seq, previous hash) under a lock."""
    head = AuditChainHead.__table__
    stmt = (update(head).where(head.c.id == HEAD_ID).values(seq=head.c.seq + 1)
            .returning(head.c.seq, head.c.hash))
    row = session.execute(stmt).first()
    if row is None:
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        session.execute(dialect_insert(head).values(id=HEAD_ID, seq=0, hash=GENESIS)
                        .on_conflict_do_nothing(index_elements=["id"]))
        row = session.execute(stmt).first()
    return int(row.seq), row.hash


def _actor(session: Session, principal: Principal) -> tuple[str, str | None, int | None]:
    if principal.user_id is not None:
        return "user", pseudonym_for(session, principal.user_id), principal.token_id
    if principal.token_id is not None:
        return "token", None, principal.token_id
    return ("system", None, None) if principal.via == "system" else ("anonymous", None, None)


def record(session: Session, principal: Principal, action: str, entity_type: str,
           entity_id: Any = None, before: Any = None, after: Any = None, *,
           request_id: str | None = None) -> AuditEvent:
    """Append one event to the caller's unit of work. Does not commit.

    ``before``/``after`` are JSON-able snapshots (dicts) of the entity; pass None for
    creation (before) or deletion (after). Call it after the change is flushed, in the
    same session, and commit as usual: the event is stored iff the change is.
    """
    from stadslab.core.security import current_request_id

    session.flush()
    actor_type, actor_ref, token_id = _actor(session, principal)  # before the lock: keep it short
    seq, prev_hash = _lock_head(session)
    fields = {
        "seq": seq, "at": utcnow(), "actor_type": actor_type, "actor_ref": actor_ref,
        "actor_token_id": token_id, "organisation_id": principal.organisation_id,
        "action": action[:60], "entity_type": entity_type[:60],
        "entity_id": None if entity_id is None else str(entity_id)[:100],
        "before": snapshot(before), "after": snapshot(after),
        "request_id": request_id or current_request_id(), "prev_hash": prev_hash,
    }
    fields["hash"] = event_hash(fields)
    head = AuditChainHead.__table__
    move_head = update(head).where(head.c.id == HEAD_ID).values(hash=fields["hash"])
    append = insert(AuditEvent.__table__).values(**fields)
    if session.get_bind().dialect.name == "postgresql":
        # One round trip while the head is locked: the event and the head move together.
        session.execute(move_head.add_cte(append.cte("appended")))
    else:
        session.execute(append)
        session.execute(move_head)
    return AuditEvent(**fields)


def verify_chain(session: Session, batch: int = 1000) -> tuple[bool, int | None]:
    """Recompute the chain. Returns (True, None) or (False, first bad seq).

    Catches a changed row (hash mismatch), a removed or inserted row (seq gap or
    prev_hash mismatch) and removed rows at the end (head ahead of the last row).
    """
    table = AuditEvent.__table__
    expected_seq, prev = 1, GENESIS
    stmt = select(*[table.c[name] for name in (*HASHED_FIELDS, "hash")]).order_by(table.c.seq)
    for row in session.execute(stmt.execution_options(yield_per=batch)).mappings():
        fields = dict(row)
        if fields["seq"] != expected_seq or fields["prev_hash"] != prev or event_hash(fields) != fields["hash"]:
            return False, min(fields["seq"], expected_seq)
        prev = fields["hash"]
        expected_seq += 1
    head = session.execute(select(AuditChainHead.seq, AuditChainHead.hash)
                           .where(AuditChainHead.id == HEAD_ID)).first()
    last_seq = expected_seq - 1
    if head is not None and (head.seq != last_seq or head.hash != prev):
        return False, last_seq + 1
    if head is None and last_seq > 0:
        return False, last_seq + 1
    return True, None


@dataclass
class AuditFilter:
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _actor_clause(session: Session, actor: str):
    table = AuditEvent.__table__
    kind, _, value = actor.partition(":")
    if kind in ("anonymous", "system") and not value:
        return table.c.actor_type == kind
    if kind in ("user", "token") and value:
        if not value.isdigit():
            raise BadRequest(f"actor must be user:<id>, token:<id>, anonymous, system or a pseudonym, "
                             f"got {actor!r}", errors=[{"loc": ["query", "actor"], "field": "query.actor",
                                                         "msg": "malformed actor"}])
        if kind == "token":
            return table.c.actor_token_id == int(value)
        pseudonym = pseudonym_for(session, int(value), create=False)
        return table.c.actor_ref == (pseudonym or "-")
    return table.c.actor_ref == actor


def filtered(session: Session, f: AuditFilter) -> Select:
    table = AuditEvent.__table__
    stmt = select(table)
    if f.entity_type:
        stmt = stmt.where(table.c.entity_type == f.entity_type)
    if f.entity_id:
        stmt = stmt.where(table.c.entity_id == f.entity_id)
    if f.action:
        stmt = stmt.where(table.c.action == f.action)
    if f.actor:
        stmt = stmt.where(_actor_clause(session, f.actor))
    if f.since:
        stmt = stmt.where(table.c.at >= f.since)
    if f.until:
        stmt = stmt.where(table.c.at < f.until)
    return stmt


def query(session: Session, f: AuditFilter, limit: int, offset: int) -> tuple[list[dict], int]:
    stmt = filtered(session, f)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(AuditEvent.__table__.c.seq).limit(limit).offset(offset)).mappings()
    return [dict(r) for r in rows], total


def iterate(session: Session, f: AuditFilter, batch: int = 1000) -> Iterator[dict]:
    stmt = filtered(session, f).order_by(AuditEvent.__table__.c.seq).execution_options(yield_per=batch)
    for row in session.execute(stmt).mappings():
        yield dict(row)
