"""Entity changes, collected per transaction and handed on only after it commits.

Why after commit: a subscriber that receives ``Observations(7)`` must be able
to GET it right away, and a rolled-back write must never be announced. Writers
call ``record`` inside their unit of work; ``ChangeFeed`` (installed on one
``Database``'s session factory) hands the collected changes to a sink when the
session commits and forgets them when it rolls back.

Recording the same entity twice in one transaction (a create followed by an
update, or two layers both recording) yields one change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import event
from sqlalchemy.orm import Session

from stadslab.core.database import Database

_KEY = "sta_changes"
#: Engines with an installed feed; without one, ``record`` keeps nothing (no broker, no cost).
_FED_ENGINES: dict[int, int] = {}

ChangeKind = Literal["create", "update"]


@dataclass(frozen=True)
class EntityChange:
    entity: str  # STA entity type name: "Thing", "Observation", ...
    id: int
    kind: ChangeKind = "create"
    #: Names of the STA properties an update changed; None means "all / unknown".
    properties: frozenset[str] | None = None


def record(session: Session, entity: str, id_: int, kind: ChangeKind = "create",
           properties: set[str] | frozenset[str] | None = None) -> None:
    """Note a created or updated entity; announced when ``session`` commits."""
    if id(session.get_bind()) not in _FED_ENGINES:
        return
    pending: dict[tuple[str, int], EntityChange] = session.info.setdefault(_KEY, {})
    key = (entity, int(id_))
    props = frozenset(properties) if properties is not None else None
    old = pending.get(key)
    if old is not None:
        if old.kind == "create":
            return  # a create already announces the whole entity
        if kind == "update" and old.properties is not None and props is not None:
            props = old.properties | props
        elif kind == "update":
            props = None
    pending[key] = EntityChange(entity, int(id_), kind, props)


def pending_changes(session: Session) -> list[EntityChange]:
    return list(session.info.get(_KEY, {}).values())


ChangeSink = Callable[[list[EntityChange]], None]


class ChangeFeed:
    """Forwards committed changes of one database's sessions to a sink."""

    def __init__(self, db: Database, sink: ChangeSink):
        self.db = db
        self.sink = sink
        self._installed = False

    def install(self) -> None:
        if not self._installed:
            event.listen(self.db.sessionmaker, "after_commit", self._after_commit)
            event.listen(self.db.sessionmaker, "after_soft_rollback", self._after_rollback)
            key = id(self.db.engine)
            _FED_ENGINES[key] = _FED_ENGINES.get(key, 0) + 1
            self._installed = True

    def remove(self) -> None:
        """Detach; tests share one Database between many apps, so this must really let go."""
        if self._installed:
            event.remove(self.db.sessionmaker, "after_commit", self._after_commit)
            event.remove(self.db.sessionmaker, "after_soft_rollback", self._after_rollback)
            key = id(self.db.engine)
            _FED_ENGINES[key] -= 1
            if not _FED_ENGINES[key]:
                del _FED_ENGINES[key]
            self._installed = False

    def _after_commit(self, session: Session) -> None:
        changes = session.info.pop(_KEY, None)
        if changes:
            self.sink(list(changes.values()))

    def _after_rollback(self, session: Session, previous_transaction) -> None:
        if previous_transaction.parent is None:  # the outermost transaction is gone
            session.info.pop(_KEY, None)


def record_many(session: Session, entity: str, ids: list[int], kind: ChangeKind = "create") -> None:
    """``record`` for the many ids of one bulk insert: a single check when no feed listens."""
    if id(session.get_bind()) not in _FED_ENGINES:
        return
    for id_ in ids:
        record(session, entity, id_, kind)
