"""``$count``: exact counts, or PostgreSQL planner estimates for very large results.

Counting millions of Observations exactly costs a full index scan on every
page request. With ``sta_count_mode="estimate"`` the planner's row estimate
(``EXPLAIN``, which uses ``pg_class.reltuples`` and column statistics) is
returned when it is above ``sta_count_estimate_threshold``; smaller results
are still counted exactly. SQLite has no planner estimates and always counts.
"""

from __future__ import annotations

import json

from sqlalchemy import Select, func, select


def exact(session, stmt: Select) -> int:
    table = stmt.get_final_froms()[0]
    return session.scalar(select(func.count()).select_from(
        stmt.with_only_columns(table.c.id).order_by(None).subquery())) or 0


def estimate(session, stmt: Select) -> int | None:
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    compiled = stmt.order_by(None).compile(dialect=bind.dialect, compile_kwargs={"render_postcompile": True})
    conn = session.connection()
    raw = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return int(plan[0]["Plan"]["Plan Rows"])


def count(ctx, stmt: Select, *, exact_only: bool = False) -> int:
    """``exact_only=True``: never estimate (the caller knows an estimate could mislead or leak)."""
    settings = ctx.settings
    if settings.sta_count_mode == "estimate" and not exact_only:
        guess = estimate(ctx.session, stmt)
        if guess is not None and guess >= settings.sta_count_estimate_threshold:
            return guess
    return exact(ctx.session, stmt)
