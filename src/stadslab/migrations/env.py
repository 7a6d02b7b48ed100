from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from stadslab.core.database import make_engine
from stadslab.models import Base  # noqa: F401  (imports every capability's models)

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _foreign_keys(connection, on=False)
        applied: list = []
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=sqlite,
                          on_version_apply=lambda **kw: applied.append(kw["step"]))
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            _foreign_keys(connection, on=True, check=bool(applied))
    engine.dispose()


def _foreign_keys(connection, *, on: bool, check: bool = False) -> None:
    """SQLite rebuilds a table (batch mode) by dropping the old one; with foreign keys on, that
    drop deletes (cascades to) or refuses the rows that refer to it. So migrations run with them
    off, outside any transaction (the pragma is ignored inside one), and are checked afterwards
    (when a migration ran: the check reads every table)."""
    if on and check:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:10]}")
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()


run_migrations_online()
