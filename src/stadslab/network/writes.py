"""The common tail of every registry write: flush, keep the search index in step, audit.

A delete leaves a ``RegistryTombstone`` (the change feed tells harvesting peers about it).

Called inside ``unit_of_work`` so that the change, its search document and its
audit event are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.core.database import utcnow
from stadslab.governance import audit
from stadslab.search import indexer

from .models import RegistryTombstone


def saved(session: Session, actor: Principal, action: str, entity_type: str, obj: Any,
          record: Callable[[Any], dict], before: dict | None = None, searchable: bool = True) -> None:
    session.add(obj)
    session.flush()
    if searchable:
        indexer.index_object(session, obj)
    audit.record(session, actor, action, entity_type, obj.id, before, record(obj))


def deleted(session: Session, actor: Principal, entity_type: str, obj: Any, record: Callable[[Any], dict],
            unindex: list[tuple[str, int]] = ()) -> None:
    before = record(obj)
    for doc_type, doc_id in unindex:
        indexer.remove(session, doc_type, doc_id)
    obj_id = obj.id
    session.delete(obj)
    session.add(RegistryTombstone(entity_type=entity_type, entity_id=obj_id, deleted_at=utcnow()))
    session.flush()
    audit.record(session, actor, "delete", entity_type, obj_id, before, None)
