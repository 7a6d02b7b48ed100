"""``stadslab backup``, ``restore``, ``migrate-to-postgres`` and ``observations partitions|retention``."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from stadslab.core.config import get_settings
from stadslab.core.errors import StadslabError

console = Console(stderr=True)


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                    TimeElapsedColumn(), console=console)


def _fail(exc: StadslabError) -> None:
    typer.echo(f"{exc.title}: {exc.detail}", err=True)  # unwrapped: scripts grep for it
    raise typer.Exit(2)


def backup_command(output: Optional[Path] = typer.Option(None, "--output", "-o",
                                                          help="Backup file (default: stadslab-<UTC time>.sqlite/.dump)")) -> None:
    """Back up the database (PostgreSQL: pg_dump custom format; SQLite: online backup, safe while serving)."""
    from .backup import backup, default_backup_name

    url = get_settings().database_url
    output = output or Path(default_backup_name(url, datetime.now(timezone.utc)))
    try:
        with _progress() as progress:
            task = progress.add_task("Backup", total=None)
            backup(url, output, lambda done, total: progress.update(task, completed=done, total=total))
    except StadslabError as exc:
        _fail(exc)
    console.print(f"Backup written to {output} ({output.stat().st_size:,} bytes)")


def restore_command(file: Path = typer.Argument(..., help="A file made by 'stadslab backup'"),
                    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation")) -> None:
    """Replace the configured database's contents with a backup (stop the servers first)."""
    from .backup import restore

    url = get_settings().database_url
    if not yes:
        typer.confirm(f"Replace ALL data in the configured database with {file}?", abort=True)
    try:
        with _progress() as progress:
            task = progress.add_task("Restore", total=None)
            restore(url, file, lambda done, total: progress.update(task, completed=done, total=total))
    except StadslabError as exc:
        _fail(exc)
    console.print(f"Restored {file}")


def migrate_to_postgres_command(to: str = typer.Option(..., "--to", help="postgresql://user@host/db (empty database)"),
                                batch: int = typer.Option(5000, min=1, help="Rows per insert batch")) -> None:
    """Copy the SQLite installation (STADSLAB_DATABASE_URL) into a fresh PostgreSQL database and verify it."""
    from .migrate_pg import migrate_to_postgres

    tasks: dict[str, int] = {}
    try:
        with _progress() as progress:
            def tick(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = progress.add_task(table, total=total or 1)
                progress.update(tasks[table], completed=done if total else 1)

            report = migrate_to_postgres(get_settings().database_url, to, batch=batch, progress=tick)
    except StadslabError as exc:
        _fail(exc)
    console.print(f"Copied {sum(report.rows.values()):,} rows in {len(report.rows)} tables; "
                  f"{len(report.sequences)} sequences advanced; search index rebuilt "
                  f"({sum(report.search_documents.values()):,} documents)")
    if not report.ok:
        for name, (before, after) in report.mismatches.items():
            console.print(f"[red]MISMATCH[/red] {name}: source {before} target {after}")
        if report.audit_chain_ok is False:
            console.print("[red]The audit chain does not verify on the target[/red]")
        raise typer.Exit(1)
    console.print("Verified: every table has the same row count and content hash; audit chain intact. "
                  "Point STADSLAB_DATABASE_URL at the new database and restart the servers.")


observations_app = typer.Typer(help="Observations at scale: monthly partitions (PostgreSQL) and retention.",
                               no_args_is_help=True)


@observations_app.command("partitions")
def observations_partitions(back: int = typer.Option(2, min=0, help="Months before the current one"),
                            ahead: int = typer.Option(3, min=0, help="Months after the current one"),
                            adopt: bool = typer.Option(True, "--adopt/--no-adopt",
                                                       help="Give months found in DEFAULT their own partition")) -> None:
    """Create the month partitions around now and move rows out of DEFAULT (PostgreSQL; idempotent)."""
    from stadslab.core.database import Database
    from stadslab.sensorthings.storage import partitions

    db = Database(get_settings().database_url)
    try:
        with db.engine.begin() as conn:
            if not partitions.is_partitioned(conn):
                console.print("sta_observations is not partitioned here (SQLite, or not migrated): nothing to do")
                return
            created = partitions.ensure_partitions(conn, back=back, ahead=ahead)
            moved = partitions.adopt_default_rows(conn, ahead=ahead) if adopt else {}
            listing = partitions.list_partitions(conn)
            left = conn.exec_driver_sql(f"SELECT count(*) FROM {partitions.DEFAULT}").scalar_one()
    finally:
        db.dispose()
    console.print(f"{len(created)} partition(s) created{': ' + ', '.join(created) if created else ''}")
    for name, n in moved.items():
        console.print(f"{name}: {n:,} row(s) moved out of {partitions.DEFAULT}")
    console.print(f"{len(listing)} partition(s): {listing[0].name} .. {listing[-1].name}; "
                  f"{left:,} row(s) in {partitions.DEFAULT}")


@observations_app.command("retention")
def observations_retention(days: Optional[int] = typer.Option(None, "--days", min=1,
                                                              help="Default: STADSLAB_OBSERVATION_RETENTION_DAYS"),
                           dry_run: bool = typer.Option(False, "--dry-run")) -> None:
    """Remove Observations older than the platform retention: whole partitions dropped, the rest deleted."""
    from stadslab.core.database import Database
    from stadslab.core.unit_of_work import commit
    from stadslab.sensorthings.storage.retention import enforce_observation_retention

    days = days or get_settings().observation_retention_days
    if days is None:
        console.print("No retention configured (STADSLAB_OBSERVATION_RETENTION_DAYS or --days): nothing removed")
        return
    db = Database(get_settings().database_url)
    try:
        with db.session() as s:
            report = enforce_observation_retention(s, days, dry_run=dry_run)
            if dry_run:
                s.rollback()
            else:
                commit(s, "Retention could not be enforced")
    finally:
        db.dispose()
    verb = "would be" if dry_run else "were"
    console.print(f"Cutoff {report.cutoff:%Y-%m-%d %H:%M} UTC: {len(report.partitions_dropped)} partition(s) "
                  f"({sum(report.partitions_dropped.values()):,} observations) {verb} dropped, "
                  f"{report.observations_deleted:,} observation(s) {verb} deleted")
