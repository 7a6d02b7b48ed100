"""Full-text backends: the only code that knows FTS5 or tsvector syntax.

One module per dialect, chosen by the session's bind. Both index the same
pre-stemmed ``stems`` column (see ``search.text``), so they find the same
documents; only the ranking formula differs (BM25 vs ts_rank).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from .base import Filters, RawResults, SearchBackend

__all__ = ["Filters", "RawResults", "SearchBackend", "backend_for"]

_BACKENDS: dict[str, SearchBackend] = {}


def backend_for(session: Session) -> SearchBackend:
    name = session.get_bind().dialect.name
    if name not in _BACKENDS:
        if name == "sqlite":
            from .sqlite import SQLiteBackend

            _BACKENDS[name] = SQLiteBackend()
        elif name == "postgresql":
            from .postgresql import PostgreSQLBackend

            _BACKENDS[name] = PostgreSQLBackend()
        else:
            raise RuntimeError(f"search has no backend for the {name!r} database dialect")
    return _BACKENDS[name]
