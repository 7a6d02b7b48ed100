"""Committing a unit of work, turning integrity violations into 409 Conflict."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .errors import Conflict


def commit(session: Session, conflict_message: str = "The change conflicts with existing data") -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        reason = str(exc.orig).splitlines()[0] if exc.orig else ""
        if "UNIQUE" in reason.upper() or "duplicate key" in reason:
            raise Conflict(f"{conflict_message}: an item with the same unique value already exists") from None
        if "FOREIGN KEY" in reason.upper() or "foreign key" in reason:
            raise Conflict(f"{conflict_message}: it is still referenced by other items") from None
        raise Conflict(conflict_message) from None
