"""``stadslab mqtt``: broker administration (the dynamic-security control plane, see ``broker_acl``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

mqtt_app = typer.Typer(help="MQTT broker administration.", no_args_is_help=True)
console = Console(stderr=True)


def _connect(settings, client_id_prefix: str):
    from .paho_bus import make_bus

    bus = make_bus(settings.mqtt_url, client_id_prefix=client_id_prefix, username=settings.mqtt_username,
                   password=settings.mqtt_password)
    bus.start()
    return bus


@contextmanager
def broker_accounts() -> Iterator[None]:
    """Broker accounts follow the tokens a CLI command makes or revokes (no server in this process)."""
    from stadslab.core.config import get_settings
    from stadslab.governance.service import token_listeners

    from .broker_acl import DynsecControl

    settings = get_settings()
    if not (settings.mqtt_url and settings.mqtt_dynamic_security):
        yield
        return
    bus = _connect(settings, "stadslab-cli")
    control = DynsecControl(None, bus, prefix=settings.mqtt_topic_prefix, inbound_prefix=settings.mqtt_inbound_prefix,
                            server_username=settings.mqtt_username)
    token_listeners.append(control.token_event)
    try:
        yield
    finally:
        token_listeners.remove(control.token_event)
        bus.stop()


@mqtt_app.command("sync")
def sync_command() -> None:
    """Bring the broker's roles, ACLs and token accounts in line with the database.

    Deletes the accounts of revoked and expired tokens, disables those of deactivated
    users, and denies anonymous readers the topics of network and restricted streams.
    """
    from stadslab.core.config import get_settings
    from stadslab.core.database import Database

    from .broker_acl import BrokerError, DynsecControl

    settings = get_settings()
    if not (settings.mqtt_url and settings.mqtt_dynamic_security):
        console.print("Nothing to do: set STADSLAB_MQTT_URL and STADSLAB_MQTT_DYNAMIC_SECURITY=true")
        raise typer.Exit(2)
    bus = _connect(settings, "stadslab-sync")
    try:
        control = DynsecControl(Database(settings.database_url), bus, prefix=settings.mqtt_topic_prefix,
                                inbound_prefix=settings.mqtt_inbound_prefix, server_username=settings.mqtt_username)
        report = control.sync()
    except BrokerError as exc:
        console.print(f"[red]Broker not synchronised:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        bus.stop()
    console.print(f"{report.hidden_topics} hidden stream topic(s); ACLs +{report.acls_added} "
                  f"-{report.acls_removed}; accounts deleted {len(report.accounts_deleted)}, disabled "
                  f"{len(report.accounts_disabled)}")
    for name in report.accounts_missing:
        console.print(f"token account {name} is missing on the broker: the token was made while the "
                      "broker was away; make a new token for this writer")
    if report.accounts_unknown:
        console.print(f"{len(report.accounts_unknown)} token account(s) match no token of this database")
