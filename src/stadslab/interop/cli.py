"""``stadslab calendar ...`` and ``stadslab funding ...``: the same services as the API."""

from __future__ import annotations

import json
from pathlib import Path

import typer

calendar_app = typer.Typer(help="International calendar: import .ics files, write feeds.", no_args_is_help=True)
funding_app = typer.Typer(help="Funding calls: list open calls, match projects.", no_args_is_help=True)


def _db():
    from stadslab.core.config import get_settings
    from stadslab.core.database import Database

    return Database(get_settings().database_url)


@calendar_app.command("import")
def import_file(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help=".ics file"),
                owner_organisation_id: int | None = typer.Option(None, help="Owner of the imported events")) -> None:
    """Import the events of an .ics file; broken events are reported and skipped."""
    from stadslab.interop.ical import import_ics

    db = _db()
    with db.session() as s:
        report = import_ics(s, file.read_bytes(), owner_organisation_id=owner_organisation_id)
    db.dispose()
    typer.echo(f"created {len(report.created)}, updated {len(report.updated)}, "
               f"unchanged {len(report.unchanged)}, skipped {len(report.skipped)}")
    for skip in report.skipped:
        typer.echo(f"  skipped component {skip['component']} (line {skip['line']}, uid {skip['uid']}): "
                   f"{skip['reason']}", err=True)


@calendar_app.command("export")
def export_feed(base_url: str = typer.Option("http://localhost:8000", help="Public base URL for links"),
                theme: list[str] = typer.Option([], help="Theme code; repeatable"),
                city: list[str] = typer.Option([], help="CBS code or name; repeatable")) -> None:
    """Write the RFC 5545 feed to standard output."""
    from stadslab.interop.ical import build_feed
    from stadslab.network.service import city_codes_for_filter

    db = _db()
    with db.session() as s:
        data = build_feed(s, base_url.rstrip("/"), theme=theme, city=city_codes_for_filter(s, city))
    db.dispose()
    typer.echo(data.decode(), nl=False)


@funding_app.command("matches")
def matches(project_id: int = typer.Argument(..., help="Project id"),
            limit: int = typer.Option(5, min=1, max=100)) -> None:
    """Open funding calls that fit a project, with the reasons."""
    from stadslab.interop.service import project_matches

    db = _db()
    with db.session() as s:
        found = project_matches(s, project_id, limit=limit)
    db.dispose()
    for m in found:
        typer.echo(f"{m['score']:.2f}  {m['funding_call']['title']}  ({m['explanation']})")


@funding_app.command("demo")
def load_demo() -> None:
    """Load the demo programmes, calls and events (marked as demo)."""
    from stadslab.interop.demo import load_interop_demo

    db = _db()
    with db.session() as s:
        typer.echo(json.dumps(load_interop_demo(s)))
    db.dispose()
