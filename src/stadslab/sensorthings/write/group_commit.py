"""Group commit: single Observation POSTs that arrive together share one transaction.

A city's sensors mostly send one Observation per request. Stored one transaction
each, every POST pays for its own token lookup, context read, INSERT, summary
UPDATE, audit head lock and COMMIT (a WAL flush on PostgreSQL): about eight round
trips and a few milliseconds of CPU, which capped two cores at a few hundred POSTs
a second. Here the event loop only parses and checks the request's shape; writer
threads (two per process) take every POST that is waiting, and store them together:

* one token lookup for all of them (``authn.tokens_by_hash``: revoked, expired or
  inactive tokens are refused exactly as on the request path); a token seen in the
  last minute is re-checked inside the context read instead (``_callers``);
* one context read per caller (``observation_post.context``): visibility, owner,
  and the generated FeatureOfInterest of each Datastream's Thing;
* one multi-row ``INSERT ... RETURNING``, one summary UPDATE per Datastream, the
  audit events with one head lock and one INSERT, and one COMMIT; on PostgreSQL in
  three round trips (``group_commit_pg``).

Each request still gets its own audit event and change notification, and its 201
only after the transaction holding its row has committed: the durability of the
single path, at a fraction of the cost. The more POSTs arrive at once, the larger
the groups; a lone POST is a group of one.

Requests the fast path declines (no token, a token that is not valid, no write
right, a Datastream without a generated FeatureOfInterest yet, any other shape)
come back as None *before anything is written for them*, and the general writer
answers them with its own errors. A group that fails as a whole is retried one
request at a time, so one bad request cannot fail the others.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

from stadslab.core.database import Database, begin_write, utcnow
from stadslab.core.errors import StadslabError
from stadslab.governance import audit
from stadslab.governance.authn import (LAST_USED_RESOLUTION, bearer_token_hash, token_still_grants,
                                       tokens_by_hash)

from . import auditing, group_commit_pg, observation_post as fast, rules
from ..mqtt.changes import record
from ..model.urls import parse_path

log = logging.getLogger(__name__)
_STOP = object()
#: A remembered token is looked up again after this long (and ``last_used_at`` refreshed).
_TOKEN_RECHECK_S = LAST_USED_RESOLUTION.total_seconds()
_TOKENS_KEPT = 10_000
_INSERT = insert(fast.OBS).returning(*fast.OBS.c)


@dataclass(frozen=True)
class Candidate:
    """A POST the group commit can take: whose token, which Datastream, which row."""

    token_hash: str
    ds_id: int
    values: dict[str, Any]


def candidate(path: str, authorization: str | None, body: bytes | None) -> Candidate | None:
    """The request as a ``Candidate``, or None when only the general writer can answer it."""
    token_hash = bearer_token_hash(authorization)
    if token_hash is None or not body:
        return None
    try:
        rp = parse_path(path.strip("/"))
        data = orjson.loads(body)
    except (StadslabError, orjson.JSONDecodeError):
        return None
    ds_id = fast.stream_target(rp, data)
    values = fast.row_values(data, ds_id) if ds_id is not None else None
    if values is None:
        return None
    return Candidate(token_hash, ds_id, values)


@dataclass(eq=False)
class _Waiting:
    item: Candidate
    request_id: str | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future = field(repr=False)

    def resolve(self, row: Mapping | None = None, error: BaseException | None = None) -> None:
        try:
            self.loop.call_soon_threadsafe(_settle, self.future, row, error)
        except RuntimeError:  # its event loop has closed (the server stopped): nobody is waiting
            pass


def _settle(future: asyncio.Future, row, error) -> None:
    if future.done():  # the request was cancelled (client gone): nothing to tell
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(row)


class _CommitFailed(Exception):
    """The COMMIT itself failed: whether the rows were stored is unknown, so no retry."""


class GroupCommit:
    """The per-process writer of single Observation POSTs (see the module docstring)."""

    def __init__(self, db: Database, *, max_batch: int = 64, writers: int = 1, linger_ms: float = 0.0):
        self.db = db
        self._pg = db.dialect == "postgresql"
        self.linger_s = linger_ms / 1000
        self.max_batch = max_batch
        self.writers = writers
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        #: token hash -> (principal, expires_at, when looked up, context statement); see ``_callers``
        self._tokens: dict[str, tuple[Any, Any, float, Any]] = {}

    async def store(self, item: Candidate, request_id: str | None) -> Mapping | None:
        """The stored row, or None when the general writer must answer this request."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        waiting = _Waiting(item, request_id, loop, loop.create_future())
        self._queue.put(waiting)
        return await waiting.future

    def _ensure_started(self) -> None:
        if self._threads and all(t.is_alive() for t in self._threads):
            return
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self.writers:
                thread = threading.Thread(target=self._run, name="sta-group-commit", daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Store what is waiting, then end the writer threads."""
        threads, self._threads = self._threads, []
        for _thread in threads:
            self._queue.put(_STOP)
        for thread in threads:
            thread.join(timeout)

    def _run(self) -> None:
        last = 1
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group, stop = [first], False
            # Under load (the last group had company), wait a moment until as many have come
            # as last time: larger groups cost less per request. A lone request never waits.
            deadline = time.monotonic() + self.linger_s if last > 1 else 0.0
            while len(group) < self.max_batch:
                try:
                    wait = deadline - time.monotonic() if len(group) < last else 0.0
                    nxt = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                group.append(nxt)
            last = len(group)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[_Waiting]) -> None:
        try:
            rows = self._write(group)
        except _CommitFailed as exc:
            for waiting in group:
                waiting.resolve(error=exc.__cause__ or exc)
            return
        except Exception as exc:  # noqa: BLE001 - any failure: isolate it, one request at a time
            if len(group) > 1:
                for waiting in group:
                    self._commit([waiting])
                return
            # Nothing was stored: the general writer answers (and words the error) on its own.
            log.debug("group commit declined a request after an error: %r", exc)
            group[0].resolve(None)
            return
        for waiting, row in zip(group, rows):
            waiting.resolve(row)

    def _callers(self, session, hashes: set[str], now) -> dict[str, tuple[Any, Any]]:
        """token hash -> (principal, its context statement) for the group's valid tokens.

        A token seen in the last minute is not looked up again: its principal is kept, and
        ``token_still_grants`` re-checks it inside the group's context read, so revoking a
        token or deactivating its user takes effect for the very next group. The lookup
        is repeated once a minute, which also keeps ``last_used_at`` current.
        """
        mono = time.monotonic()
        callers, stale = {}, set()
        for token_hash in hashes:
            kept = self._tokens.get(token_hash)
            if kept is not None and mono - kept[2] < _TOKEN_RECHECK_S and (kept[1] is None or kept[1] > now):
                callers[token_hash] = (kept[0], kept[3])
            else:
                stale.add(token_hash)
        if stale:
            if len(self._tokens) > _TOKENS_KEPT:
                self._tokens.clear()
            for token_hash, (principal, expires) in tokens_by_hash(session, stale, now).items():
                # the caller's context read, re-checking the token: built once while it is remembered
                if self._pg:
                    stmt = group_commit_pg.Compiled.of(
                        fast.context(principal, token_still_grants(principal), ids_as_array=True),
                        self.db.engine.dialect)
                else:
                    stmt = fast.context(principal, token_still_grants(principal))
                self._tokens[token_hash] = (principal, expires, mono, stmt)
                callers[token_hash] = (principal, stmt)
        return callers

    def _write(self, group: list[_Waiting]) -> list[Mapping | None]:
        """Store the group's rows in one transaction; None for each request it declines."""
        now = utcnow()
        with self.db.session() as session:
            if not self._pg:
                begin_write(session)  # SQLite: wait for the write lock, never "database is locked"
            callers = self._callers(session, {w.item.token_hash for w in group}, now)
            by_caller: dict[str, set[int]] = defaultdict(set)
            for w in group:
                if w.item.token_hash in callers:
                    by_caller[w.item.token_hash].add(w.item.ds_id)
            contexts, head = {}, None
            reads = [(callers[token_hash][1], sorted(ds_ids)) for token_hash, ds_ids in by_caller.items()]
            if self._pg and reads:  # BEGIN, the reads and an audit head lock in one round trip
                found_per_caller, head = group_commit_pg.begin(session, reads)
            else:
                found_per_caller = [session.execute(stmt, {"ds_ids": ids}).all() for stmt, ids in reads]
            for token_hash, found in zip(by_caller, found_per_caller):
                if not found:
                    self._tokens.pop(token_hash, None)  # perhaps revoked: look it up afresh next time
                for ctx in found:
                    contexts[(token_hash, ctx.id)] = ctx
            accepted = []
            for i, w in enumerate(group):
                principal = callers.get(w.item.token_hash, (None,))[0]
                ctx = contexts.get((w.item.token_hash, w.item.ds_id))
                if principal is not None and fast.writable(principal, ctx):
                    accepted.append((i, w, principal, ctx))
            rows: list[Mapping | None] = [None] * len(group)
            if not accepted:
                session.commit()  # the tokens' last-use times
                return rows
            values = [dict(w.item.values, feature_of_interest_id=ctx.foi_id) for _i, w, _p, ctx in accepted]
            stored = self._insert(session, values)
            entries = []
            for (i, w, principal, _ctx), row in zip(accepted, stored):
                rows[i] = row
                record(session, "Observation", row["id"])
                entries.append(auditing.created(principal, fast.OBSERVATION, row, w.request_id))
            bounds = self._extend_streams(session, [a[3] for a in accepted], values)
            chained = audit.chain_events(session, entries, head)
            if self._pg:
                try:
                    group_commit_pg.finish(session, bounds, chained)  # ... and COMMIT, in one round trip
                except OperationalError as exc:
                    raise _CommitFailed() from exc
            else:
                rules.extend_streams_many(session, "Datastream", bounds)
                audit.append(session, chained)
            try:
                session.commit()
            except Exception as exc:
                raise _CommitFailed() from exc
            return rows

    @staticmethod
    def _insert(session, values: list[dict[str, Any]]) -> list[Mapping]:
        """The rows in one INSERT, returned in the order given.

        Passed as a parameter list, the statement is compiled once and SQLAlchemy's
        "insertmanyvalues" renders the rows as one multi-row VALUES (a statement built
        with ``.values([...])`` would be compiled anew for every group). Both databases
        number the rows of one VALUES list in its order, so sorting by id restores it.
        """
        keys = set().union(*values)
        rows = session.execute(_INSERT, [{k: v.get(k) for k in keys} for v in values]).all()
        return [r._mapping for r in sorted(rows, key=lambda r: r.id)]

    @staticmethod
    def _extend_streams(session, contexts, values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Grow observedAreas where needed; return the Datastreams' new time bounds (to write)."""
        per_stream: dict[int, list] = defaultdict(list)
        ctx_of = {}
        for ctx, row in zip(contexts, values):
            per_stream[ctx.id].append(row)
            ctx_of[ctx.id] = ctx
        bounds = [rules.stream_bounds(ds_id, rows) for ds_id, rows in per_stream.items()]
        for ds_id in sorted(ctx_of):
            ctx = ctx_of[ds_id]
            rules.grow_area(session, "Datastream", ds_id, ctx.observed_area, [ctx.feature])
        return bounds
