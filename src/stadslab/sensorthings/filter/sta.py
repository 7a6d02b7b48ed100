"""``$filter`` for the hub: adapts the ``sensorthings.filter`` package to these models.

The parser and compiler live in ``stadslab.sensorthings.filter``; this module
supplies the resolver for the STA tables and reports errors with the place of
the filter in the request (``$filter`` or ``$expand/Datastreams/$filter``).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.core.config import Settings
from stadslab.core.errors import BadRequest

from ..model.entities import EntityType


def available() -> bool:
    try:
        from . import compile_filter  # noqa: F401
    except ImportError:
        return False
    return True


def _sqlite_functions(session: Session) -> None:
    """The compiler's SQLite functions (spatial, Unicode case) on this connection.

    Registering is idempotent and cheap; doing it here keeps the engine set-up in
    ``core`` free of STA knowledge (``install_sqlite_functions`` does it per engine).
    """
    from . import register_sqlite_functions
    register_sqlite_functions(session.connection().connection.dbapi_connection)


#: words of a filter that may reach a geometry (``location``, ``feature``, ``observedArea``)
_GEOMETRY_WORDS = ("location", "feature", "observedarea")


def compile_filter(session: Session, entity: EntityType, text: str, where: str,
                   principal: Principal, *, settings: Settings | None = None) -> ColumnElement:
    """``principal``: navigation and ``any()`` inside the filter only reach rows it may see, so a
    filter cannot probe hidden data (``Things?$filter=Datastreams/any(d: d/name eq 'secret')``),
    and geometries are compared as ``principal`` may see them (``public_geometry``)."""
    if not available():
        raise BadRequest(f"{where}: $filter is not available on this server",
                         errors=[{"loc": ["query", *where.split("/")], "field": where,
                                  "msg": "$filter is not implemented"}])
    from . import FilterError
    from . import compile_filter as compile_
    from ..access import public_geometry, visibility
    from .index import PUBLIC_COLUMNS, mark, use_spatial_index
    from .sta_resolver import StaFilterResolver

    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_functions(session)
    if not visibility.unrestricted(principal) and any(w in text.lower() for w in _GEOMETRY_WORDS):
        public_geometry.refresh_pending(session, settings)  # complete answers; NULL copies match nothing
    try:
        def visible(et: EntityType, table) -> ColumnElement | None:
            return visibility.clause(principal, et.name, table)

        def geometry(et: EntityType, table, column) -> ColumnElement | None:
            seen = public_geometry.filter_geometry(principal, et.name, table, column)
            if seen is not None and seen is table.c.get(PUBLIC_COLUMNS.get(et.table.name, "")):
                return mark(et.table, table, seen)  # the bare public copy has its own spatial index
            return seen

        where_clause = compile_(text, StaFilterResolver(entity, entity.table, dialect, visible=visible,
                                                        geometry=geometry))
    except FilterError as exc:
        if where == "$filter":
            raise
        detail = exc.detail.replace("$filter", where, 1)
        raise BadRequest(detail, errors=[{"loc": ["query", *where.split("/")], "field": where,
                                          "msg": detail.split(": ", 1)[-1]}]) from None
    return use_spatial_index(session, where_clause)
