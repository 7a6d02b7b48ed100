"""The ``stadslab`` command line. Every command calls the same services as the API."""

from __future__ import annotations

import os

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stadslab import __version__
from stadslab.core.config import get_settings

app = typer.Typer(help="Stadslab: platform of the Dutch Smart City network.", no_args_is_help=True,
                  add_completion=False)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
from stadslab.interop.cli import calendar_app, funding_app  # noqa: E402
app.add_typer(calendar_app, name="calendar"); app.add_typer(funding_app, name="funding")  # noqa: E702
from stadslab.governance.cli import register as _register_governance  # noqa: E402
_register_governance(app)  # user, token, loket, privacy, audit
from stadslab.ops import cli as _ops_cli  # noqa: E402
app.command("backup")(_ops_cli.backup_command); app.command("restore")(_ops_cli.restore_command)  # noqa: E702
app.command("migrate-to-postgres")(_ops_cli.migrate_to_postgres_command)
app.add_typer(_ops_cli.observations_app, name="observations")  # partitions, retention
from stadslab.federation.cli import federation_app; app.add_typer(federation_app, name="federation")  # noqa: E402,E702
from stadslab.sensorthings.mqtt.cli import mqtt_app; app.add_typer(mqtt_app, name="mqtt")  # noqa: E402,E702
from stadslab.infrastructure.cli import infrastructure_app; app.add_typer(infrastructure_app, name="infrastructure")  # noqa: E402,E702,E501
console = Console(stderr=True)


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def _database():
    from stadslab.core.database import Database

    return Database(get_settings().database_url)


def _upgrade() -> None:
    from stadslab.core.migrate import upgrade

    upgrade(get_settings().database_url)


@app.callback(invoke_without_command=True)
def _main(version: bool = typer.Option(False, "--version", help="Show the version and exit.")) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("heads", help="Target revision")) -> None:
    """Bring the database schema up to date (Alembic migrations)."""
    from stadslab.core.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    console.print(f"Database at revision {revision}")


def _seed() -> None:
    from stadslab.network.reference import load_reference

    db = _database()
    with db.session() as s, _progress() as progress:
        task = progress.add_task("Reference data", total=342)
        report = load_reference(s, progress=lambda: progress.advance(task))
    console.print(f"Loaded {report.municipalities} municipalities, {report.themes} themes, "
                  f"{report.memberships} G4/G40 memberships, {report.specialisations} specialisations")
    db.dispose()


@app.command()
def seed() -> None:
    """Load the reference data: municipalities, G4/G40, themes, city specialisations."""
    _upgrade()
    _seed()


def _serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    from stadslab.core.node_check import NodeMismatch, check_before_upgrade
    from stadslab.ops.server import uvicorn_options

    try:
        check_before_upgrade(get_settings().database_url)
    except NodeMismatch as exc:
        console.print(f"[red]This node refuses to start: {exc}[/red]")
        raise typer.Exit(1) from None
    _upgrade()
    # the workers learn how many they are: MQTT sessions of slots beyond that are ended (mqtt_workers)
    os.environ["STADSLAB_MQTT_WORKERS"] = str(workers)
    get_settings.cache_clear()
    console.print(f"Stadslab {__version__} on http://{host}:{port}  (API docs: /api/docs)")
    # ops: slow clients, keep-alive and connection limits: docs/deployment.md "Slow clients"
    uvicorn.run("stadslab.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, forwarded_allow_ips="127.0.0.1", log_level="info",
                **uvicorn_options(get_settings()))


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Interface to bind"),
          port: int = typer.Option(8000, help="TCP port"),
          workers: int = typer.Option(1, min=1, help="Worker processes")) -> None:
    """Serve the web interface and all APIs (migrates the database first)."""
    _serve(host, port, workers)


def _print_demo_accounts(accounts, password: str) -> None:
    """The demo accounts, one line each (never cut off), and their development password."""
    console.print("[bold]Demo accounts (DEMO ONLY, never on a real installation):[/bold]")
    width = max((len(a.email) for a in accounts), default=0)
    for a in accounts:
        console.print(f"  {a.email:<{width}}  {a.label:<12} {a.organisation or '(platform)'}", soft_wrap=True,
                      highlight=False)
    console.print(f"Development password of every demo account (demo only): [bold]{password}[/bold]")


