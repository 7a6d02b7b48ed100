"""``stadslab backup``, ``stadslab restore`` and ``stadslab migrate-to-postgres``."""

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
