"""One unit of work per write: commit once, roll back on any error, integrity errors become 409."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .errors import Conflict


def _conflict(exc: IntegrityError, message: str) -> Conflict:
    reason = str(exc.orig).splitlines()[0] if exc.orig else ""
    if "UNIQUE" in reason.upper() or "duplicate key" in reason:
        return Conflict(f"{message}: an item with the same unique value already exists")
    if "FOREIGN KEY" in reason.upper() or "foreign key" in reason:
        return Conflict(f"{message}: it is still referenced by other items")
    return Conflict(message)


@contextmanager
def unit_of_work(session: Session, conflict_message: str = "The change conflicts with existing data") -> Iterator[None]:
    """Everything inside is written together or not at all."""
    try:
        yield
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise _conflict(exc, conflict_message) from None
    except BaseException:
        session.rollback()
        raise


def commit(session: Session, conflict_message: str = "The change conflicts with existing data") -> None:
    with unit_of_work(session, conflict_message):
        pass
