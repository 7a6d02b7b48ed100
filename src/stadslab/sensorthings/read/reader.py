"""Reading: resolve a resource path, query a collection or entity, expand navigation properties.

Paging is offset based with the id as the final sort key, so pages are stable.
Expanded collections are fetched in one query per navigation property for the
whole page of parents, each parent's first ``$skip + $top`` children by an index
seek (``per_parent``: ``LATERAL`` on PostgreSQL, a ``UNION ALL`` of ``LIMIT``ed
selects on SQLite), so ``$expand=Observations($top=5)`` reads parents × 6 rows
however many Observations there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import BigInteger, ColumnElement, Select, func, literal, literal_column, select, true, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.core.config import Settings
from stadslab.core.errors import NotFound

from . import counting
from ..filter import sta as filtering
from ..access import public_geometry, visibility
from ..model.entities import ENTITY_TYPES, EntityType, Nav
from .options import Options
from .serialize import Links, collection_json, entity_json, property_value
from ..model.urls import ResourcePath


@dataclass
class ReadContext:
    session: Session
    links: Links
    settings: Settings
    #: Who is reading: every query below shows only what this caller may see (``visibility``).
    principal: Principal

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def visible(self, et: EntityType, table=None) -> list[ColumnElement]:
        """Conditions (possibly none) hiding the rows of ``et`` this caller may not see."""
        return visibility.where(self.principal, et.name, table)

    def public(self, et: EntityType, rows: list) -> list:
        """The rows with their geometry as this caller may see it (``public_geometry``)."""
        return public_geometry.public_rows(self.session, self.principal, et.name, rows, self.settings)


@dataclass
class Resolved:
    entity: EntityType
    id: int | None  # set when the path addresses one entity
    condition: ColumnElement | None = None  # for collections reached by navigation
    parent: tuple[EntityType, int, Nav] | None = None


def relation_condition(source: EntityType, nav: Nav, source_id: Any) -> ColumnElement:
    """Rows of the nav's target related to ``source_id`` (a value or a correlated column)."""
    target = ENTITY_TYPES[nav.target].table
    if nav.kind == "in":
        return target.c[nav.fk] == source_id
    if nav.kind == "out":
        return target.c.id == select(source.table.c[nav.fk]).where(
            source.table.c.id == source_id).scalar_subquery()
    link = nav.link
    return target.c.id.in_(select(link.c[nav.link_target]).where(link.c[nav.link_source] == source_id))


def resolve(session: Session, rp: ResourcePath, principal: Principal) -> Resolved:
    """Walk the path; an entity the principal may not see is reported exactly like a missing one."""
    def seen(et: EntityType, cond: ColumnElement) -> ColumnElement:
        hidden = visibility.clause(principal, et.name)
        return cond if hidden is None else cond & hidden

    first = rp.segments[0]
    et = first.entity
    current_id = first.key
    if current_id is not None and not _exists(session, et, seen(et, et.table.c.id == current_id)):
        raise NotFound(f"{et.set_name}({current_id}) does not exist")
    if len(rp.segments) == 1:
        return Resolved(et, current_id)
    for seg in rp.segments[1:]:
        nav = et.navs[seg.name]
        target = seg.entity
        cond = relation_condition(et, nav, current_id)
        where = f"{et.set_name}({current_id})/{seg.name}"
        if not nav.many:
            found = session.scalar(select(target.table.c.id).where(seen(target, cond)))
            if found is None:
                raise NotFound(f"{where} does not exist")
            et, current_id = target, found
        elif seg.key is not None:
            if not _exists(session, target, seen(target, cond & (target.table.c.id == seg.key))):
                raise NotFound(f"{where}({seg.key}) does not exist")
            et, current_id = target, seg.key
        else:
            return Resolved(target, None, cond, (et, current_id, nav))
    return Resolved(et, current_id)


def _exists(session: Session, et: EntityType, cond: ColumnElement) -> bool:
    return session.scalar(select(et.table.c.id).where(cond).limit(1)) is not None


def order_columns(et: EntityType, opts: Options, link: Nav | None = None) -> list:
    table = et.table
    cols = []
    if not opts.orderby and link is not None and link.link is not None and "rank" in link.link.c:
        cols.append(link.link.c.rank.asc())
    for name, desc in opts.orderby:
        if name == "id":
            exprs = [table.c.id]
        else:
            prop = et.props[name]
            exprs = [table.c[prop.columns[0]]]
            if prop.kind == "result":
                exprs = [table.c.result_number, table.c.result_string]
        cols.extend(e.desc() if desc else e.asc() for e in exprs)
    last_desc = bool(opts.orderby) and opts.orderby[-1][1]
    if not any(n == "id" for n, _ in opts.orderby):
        cols.append(table.c.id.desc() if last_desc else table.c.id.asc())
    return cols


