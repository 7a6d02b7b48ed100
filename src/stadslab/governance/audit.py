"""The audit trail: an append-only, hash-chained record of every change.

``record`` joins the caller's unit of work and never commits, so an event exists
exactly when the change it describes does. Each event's hash is SHA-256 over the
canonical JSON of the event including the previous event's hash; ``verify_chain``
recomputes the chain and finds the first row that was altered, inserted or removed.

Chains (migration 0015): on SQLite there is one, and ``record`` starts with an
``UPDATE ... RETURNING`` of its head, which takes the database write lock: two writers
can never read the same previous hash. On PostgreSQL a head row stays locked until
the writer commits, i.e. across the commit's WAL flush; one head would let only one
writer commit per flush. So there are ``CHAINS_POSTGRESQL`` heads, a writer locks any
free one (``FOR UPDATE SKIP LOCKED``) and concurrent commits share flushes again. Each
chain is a complete hash chain of its own (``chain``, ``seq`` 1, 2, 3, ...);
``verify_chain`` checks every one. Chain 1 hashes exactly as the single chain did
before; the other chains add their number to the hashed fields.

Append-only is enforced in the database (triggers from migration 0004 reject UPDATE
and DELETE on audit_events on both dialects), and there is no update/delete API.

Personal data is kept out: actors are pseudonyms (``audit_actors``), and values of
known personal fields in before/after snapshots are withheld (``PERSONAL_KEYS``).

Who a pseudonym is belongs to the evidence too (migration 0017): a new mapping gets a
random salt and an ``audit_actor.bind`` event committing to SHA-256(pseudonym, user id,
salt), chained like any other, so swapping two mappings is detected (``verify_actors``).
The salt lives only in the mapping row: erasure deletes both and the commitment links
to nobody. The chain head can be exported, signed, to a system outside the database
(``export_head``, ``check_head``: ``stadslab audit head`` / ``audit verify --head``), so
that even a full rewrite of the trail by someone with database access is detected.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM, Principal
from stadslab.core.database import utcnow
from stadslab.core.errors import BadRequest

from .models import AuditActor, AuditChainHead, AuditEvent

log = logging.getLogger("stadslab.audit")

GENESIS = "0" * 64
HEAD_ID = 1
#: Chain heads on PostgreSQL (migration 0015 creates them); more than the busiest writer count.
CHAINS_POSTGRESQL = 16
_HELD = "audit_chain_held"
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
    if fields.get("chain", 1) != 1:
        body["chain"] = fields["chain"]
    return hashlib.sha256(canonical_json(body)).hexdigest()


BIND_ACTION = "audit_actor.bind"
ACTOR_ENTITY = "audit_actor"
_PENDING = "audit_pending_bindings"


def actor_binding(pseudonym: str, user_id: int, salt: str) -> str:
    """The commitment an ``audit_actor.bind`` event holds: unlinkable once the salt is erased."""
    return hashlib.sha256(canonical_json({"pseudonym": pseudonym, "user_id": user_id, "salt": salt})).hexdigest()


def pseudonym_for(session: Session, user_id: int, *, create: bool = True) -> str | None:
    """The audit pseudonym of a user (made on first use, bound by the next chained event)."""
    found = session.scalar(select(AuditActor.pseudonym).where(AuditActor.user_id == user_id))
    if found or not create:
        return found
    actor = AuditActor(pseudonym=secrets.token_hex(12), user_id=user_id, salt=secrets.token_hex(16))
    session.add(actor)
    session.flush()
    _bind_later(session, actor)
    return actor.pseudonym


def _bind_later(session: Session, actor: AuditActor) -> None:
    """Queue the binding event; ``chain_events`` of this transaction writes it ahead of its own."""
    transaction = session.get_transaction()
    pending = session.info.get(_PENDING)
    if pending is None or pending[0] is not transaction:
        pending = session.info[_PENDING] = (transaction, [])
    pending[1].append(Entry(SYSTEM, BIND_ACTION, ACTOR_ENTITY, actor.pseudonym, None,
                            {"binding": actor_binding(actor.pseudonym, actor.user_id, actor.salt)}))


def _pending_bindings(session: Session) -> list["Entry"]:
    pending = session.info.pop(_PENDING, None)
    return pending[1] if pending is not None and pending[0] is session.get_transaction() else []


def bind_unbound_actors(session: Session) -> int:
    """Bind the mappings made before migration 0017 (run once, right after the upgrade). Does not commit."""
    unbound = session.scalars(select(AuditActor).where(AuditActor.salt.is_(None), AuditActor.user_id.is_not(None))
                              .order_by(AuditActor.pseudonym)).all()
    for actor in unbound:
        actor.salt = secrets.token_hex(16)
        session.flush()
        _bind_later(session, actor)
    if unbound:
        append(session, chain_events(session, []))
    return len(unbound)


@dataclass(frozen=True)
class ActorCheck:
    """``verify_actors``: the first mapping that does not match its binding, and how many are unbound."""

    ok: bool
    bad_pseudonym: str | None = None
    unbound: int = 0


def verify_actors(session: Session) -> ActorCheck:
    """Every mapping against the binding event of its pseudonym (the events are checked by the chain).

    A swapped or edited mapping no longer hashes to its binding; a salted mapping without a
    binding event was inserted behind the platform's back; a mapping whose binding exists but
    whose salt is gone was edited. A mapping whose user id is NULL links nobody (fine).
    Mappings from before 0017 (no salt, no binding) are counted as unbound.
    """
    table = AuditEvent.__table__
    bindings = {row.entity_id: (row.after or {}).get("binding") for row in session.execute(
        select(table.c.entity_id, table.c.after).where(table.c.entity_type == ACTOR_ENTITY,
                                                       table.c.action == BIND_ACTION))}
    unbound = 0
    for actor in session.execute(select(AuditActor.pseudonym, AuditActor.user_id, AuditActor.salt)
                                 .order_by(AuditActor.pseudonym)):
        binding = bindings.get(actor.pseudonym)
        if binding is None:
            if actor.salt is not None:
                return ActorCheck(False, actor.pseudonym, unbound)
            unbound += actor.user_id is not None
        elif actor.user_id is not None and (
                actor.salt is None or not hmac.compare_digest(
                    binding, actor_binding(actor.pseudonym, actor.user_id, actor.salt))):
            return ActorCheck(False, actor.pseudonym, unbound)
    return ActorCheck(True, None, unbound)


_HEAD = AuditChainHead.__table__
# Built once: a statement object that is reused keeps its compiled form and cache key.
_SQLITE_LOCK = (update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(seq=_HEAD.c.seq + 1)
                .returning(_HEAD.c.seq, _HEAD.c.hash))
_HEAD_COLS = select(_HEAD.c.id, _HEAD.c.seq, _HEAD.c.hash)
_HEAD_BY_ID = _HEAD_COLS.where(_HEAD.c.id == bindparam("chain")).with_for_update()
FREE_HEAD = (_HEAD_COLS.where(_HEAD.c.id <= CHAINS_POSTGRESQL).order_by(_HEAD.c.id).limit(1)
              .with_for_update(skip_locked=True))
MOVE_HEAD = (update(_HEAD).where(_HEAD.c.id == bindparam("chain"))
              .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))
APPEND = insert(AuditEvent.__table__)
_EVENT_COLUMNS = ("chain", *HASHED_FIELDS, "hash")
#: PostgreSQL, one event: the event and the head move in one round trip while the head is locked.
_APPEND_AND_MOVE = MOVE_HEAD.add_cte(
    insert(AuditEvent.__table__).values({c: bindparam(f"ev_{c}") for c in _EVENT_COLUMNS}).cte("appended"))


def _lock_head(session: Session) -> tuple[int, int, str]:
    """Lock one chain head for this transaction: (chain, next seq, previous hash)."""
    if session.get_bind().dialect.name == "postgresql":
        return _lock_any_head(session)
    row = session.execute(_SQLITE_LOCK).first()
    if row is None:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        session.execute(sqlite_insert(_HEAD).values(id=HEAD_ID, seq=0, hash=GENESIS)
                        .on_conflict_do_nothing(index_elements=["id"]))
        row = session.execute(_SQLITE_LOCK).first()
    return HEAD_ID, int(row.seq), row.hash


def _lock_any_head(session: Session) -> tuple[int, int, str]:
    transaction = session.get_transaction()
    held = session.info.get(_HELD)
    row = None
    if held is not None and held[1] is transaction:  # this transaction has a head already: keep it
        row = session.execute(_HEAD_BY_ID, {"chain": held[0]}).first()
    if row is None:
        row = session.execute(FREE_HEAD).first()
    if row is None:  # all busy, or heads missing (an emptied table): make sure all exist, try again
        _create_heads(session.get_bind().engine)
        row = session.execute(FREE_HEAD).first()
    if row is None:  # every head busy: queue behind one
        row = session.execute(_HEAD_BY_ID, {"chain": secrets.randbelow(CHAINS_POSTGRESQL) + 1}).first()
    session.info[_HELD] = (row.id, transaction)
    return int(row.id), int(row.seq) + 1, row.hash


def hold_head(session: Session, row) -> tuple[int, int, str]:
    """Adopt a head this transaction locked itself with ``FREE_HEAD`` (a row: id, seq, hash);
    returns what ``chain_events`` takes as ``head``."""
    session.info[_HELD] = (row.id, session.get_transaction())
    return int(row.id), int(row.seq) + 1, row.hash


def _create_heads(engine) -> None:
    """Missing heads, committed on their own connection at once: created inside the writer's
    transaction they would stay invisible, and other writers would wait on them, until it commits."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    head = AuditChainHead.__table__
    with engine.begin() as conn:
        conn.execute(pg_insert(head).values([{"id": n, "seq": 0, "hash": GENESIS}
                                             for n in range(1, CHAINS_POSTGRESQL + 1)])
                     .on_conflict_do_nothing(index_elements=["id"]))


