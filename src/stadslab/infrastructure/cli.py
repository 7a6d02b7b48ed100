"""``stadslab infrastructure ...``: import neighbourhoods, refresh or recompute the coverage cells."""

from __future__ import annotations

import json
from pathlib import Path

import typer

infrastructure_app = typer.Typer(help="Digital infrastructure: neighbourhoods and coverage.", no_args_is_help=True)


def _db():
    from stadslab.core.config import get_settings
    from stadslab.core.database import Database
    from stadslab.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    return Database(settings.database_url)


@infrastructure_app.command("import-neighbourhoods")
def import_neighbourhoods_cmd(path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                                          help="CSV: code,name,municipality,households,"
                                                               "average_income,outline (GeoJSON)")) -> None:
    """Import a CBS 'kerncijfers wijken en buurten' table: all lines or none."""
    from stadslab.core.errors import StadslabError

    from . import service

    db = _db()
    try:
        with db.session() as s:
            count = service.import_neighbourhoods(s, path.read_text(encoding="utf-8-sig"))
    except StadslabError as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(2) from None
    except UnicodeDecodeError:
        typer.echo("the file is not UTF-8 text; nothing imported", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    typer.echo(f"{count} neighbourhood(s) imported")


@infrastructure_app.command("refresh-coverage")
def refresh_coverage_cmd(from_scratch: bool = typer.Option(False, "--from-scratch",
                                                           help="Recompute every cell, not only new ones")) -> None:
    """Fold new gateway receptions into the coverage cells (or recompute them all)."""
    from . import coverage

    db = _db()
    try:
        with db.session() as s:
            done = coverage.recompute_all(s) if from_scratch else coverage.refresh(s)
    finally:
        db.dispose()
    typer.echo(json.dumps(done))
