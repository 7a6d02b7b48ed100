"""Backups and restores of the whole database.

PostgreSQL: ``pg_dump -Fc`` / ``pg_restore --clean --if-exists``, with the client
tools whose major version matches the server (Debian installs them side by side
under /usr/lib/postgresql/<major>/bin; an older pg_dump refuses a newer server).
SQLite: the online backup API, which copies a consistent snapshot while the
application keeps writing (WAL readers and writers are not blocked).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stadslab.core.database import normalise_url
from stadslab.core.errors import BadRequest, ServiceUnavailable

#: progress(done, total) with whatever unit the dialect measures (pages or tables).
Progress = Callable[[int, int], None]
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


def dialect_of(url: str) -> str:
    return make_url(normalise_url(url)).get_backend_name()


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BadRequest("database_url: an in-memory SQLite database cannot be backed up")
    return Path(database)


def default_backup_name(url: str, now) -> str:
    ext = "sqlite" if dialect_of(url) == "sqlite" else "dump"
    return f"stadslab-{now:%Y%m%dT%H%M%SZ}.{ext}"


# --- PostgreSQL -----------------------------------------------------------------------------------

def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (which goes into PGPASSWORD, not the process list)."""
    u = make_url(normalise_url(url)).set(drivername="postgresql")
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
        u = u.set(password=None)
    return u.render_as_string(hide_password=False), env


def pg_tool(name: str, url: str) -> str:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            major = int(conn.execute(text("SHOW server_version_num")).scalar()) // 10000
    finally:
        engine.dispose()
    candidate = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise ServiceUnavailable(f"{name} not found: install the PostgreSQL {major} client tools "
                                 f"(Debian: apt-get install postgresql-client-{major})")
    return found


def _run_pg(args: list[str], env: dict, total: int, marker: str, progress: Progress | None) -> None:
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    errors, done = [], 0
    for line in proc.stderr:
        if marker in line:
            done += 1
            if progress:
                progress(min(done, total), total)
        elif "error" in line.lower() or "fatal" in line.lower():
            errors.append(line.strip())
    if proc.wait() != 0:
        raise ServiceUnavailable(f"{Path(args[0]).name} failed: " + ("; ".join(errors[-5:]) or f"exit {proc.returncode}"))


def _pg_table_count(url: str) -> int:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            # tables with data of their own: a partitioned parent has none (its partitions are dumped)
            return int(conn.execute(text("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                                         "AND relkind = 'r'")).scalar())
    finally:
        engine.dispose()


def backup_postgresql(url: str, output: Path, progress: Progress | None = None) -> None:
    libpq, env = _libpq(url)
    tmp = output.with_name(output.name + ".partial")
    try:
        _run_pg([pg_tool("pg_dump", url), "--format=custom", "--verbose", "--no-owner", f"--file={tmp}", libpq],
                env, _pg_table_count(url), "dumping contents of table", progress)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)


def restore_postgresql(url: str, file: Path, progress: Progress | None = None) -> None:
    """One transaction: a failed restore leaves the database as it was."""
    libpq, env = _libpq(url)
    tool = pg_tool("pg_restore", url)
    listing = subprocess.run([tool, "--list", str(file)], capture_output=True, text=True, env=env)
    total = sum(1 for line in listing.stdout.splitlines() if " TABLE DATA " in line)
    order = file.with_name(file.name + ".restore-list")
    try:
        order.write_text(partition_safe_order(listing.stdout))
        _run_pg([tool, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
                 "--verbose", f"--use-list={order}", f"--dbname={libpq}", str(file)], env, total,
                "processing data for table", progress)
    finally:
        order.unlink(missing_ok=True)


def partition_safe_order(listing: str) -> str:
    """The archive's table of contents with the partitions' own constraints moved before all others.

    ``--clean`` drops in reverse list order, and pg_dump lists a partition's primary key
    after its parent's: PostgreSQL 15 then refuses to drop the inherited constraint
    (``sta_observations`` is partitioned, migration 0012). Listed first, the partitions'
    keys are dropped last (already gone with the parent's) and created first (the parent's
    ``ALTER TABLE ONLY ... ADD PRIMARY KEY`` and the ``INDEX ATTACH`` entries follow).
    """
    lines = listing.splitlines()
    partitions = {line.split(" TABLE ATTACH ", 1)[1].split()[1] for line in lines
                  if not line.startswith(";") and " TABLE ATTACH " in line}

    def constraint_of(line: str) -> str | None:
        if line.startswith(";") or " CONSTRAINT " not in line or " FK CONSTRAINT " in line:
            return None
        return line.split(" CONSTRAINT ", 1)[1].split()[1]

    moved = [line for line in lines if constraint_of(line) in partitions]
    rest = [line for line in lines if constraint_of(line) not in partitions]
    first = next((i for i, line in enumerate(rest) if constraint_of(line)), len(rest))
    return "\n".join(rest[:first] + moved + rest[first:]) + "\n"


# --- SQLite ---------------------------------------------------------------------------------------

def backup_sqlite(url: str, output: Path, progress: Progress | None = None) -> None:
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BadRequest(f"database_url: {source_path} does not exist")
    tmp = output.with_name(output.name + ".partial")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst, pages=256, progress=(lambda _s, remaining, total: progress(total - remaining, total))
                   if progress else None)
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        dst.close()
        src.close()
    tmp.replace(output)


def restore_sqlite(url: str, file: Path, progress: Progress | None = None) -> None:
    """Copies the backup into the target in one backup step, which SQLite applies atomically."""
    target = sqlite_path(url)
    src = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        if not src.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone():
            raise BadRequest(f"{file}: not a Stadslab database (no alembic_version table)")
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst, pages=-1)
        finally:
            dst.close()
    finally:
        src.close()
    if progress:
        progress(1, 1)


# --- entry points ---------------------------------------------------------------------------------

def backup(url: str, output: Path, progress: Progress | None = None) -> Path:
    output = Path(output)
    if output.exists():
        raise BadRequest(f"--output: {output} exists; choose a new file name")
    (backup_sqlite if dialect_of(url) == "sqlite" else backup_postgresql)(url, output, progress)
    return output


def restore(url: str, file: Path, progress: Progress | None = None) -> None:
    file = Path(file)
    if not file.is_file():
        raise BadRequest(f"FILE: {file} does not exist")
    with open(file, "rb") as fh:
        head = fh.read(16)
    dialect = dialect_of(url)
    if head.startswith(SQLITE_MAGIC):
        if dialect != "sqlite":
            raise BadRequest(f"FILE: {file} is an SQLite backup; the configured database is {dialect}. "
                             "Use 'stadslab migrate-to-postgres' to move SQLite data to PostgreSQL.")
        restore_sqlite(url, file, progress)
    elif head.startswith(PGDUMP_MAGIC):
        if dialect != "postgresql":
            raise BadRequest(f"FILE: {file} is a PostgreSQL dump; the configured database is {dialect}")
        restore_postgresql(url, file, progress)
    else:
        raise BadRequest(f"FILE: {file} is neither an SQLite backup nor a pg_dump custom-format archive")