def _actor(session: Session, principal: Principal) -> tuple[str, str | None, int | None]:
    if principal.user_id is not None:
        return "user", principal.audit_pseudonym or pseudonym_for(session, principal.user_id), principal.token_id
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

    chained = chain_events(session, [Entry(principal, action, entity_type, entity_id, before, after,
                                           request_id or current_request_id())])
    append(session, chained)
    return AuditEvent(**chained.rows[-1])  # after the binding of a mapping made for it, if any


@dataclass(frozen=True)
class Entry:
    """One event to append: who did what to which entity, with its snapshots."""

    principal: Principal
    action: str
    entity_type: str
    entity_id: Any = None
    before: Any = None
    after: Any = None
    request_id: str | None = None


@dataclass(frozen=True)
class Chained:
    """Events hashed onto a locked chain head, ready to be written (``append``)."""

    chain: int
    rows: list[dict[str, Any]]

    @property
    def head(self) -> dict[str, Any]:
        """Parameters of ``MOVE_HEAD``: the head after these events."""
        return {"chain": self.chain, "new_seq": self.rows[-1]["seq"], "new_hash": self.rows[-1]["hash"]}


def chain_events(session: Session, entries: list[Entry], head: tuple[int, int, str] | None = None) -> Chained:
    """Lock a chain head for this transaction and hash ``entries`` onto it (nothing written yet).

    ``head``: one the caller has locked already (``hold_head``). The caller must write the
    result with ``append`` (or the same statements, ``APPEND`` and ``MOVE_HEAD``) in the
    same transaction.
    """
    session.flush()
    actors = [_actor(session, e.principal) for e in entries]  # before the lock: keep it short
    bindings = _pending_bindings(session)  # mappings made in this transaction go first
    if bindings:
        entries = bindings + list(entries)
        actors = [_actor(session, e.principal) for e in bindings] + actors
    chain, seq, prev_hash = head or _lock_head(session)
    at = utcnow()
    rows = []
    for entry, (actor_type, actor_ref, token_id) in zip(entries, actors):
        fields = {
            "chain": chain, "seq": seq, "at": at, "actor_type": actor_type, "actor_ref": actor_ref,
            "actor_token_id": token_id, "organisation_id": entry.principal.organisation_id,
            "action": entry.action[:60], "entity_type": entry.entity_type[:60],
            "entity_id": None if entry.entity_id is None else str(entry.entity_id)[:100],
            "before": snapshot(entry.before), "after": snapshot(entry.after),
            "request_id": entry.request_id, "prev_hash": prev_hash,
        }
        fields["hash"] = prev_hash = event_hash(fields)
        rows.append(fields)
        seq += 1
    return Chained(chain, rows)