@app.command()
def demo(host: str = typer.Option("127.0.0.1", help="Interface to bind"),
         port: int = typer.Option(8000, help="TCP port"),
         workers: int = typer.Option(1, min=1, help="Worker processes"),
         no_serve: bool = typer.Option(False, "--no-serve", help="Load the data, do not serve")) -> None:
    """Load reference and demo data, then serve."""
    from stadslab.evidence.demo import demo_size as evidence_demo_size
    from stadslab.evidence.demo import load_evidence_demo
    from stadslab.governance.demo import DEMO_PASSWORD, load_demo_accounts, load_demo_loket
    from stadslab.infrastructure.demo import load_infrastructure_demo
    from stadslab.interop.demo import load_interop_demo
    from stadslab.labs.demo_loader import demo_size, load_demo, own_demo_content

    _upgrade()
    _seed()
    db = _database()
    with db.session() as s, _progress() as progress:
        task = progress.add_task("Demo content", total=demo_size())
        counts = load_demo(s, progress=lambda: progress.advance(task))
        counts.update(load_interop_demo(s) or {})
        evidence_task = progress.add_task("Sensor series and evaluations", total=evidence_demo_size())
        counts.update(load_evidence_demo(s, progress=lambda *_: progress.advance(evidence_task)) or {})
        own_demo_content(s)
        accounts = load_demo_accounts(s)
        loket_requests = load_demo_loket(s)
        if loket_requests:
            counts["loket requests"] = loket_requests
        infrastructure = load_infrastructure_demo(s)
        if infrastructure:
            counts["infrastructure assets and investments"] = infrastructure
    console.print("Demo content loaded: " + (", ".join(f"{v} {k}" for k, v in counts.items())
                                              or "already present"))
    _print_demo_accounts(accounts, DEMO_PASSWORD)
    db.dispose()
    if not no_serve:
        _serve(host, port, workers)


@app.command()
def search(query: str = typer.Argument(..., help="What to look for; \"quoted words\" as a phrase"),
           limit: int = typer.Option(10, min=1, max=100),
           type_: Optional[list[str]] = typer.Option(None, "--type", help="project, living_lab, solution, ..."),
           theme: Optional[list[str]] = typer.Option(None, "--theme"),
           city: Optional[list[str]] = typer.Option(None, "--city", help="Municipality code, e.g. GM0363"),
           facets: bool = typer.Option(False, "--facets", help="Also show counts per type, theme, city")) -> None:
    """Search projects, labs, solutions, coalitions and lessons (≈ marks an estimated total)."""
    from stadslab.search.cli import search_command

    raise typer.Exit(search_command(query, types=type_, themes=theme, cities=city, limit=limit, facets=facets))


@app.command("import")
def import_(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                        help="JSON lines (.jsonl) or CSV (.csv) file"),
            type_: Optional[str] = typer.Option(None, "--type", help="Record type for CSV files (default project)")
            ) -> None:
    """Import registry records. All-or-nothing: nothing is written if any record is invalid."""
    from stadslab.labs.transfer import ImportFailed, import_file

    _upgrade()
    db = _database()
    lines = sum(1 for _ in open(file, encoding="utf-8"))
    with db.session() as s, _progress() as progress:
        task = progress.add_task(f"Importing {file.name}", total=max(lines - (1 if file.suffix == ".csv" else 0), 0))
        try:
            report = import_file(s, file, default_type=type_, progress=lambda n: progress.advance(task, n))
        except ImportFailed as exc:
            progress.stop()
            for err in exc.report.errors[:50]:
                console.print(f"[red]{err}[/red]")
            if len(exc.report.errors) > 50:
                console.print(f"... and {len(exc.report.errors) - 50} more")
            console.print("Nothing was imported.")
            raise typer.Exit(1) from None
    console.print("Imported: " + ", ".join(f"{v} {k}" for k, v in report.counts.items() if v))
    db.dispose()


@app.command()
def export(fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
           type_: Optional[str] = typer.Option(None, "--type", help="Only this record type (required for csv)"),
           output: Optional[Path] = typer.Option(None, "--output", "-o", help="File (default: stdout)")) -> None:
    """Export the registry as JSON lines (all types) or CSV (one type)."""
    from stadslab.labs.transfer import ORDER, write_export

    if fmt not in ("jsonl", "csv"):
        console.print("--format must be jsonl or csv")
        raise typer.Exit(2)
    if type_ and type_ not in ORDER:
        console.print(f"--type must be one of {', '.join(ORDER)}")
        raise typer.Exit(2)
    if fmt == "csv" and not type_:
        console.print("CSV export needs --type")
        raise typer.Exit(2)
    db = _database()
    out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    with db.session() as s:
        n = write_export(s, out, fmt, type_)
    if output:
        out.close()
    console.print(f"Exported {n} record(s)")
    db.dispose()


from stadslab.evidence import cli as _evidence_cli  # noqa: E402
app.command("evaluate")(_evidence_cli.evaluate)
app.command("advise")(_evidence_cli.advise)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
