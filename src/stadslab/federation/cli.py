"""``stadslab federation ...``: harvest the peers now, list them with their health."""

from __future__ import annotations

import json
from typing import Optional

import typer

federation_app = typer.Typer(help="Federation with other Stadslab nodes.", no_args_is_help=True)


@federation_app.command("harvest")
def harvest_cmd(peer: Optional[str] = typer.Option(None, "--peer", help="Only this peer (name)")) -> None:
    """One harvest pass over the active peers (or one peer); prints a JSON report per peer."""
    from stadslab.core.config import get_settings
    from stadslab.core.database import Database
    from stadslab.core.errors import StadslabError
    from stadslab.core.migrate import upgrade

    from . import service

    settings = get_settings()
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            reports = service.harvest(s, settings, peer_name=peer)
    except StadslabError as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    if reports is None:
        typer.echo("another worker is harvesting; nothing done", err=True)
        raise typer.Exit(3)
    for r in reports:
        typer.echo(json.dumps(r.as_dict()))
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


@federation_app.command("peers")
def peers_cmd() -> None:
    """The peers and their harvest health, as JSON lines."""
    from sqlalchemy import select

    from stadslab.core.config import get_settings
    from stadslab.core.database import Database

    from . import service
    from .models import FederationPeer

    db = Database(get_settings().database_url)
    with db.session() as s:
        for peer in s.scalars(select(FederationPeer).order_by(FederationPeer.name)):
            typer.echo(json.dumps({**service.peer_snapshot(peer), "health": service.peer_health(s, peer.id)},
                                  default=str))
    db.dispose()