#: Navigations whose targets are visible whenever their source is (``visibility``'s rules): reached
#: from a visible source they need no condition, which keeps ``Datastreams(1)/Observations`` (the
#: hot read) the same plain index scan for every caller.
IMPLIED = frozenset({("Datastream", "Observations"), ("MultiDatastream", "Observations"),
                     ("Thing", "HistoricalLocations"), ("Thing", "Locations")})


def _implied(res: Resolved) -> bool:
    return res.parent is not None and (res.parent[0].name, res.parent[2].name) in IMPLIED


def base_query(ctx: ReadContext, et: EntityType, opts: Options, condition: ColumnElement | None,
               where: str, *, visible: bool = True) -> Select:
    """``visible=False`` only where ``IMPLIED`` says the rows are visible anyway."""
    stmt = select(et.table).where(*(ctx.visible(et) if visible else ()))
    if condition is not None:
        stmt = stmt.where(condition)
    if opts.filter:
        stmt = stmt.where(filtering.compile_filter(ctx.session, et, opts.filter, where, ctx.principal,
                                                  settings=ctx.settings))
    return stmt


def _count(ctx: ReadContext, stmt: Select, hidden: bool) -> int:
    """A planner estimate of a query with a visibility condition (``hidden``) could reveal how
    many rows are hidden; such counts are always exact."""
    return counting.count(ctx, stmt, exact_only=hidden)


def page_size(ctx: ReadContext, opts: Options) -> int:
    return opts.top if opts.top is not None else ctx.settings.sta_page_size_default


def read_collection(ctx: ReadContext, res: Resolved, opts: Options, path: str,
                    ) -> tuple[list[dict], list[dict], int | None, str | None]:
    """Returns (json items, raw rows, count, nextLink) for one page of a collection."""
    implied = _implied(res)
    stmt = base_query(ctx, res.entity, opts, res.condition, "$filter", visible=not implied)
    top = page_size(ctx, opts)
    count = _count(ctx, stmt, not implied and bool(ctx.visible(res.entity))) if opts.count else None
    rows = [r._mapping for r in ctx.session.execute(
        stmt.order_by(*order_columns(res.entity, opts)).limit(top + 1).offset(opts.skip))]
    next_link = None
    if len(rows) > top:
        rows = rows[:top]
        next_link = _next_link(ctx.links.path(path), opts, top, opts.skip + top)
    items = [entity_json(res.entity, r, ctx.links, opts.select) for r in ctx.public(res.entity, rows)]
    expand(ctx, res.entity, rows, items, opts)
    return items, rows, count, next_link


def _next_link(url: str, opts: Options, top: int, skip: int) -> str:
    q = opts.as_query()
    q["$top"] = str(top)
    q["$skip"] = str(skip)
    return url + "?" + urlencode(q, safe="$(),/;='")


def read_entity(ctx: ReadContext, res: Resolved, opts: Options) -> dict:
    stmt = select(res.entity.table).where(res.entity.table.c.id == res.id, *ctx.visible(res.entity))
    if opts.filter:  # a filter on a single entity: 404 when it does not match
        stmt = stmt.where(filtering.compile_filter(ctx.session, res.entity, opts.filter, "$filter",
                                                   ctx.principal, settings=ctx.settings))
    row = ctx.session.execute(stmt).first()
    if row is None:
        raise NotFound(f"{res.entity.set_name}({res.id}) does not exist")
    [shown] = ctx.public(res.entity, [row._mapping])
    item = entity_json(res.entity, shown, ctx.links, opts.select)
    expand(ctx, res.entity, [row._mapping], [item], opts)
    return item


def read_property(ctx: ReadContext, res: Resolved, name: str) -> Any:
    row = ctx.session.execute(select(res.entity.table).where(res.entity.table.c.id == res.id,
                                                             *ctx.visible(res.entity))).first()
    if row is None:
        raise NotFound(f"{res.entity.set_name}({res.id}) does not exist")
    [shown] = ctx.public(res.entity, [row._mapping])
    return property_value(res.entity.props[name], shown)


def expand(ctx: ReadContext, et: EntityType, rows: list, items: list[dict], opts: Options) -> None:
    if not rows:
        return
    for exp in opts.expand:
        nav = et.navs[exp.nav]
        target = ENTITY_TYPES[nav.target]
        if nav.many:
            _expand_many(ctx, et, nav, target, rows, items, exp.options)
        else:
            _expand_one(ctx, nav, target, rows, items, exp.options)


def _expand_one(ctx, nav: Nav, target: EntityType, rows, items, opts: Options) -> None:
    keys = {r[nav.fk] for r in rows if r[nav.fk] is not None}
    if not keys:
        return
    stmt = base_query(ctx, target, opts, target.table.c.id.in_(keys), f"$expand/{nav.name}/$filter")
    found = {r["id"]: r for r in ctx.public(target, [r._mapping for r in ctx.session.execute(stmt)])}
    child_rows, child_items = [], []
    for row, item in zip(rows, items):
        child = found.get(row[nav.fk])
        if child is not None:
            item[nav.name] = entity_json(target, child, ctx.links, opts.select)
            child_rows.append(child)
            child_items.append(item[nav.name])
    expand(ctx, target, child_rows, child_items, opts)