def append(session: Session, chained: Chained) -> None:
    rows = chained.rows
    if len(rows) == 1 and session.get_bind().dialect.name == "postgresql":
        session.execute(_APPEND_AND_MOVE, {**chained.head, **{f"ev_{c}": rows[0][c] for c in _EVENT_COLUMNS}})
    else:
        session.execute(APPEND, rows if len(rows) > 1 else rows[0])  # a list: one multi-row INSERT
        session.execute(MOVE_HEAD, chained.head)


def verify_chain(session: Session, batch: int = 1000) -> tuple[bool, int | None]:
    """Recompute every chain. Returns (True, None) or (False, first bad seq of the first broken chain).

    Catches a changed row (hash mismatch), a removed or inserted row (seq gap or
    prev_hash mismatch) and removed rows at the end (head ahead of the last row).
    """
    ok, _chain, seq = verify_chains(session, batch)
    return ok, seq


def verify_chains(session: Session, batch: int = 1000) -> tuple[bool, int | None, int | None]:
    """(ok, chain, seq): the first chain found broken and where, or (True, None, None)."""
    table = AuditEvent.__table__
    heads = {row.id: (row.seq, row.hash) for row in session.execute(select(AuditChainHead.__table__))}
    stmt = (select(*[table.c[name] for name in ("chain", *HASHED_FIELDS, "hash")])
            .order_by(table.c.chain, table.c.seq))
    chain, expected_seq, prev = None, 1, GENESIS
    for row in session.execute(stmt.execution_options(yield_per=batch)).mappings():
        fields = dict(row)
        if fields["chain"] != chain:
            if chain is not None and not _head_matches(heads.pop(chain, None), expected_seq - 1, prev):
                return False, chain, expected_seq
            chain, expected_seq, prev = fields["chain"], 1, GENESIS
        if fields["seq"] != expected_seq or fields["prev_hash"] != prev or event_hash(fields) != fields["hash"]:
            return False, chain, min(fields["seq"], expected_seq)
        prev = fields["hash"]
        expected_seq += 1
    if chain is not None and not _head_matches(heads.pop(chain, None), expected_seq - 1, prev):
        return False, chain, expected_seq
    for other, (seq, _hash) in sorted(heads.items()):  # heads whose events are all gone
        if seq:
            return False, other, 1
    return True, None, None


