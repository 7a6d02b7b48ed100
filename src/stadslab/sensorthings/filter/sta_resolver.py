"""The hub's implementation of the ``filter`` package's ``FilterResolver`` for the STA tables.

Properties map to columns as described in ``entities``; to-one navigation
(``Datastream/Thing/name``) becomes a correlated scalar subquery and
``any()`` over a to-many path becomes a correlated ``EXISTS``. Every hop uses a
fresh table alias, so paths that revisit a table stay correct.

``visible(entity_type, alias)`` (from the caller's access rights, see
``visibility``) is added to every hop, so a filter never matches through a row
the caller may not see. ``geometry(entity_type, alias, column)`` may replace a
geometry column by what the caller may see of it (``public_geometry``), so a
spatial filter cannot measure a position more exactly than it is published.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, select

from ..model.entities import ENTITY_TYPES, EntityType, Nav
from .resolver import PredicateBuilder, ResolvedValue, ValueKind
from .index import mark

_KINDS = {"text": ValueKind.STRING, "instant": ValueKind.DATETIME, "geojson": ValueKind.GEOMETRY}


def relation(source, nav: Nav, target) -> ColumnElement[bool]:
    """Join condition between a source alias and a target alias along ``nav``."""
    if nav.kind == "in":
        return target.c[nav.fk] == source.c.id
    if nav.kind == "out":
        return target.c.id == source.c[nav.fk]
    # A link table joins in plainly (the enclosing SELECT adds it to its FROM list), so that
    # PostgreSQL turns ``any()`` into a semi join; an ``IN (subquery)`` nested inside the EXISTS
    # would stay a correlated subplan run for every outer row (and would not correlate two levels up).
    link = nav.link.alias()
    return and_(link.c[nav.link_source] == source.c.id, link.c[nav.link_target] == target.c.id)


class StaFilterResolver:
    def __init__(self, entity: EntityType, table=None, dialect: str = "sqlite", *, visible=None, geometry=None):
        self.entity = entity
        self.table = table if table is not None else entity.table
        self.dialect = dialect
        self.visible = visible
        self.geometry = geometry

    def _hop(self, et: EntityType, alias) -> list:
        hidden = self.visible(et, alias) if self.visible is not None else None
        return [] if hidden is None else [hidden]

    def _child(self, et: EntityType, alias) -> "StaFilterResolver":
        return StaFilterResolver(et, alias, self.dialect, visible=self.visible, geometry=self.geometry)

    def resolve_property(self, path: tuple[str | int, ...]) -> ResolvedValue | None:
        if not path or not isinstance(path[0], str):
            return None
        head, rest = path[0], path[1:]
        t = self.table
        if head in ("id", "@iot.id") and not rest:
            return ResolvedValue(t.c.id, ValueKind.NUMBER)
        prop = self.entity.props.get(head)
        if prop is not None:
            cols = [t.c[c] for c in prop.columns]
            if prop.kind in ("json", "any"):
                return ResolvedValue(cols[0], ValueKind.JSON, json_path=tuple(rest))
            if prop.kind == "result":
                if rest:
                    return ResolvedValue(cols[0], ValueKind.JSON, json_path=tuple(rest))
                return ResolvedValue(cols[0], ValueKind.JSON, json_path=(), number=t.c.result_number,
                                     string=t.c.result_string)
            if rest:
                return None
            if prop.kind in ("interval", "time"):
                return ResolvedValue(cols[0], ValueKind.INTERVAL, end=cols[1])
            if prop.kind == "geojson":
                public = self.geometry(self.entity, t, cols[0]) if self.geometry is not None else None
                if public is not None:
                    return ResolvedValue(public, ValueKind.GEOMETRY)
                # marked: filter.index may answer from a spatial index
                return ResolvedValue(mark(self.entity.table, t, cols[0]), ValueKind.GEOMETRY)
            return ResolvedValue(cols[0], _KINDS[prop.kind])
        nav = self.entity.navs.get(head)
        if nav is None or nav.many or not rest:
            return None
        target_et = ENTITY_TYPES[nav.target]
        alias = target_et.table.alias()
        inner = self._child(target_et, alias).resolve_property(tuple(rest))
        if inner is None:
            return None
        cond = and_(relation(t, nav, alias), *self._hop(target_et, alias))

        def lift(expr):
            return None if expr is None else select(expr).where(cond).limit(1).scalar_subquery()

        return ResolvedValue(lift(inner.expr), inner.kind, end=lift(inner.end), json_path=inner.json_path,
                             number=lift(inner.number), string=lift(inner.string))

    def resolve_any(self, path: tuple[str, ...], variable: str,
                    build_predicate: PredicateBuilder) -> ColumnElement[bool] | None:
        et, current = self.entity, self.table
        conditions = []
        froms = []
        many = False
        key = None  # the column that names the outer row, when the first hop allows an IN
        for name in path:
            nav = et.navs.get(name) if isinstance(name, str) else None
            if nav is None:
                return None
            target_et = ENTITY_TYPES[nav.target]
            alias = target_et.table.alias()
            if current is self.table and nav.kind in ("in", "link"):
                key, condition = _outer_key(nav, alias)
                conditions.append(condition)
            else:
                conditions.append(relation(current, nav, alias))
            conditions.extend(self._hop(target_et, alias))
            froms.append(alias)
            many = many or nav.many
            et, current = target_et, alias
        if not many:
            return None
        predicate = build_predicate(self._child(et, current))
        if key is not None:
            # ``id IN (uncorrelated subquery)``: computed once, driven by whatever index serves the
            # predicate (SQLite runs a correlated EXISTS once per outer row)
            return self.table.c.id.in_(select(key).select_from(*froms).where(*conditions, predicate))
        return exists(select(current.c.id).select_from(*froms).where(*conditions, predicate))


def _outer_key(nav: Nav, target) -> tuple[ColumnElement, ColumnElement[bool]]:
    """For a first hop ``in`` or ``link``: the column holding the source id, and the condition that
    joins the hop without naming the source (never NULL, so NOT IN stays two-valued)."""
    if nav.kind == "in":
        return target.c[nav.fk], target.c[nav.fk].is_not(None)
    link = nav.link.alias()
    return link.c[nav.link_source], link.c[nav.link_target] == target.c.id