def _expand_many(ctx, et: EntityType, nav: Nav, target: EntityType, rows, items, opts: Options) -> None:
    ids = list(dict.fromkeys(r["id"] for r in rows))
    table = target.table
    if nav.kind == "in":
        parent_key = table.c[nav.fk]
        stmt = select(table)
    else:
        parent_key = nav.link.c[nav.link_source]
        stmt = select(table).join(nav.link, nav.link.c[nav.link_target] == table.c.id)
    where = f"$expand/{nav.name}/$filter"
    stmt = stmt.where(*(() if (et.name, nav.name) in IMPLIED else ctx.visible(target)))
    if opts.filter:
        stmt = stmt.where(filtering.compile_filter(ctx.session, target, opts.filter, where, ctx.principal,
                                                  settings=ctx.settings))
    top = page_size(ctx, opts)
    grouped: dict[Any, list] = {i: [] for i in ids}
    found = per_parent(ctx, stmt, parent_key, ids, order_columns(target, opts, nav), top + 1, opts.skip)
    for r in ctx.public(target, found):
        grouped[r["_parent"]].append(r)
    counts: dict[Any, int] = {}
    if opts.count:
        counts = dict(ctx.session.execute(
            stmt.with_only_columns(parent_key, func.count(), maintain_column_froms=True)
            .where(parent_key.in_(ids)).group_by(parent_key)).all())
    child_rows, child_items = [], []
    for row, item in zip(rows, items):
        children = grouped[row["id"]]
        if opts.count:
            item[f"{nav.name}@iot.count"] = counts.get(row["id"], 0)
        if len(children) > top:
            children = children[:top]
            item[f"{nav.name}@iot.nextLink"] = _next_link(ctx.links.nav(et, row["id"], nav.name), opts, top,
                                                          opts.skip + top)
        item[nav.name] = [entity_json(target, c, ctx.links, opts.select) for c in children]
        child_rows.extend(children)
        child_items.extend(item[nav.name])
    expand(ctx, target, child_rows, child_items, opts)


#: SQLite allows at most 500 terms in one compound SELECT; a larger set of parents takes more statements.
SQLITE_TERMS = 250


def per_parent(ctx: ReadContext, stmt: Select, parent_key, ids: list, order: list, limit: int,
               offset: int) -> list:
    """The first ``limit`` rows after ``offset`` of ``stmt`` for each parent id, in ``order``, each
    with the parent id as ``_parent``: a seek through the (parent, order) index per parent, never
    a read of all children of all parents. PostgreSQL: one ``LATERAL`` join over ``unnest(ids)``;
    SQLite (no LATERAL): a ``UNION ALL`` of per-parent ``LIMIT``ed selects. Rows arrive grouped by
    parent, each group in ``order`` (a nested loop and a compound select keep their inputs' order).
    """
    if not ids:
        return []
    if ctx.dialect == "postgresql":
        parents = func.unnest(literal(ids, ARRAY(BigInteger))).table_valued("id", name="_p").render_derived()
        lateral = (stmt.where(parent_key == parents.c.id).order_by(*order).limit(limit).offset(offset)
                   .lateral("_c"))
        query = select(parents.c.id.label("_parent"), lateral).select_from(parents).join(lateral, true())
        return [r._mapping for r in ctx.session.execute(query)]
    out = []
    for start in range(0, len(ids), SQLITE_TERMS):
        terms = []
        for i in ids[start:start + SQLITE_TERMS]:
            key = literal_column(str(int(i)))
            sub = stmt.where(parent_key == key).order_by(*order).limit(limit).offset(offset).subquery()
            terms.append(select(key.label("_parent"), sub))
        query = terms[0] if len(terms) == 1 else union_all(*terms)
        out.extend(r._mapping for r in ctx.session.execute(query))
    return out


def ref_json(links: Links, et: EntityType, id_: int) -> dict:
    return {"@iot.selfLink": links.entity(et, id_)}


def read_refs(ctx: ReadContext, res: Resolved, opts: Options, path: str) -> dict:
    implied = _implied(res)
    stmt = base_query(ctx, res.entity, opts, res.condition, "$filter", visible=not implied)
    top = page_size(ctx, opts)
    count = _count(ctx, stmt, not implied and bool(ctx.visible(res.entity))) if opts.count else None
    ids = list(ctx.session.scalars(stmt.with_only_columns(res.entity.table.c.id)
                                   .order_by(*order_columns(res.entity, opts)).limit(top + 1).offset(opts.skip)))
    next_link = None
    if len(ids) > top:
        ids = ids[:top]
        next_link = _next_link(ctx.links.path(path), opts, top, opts.skip + top)
    return collection_json([ref_json(ctx.links, res.entity, i) for i in ids], count, next_link)