def _head_matches(head: tuple[int, str] | None, last_seq: int, last_hash: str) -> bool:
    if head is None:
        return last_seq == 0
    return head[0] == last_seq and head[1] == last_hash


HEAD_FORMAT = "stadslab-audit-head/1"


def export_head(session: Session, key: str | None = None) -> dict[str, Any]:
    """The chain heads as a small document to keep outside the database (signed when ``key`` is given).

    Taken from the chain head rows; the caller verifies the chains first, so the heads are
    ones the events really reach. Whoever later holds this document can tell whether the
    trail still contains it (``check_head``), even if the whole database was rewritten.
    """
    heads = {str(row.id): {"seq": int(row.seq), "hash": row.hash}
             for row in session.execute(select(_HEAD.c.id, _HEAD.c.seq, _HEAD.c.hash).order_by(_HEAD.c.id))
             if row.seq}
    document: dict[str, Any] = {"format": HEAD_FORMAT, "at": utcnow().isoformat(timespec="seconds"),
                                "chains": heads}
    if key:
        document["signature"] = _head_signature(document, key)
    return document


def _head_signature(document: dict[str, Any], key: str) -> str:
    body = canonical_json({k: v for k, v in document.items() if k != "signature"})
    return "hmac-sha256:" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class HeadCheck:
    ok: bool
    problem: str | None = None


def check_head(session: Session, document: Any, key: str | None = None) -> HeadCheck:
    """Does the trail still contain the exported heads? (Run after ``verify_chains`` succeeded:
    a verified chain that contains an old head also extends it.)

    A signed document is checked with ``key``; an unsigned one is trusted as it is (it is
    only as good as the place it was kept).
    """
    if not isinstance(document, dict) or document.get("format") != HEAD_FORMAT \
            or not isinstance(document.get("chains"), dict):
        return HeadCheck(False, f"not an audit head document (expected format {HEAD_FORMAT!r})")
    signature = document.get("signature")
    if signature is not None:
        if not key:
            return HeadCheck(False, "the head document is signed but no key is configured "
                                    "(STADSLAB_AUDIT_HEAD_KEY or STADSLAB_SECRET_KEY)")
        if not isinstance(signature, str) or not hmac.compare_digest(signature, _head_signature(document, key)):
            return HeadCheck(False, "the head document's signature does not match: edited, or signed "
                                    "with another key")
    table = AuditEvent.__table__
    for chain, head in sorted(document["chains"].items(), key=lambda item: str(item[0])):
        try:
            chain_no, seq, expected = int(chain), int(head["seq"]), str(head["hash"])
        except (KeyError, TypeError, ValueError):
            return HeadCheck(False, f"chain {chain!r} of the head document is malformed")
        found = session.scalar(select(table.c.hash).where(table.c.chain == chain_no, table.c.seq == seq))
        if found != expected:
            return HeadCheck(False, f"chain {chain_no} no longer contains event {seq} of the head exported "
                                    f"at {document.get('at')}: the trail was rewritten or cut back")
    return HeadCheck(True)


#: Listing order: by time; events of one instant by chain and position (stable for paging).
ORDER = (AuditEvent.__table__.c.at, AuditEvent.__table__.c.chain, AuditEvent.__table__.c.seq)


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
    rows = session.execute(stmt.order_by(*ORDER).limit(limit).offset(offset)).mappings()
    return [dict(r) for r in rows], total


def iterate(session: Session, f: AuditFilter, batch: int = 1000) -> Iterator[dict]:
    stmt = filtered(session, f).order_by(*ORDER).execution_options(yield_per=batch)
    for row in session.execute(stmt).mappings():
        yield dict(row)


def export_head_to(directory: str, session: Session, key: str | None) -> Path | None:
    """Verify the chains and write the (signed) head to ``directory`` as ``audit-head-<UTC time>.json``,
    as ``stadslab audit head --sign -o`` does; ``None`` (and nothing written) when a chain is broken.

    Run periodically by one process of all nodes (``governance.contribution``, ``core.leader``).
    """
    ok, bad = verify_chain(session)
    if not ok:
        log.error("audit chain BROKEN at event %s: no head exported", bad)
        return None
    document = json.dumps(export_head(session, key), indent=2, sort_keys=True) + "\n"
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"audit-head-{utcnow():%Y%m%dT%H%M%S%fZ}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(document)
    tmp.replace(path)
    return path
