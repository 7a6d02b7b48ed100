"""Command line for governance: ``stadslab user|token|loket|privacy|audit ...``.

The CLI acts as the platform itself (the ``SYSTEM`` principal, audited as "system"):
whoever can run it already has the database credentials. Passwords are never taken
as arguments (they would end up in shell history); they are prompted for, or read
from standard input with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from stadslab.core.auth import ACCOUNT_ROLES, SYSTEM
from stadslab.core.config import get_settings
from stadslab.core.errors import StadslabError

console = Console(stderr=True)
out = Console()

user_app = typer.Typer(help="Accounts: add, list, disable, set role or password.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: create (the secret is shown once), list, revoke.", no_args_is_help=True)
loket_app = typer.Typer(help="The loket: reminders about overdue requests.", no_args_is_help=True)
privacy_app = typer.Typer(help="Privacy: enforce retention of personal sensor data.", no_args_is_help=True)
audit_app = typer.Typer(help="Audit trail: verify the hash chains, export their head, bind actor mappings.",
                        no_args_is_help=True)


@contextmanager
def _session():
    from stadslab.core.database import Database

    db = Database(get_settings().database_url)
    try:
        with db.session() as s:
            try:
                yield s
            except StadslabError as exc:
                console.print(f"[red]{exc.detail}[/red]")
                for err in exc.errors:
                    console.print(f"  {err.get('field')}: {err.get('msg')}")
                raise typer.Exit(2) from None
    finally:
        db.dispose()


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _user(s, email: str):
    from .service import find_user_by_email

    user = find_user_by_email(s, email)
    if user is None:
        console.print(f"[red]No account with email {email}[/red]")
        raise typer.Exit(2)
    return user


def _role(role: str) -> str:
    if role not in ACCOUNT_ROLES:
        console.print(f"[red]role must be one of {', '.join(ACCOUNT_ROLES)}[/red]")
        raise typer.Exit(2)
    return role


@user_app.command("add")
def user_add(email: str, name: str = typer.Option("", "--name", help="Display name"),
             role: str = typer.Option("member", help="member, desk, editor or admin"),
             organisation: Optional[int] = typer.Option(None, "--organisation", help="Organisation id"),
             desk: Optional[str] = typer.Option(None, "--desk", help="For role desk: the loket team (e.g. ienw)"),
             password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin"),
             no_password: bool = typer.Option(False, "--no-password", help="OpenID Connect login only")) -> None:
    """Create an account."""
    from .service import create_user

    password = None if no_password else _password(password_stdin)
    with _session() as s:
        user = create_user(s, SYSTEM, email=email, display_name=name, password=password,
                           organisation_id=organisation, role=_role(role), desk_team=desk)
        console.print(f"Account {user.id} created: {user.email} ({user.role})")


@user_app.command("list")
def user_list(organisation: Optional[int] = typer.Option(None, "--organisation"),
              role: Optional[str] = typer.Option(None)) -> None:
    """List accounts with their role (a desk account: its loket team) and organisation."""
    from stadslab.core.listing import ListParams
    from stadslab.network.models import Organisation

    from .service import list_users

    with _session() as s:
        rows, total = list_users(s, ListParams(limit=10_000, offset=0, sort=None), organisation_id=organisation,
                                 role=role)
        names = {o.id: f"{o.name} ({o.kind})" for o in s.query(Organisation).filter(
            Organisation.id.in_({u.organisation_id for u in rows if u.organisation_id}))}
        table = Table(title=f"{total} account(s)")
        for col in ("id", "email", "name", "role", "organisation", "active"):
            table.add_column(col)
        for u in rows:
            shown_role = f"{u.role} ({u.desk_team})" if u.desk_team else u.role
            table.add_row(str(u.id), u.email, u.display_name, shown_role, names.get(u.organisation_id, ""),
                          "yes" if u.active else "no")
        out.print(table)


def _update(email: str, **changes) -> None:
    from .service import update_user

    with _session() as s:
        user = update_user(s, SYSTEM, _user(s, email).id, changes)
        console.print(f"Account {user.email}: role {user.role}, {'active' if user.active else 'disabled'}")


@user_app.command("disable")
def user_disable(email: str) -> None:
    """Disable an account (ends its sessions; its tokens stop working)."""
    _update(email, active=False)


@user_app.command("enable")
def user_enable(email: str) -> None:
    """Enable an account again (also lifts a lockout)."""
    _update(email, active=True)


@user_app.command("set-role")
def user_set_role(email: str, role: str,
                  desk: Optional[str] = typer.Option(None, "--desk", help="For role desk: the loket team")) -> None:
    """Change an account's role."""
    _update(email, role=_role(role), **({"desk_team": desk} if desk else {}))


@user_app.command("set-password")
def user_set_password(email: str, password_stdin: bool = typer.Option(False, "--password-stdin")) -> None:
    """Set a new password (ends the account's sessions)."""
    from .service import set_password

    password = _password(password_stdin)
    with _session() as s:
        set_password(s, SYSTEM, _user(s, email).id, password)
        console.print(f"Password of {email} changed")


@token_app.command("create")
def token_create(name: str = typer.Option(..., "--name"),
                 scope: list[str] = typer.Option(..., "--scope", help="Repeatable: registry:write, sta:write, ..."),
                 user: Optional[str] = typer.Option(None, "--user", help="Owner account (email)"),
                 organisation: Optional[int] = typer.Option(None, "--organisation", help="Owner organisation id"),
                 days: int = typer.Option(90, "--days", help="Days until it expires (1..366)")) -> None:
    """Create a token. The secret is printed once on stdout; store it now."""
    from stadslab.sensorthings.mqtt.broker_acl import broker_username
    from stadslab.sensorthings.mqtt.cli import broker_accounts

    from .service import create_token

    if (user is None) == (organisation is None):
        console.print("[red]Give exactly one of --user or --organisation[/red]")
        raise typer.Exit(2)
    with _session() as s, broker_accounts():
        user_id = _user(s, user).id if user else None
        token, secret = create_token(s, SYSTEM, name=name, scopes=scope, expires_in_days=days, user_id=user_id,
                                     organisation_id=organisation)
        console.print(f"Token {token.id} ({token.prefix}…) expires {token.expires_at:%Y-%m-%d}; MQTT login "
                      f"{broker_username(token.id, token.token_hash)}; the secret below is shown only now:")
    typer.echo(secret)


@token_app.command("list")
def token_list(user: Optional[str] = typer.Option(None, "--user"),
               organisation: Optional[int] = typer.Option(None, "--organisation")) -> None:
    """List tokens (never their secrets)."""
    from stadslab.core.listing import ListParams

    from .service import list_tokens

    with _session() as s:
        user_id = _user(s, user).id if user else None
        rows, total = list_tokens(s, SYSTEM, ListParams(limit=10_000, offset=0, sort=None), user_id=user_id,
                                  organisation_id=organisation)
        table = Table(title=f"{total} token(s)")
        for col in ("id", "name", "prefix", "owner", "scopes", "expires", "state"):
            table.add_column(col)
        for t in rows:
            owner = f"user {t.user_id}" if t.user_id else f"organisation {t.organisation_id}"
            table.add_row(str(t.id), t.name, t.prefix, owner, " ".join(t.scopes),
                          f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "", "revoked" if t.revoked_at else "active")
        out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token at once."""
    from stadslab.sensorthings.mqtt.cli import broker_accounts

    from .service import revoke_token

    with _session() as s, broker_accounts():
        token = revoke_token(s, SYSTEM, token_id)
        console.print(f"Token {token.id} ({token.prefix}…) revoked")


@loket_app.command("remind")
def loket_remind(dry_run: bool = typer.Option(False, "--dry-run", help="List only, do not mark as reminded")) -> None:
    """List open requests past their decision date and mark them reminded (weekly at most); tell lab
    editors about exemptions that end within 60 days (once)."""
    from .loket import due_reminders, notify_expiring, team_name

    with _session() as s:
        due = due_reminders(s, mark=not dry_run)
        if not dry_run:
            told = notify_expiring(s)
            console.print(f"{len(told)} exemption(s) ending within 60 days reported to their labs' editors")
        table = Table(title=f"{len(due)} overdue request(s)")
        for col in ("id", "type", "title", "routed to", "status", "due"):
            table.add_column(col)
        for r in due:
            table.add_row(str(r.id), r.type, r.title, team_name(r.routed_to), r.status, r.decision_due.isoformat())
        out.print(table)


@loket_app.command("send-mail")
def loket_send_mail() -> None:
    """Send the e-mail outbox once (the app does this in the background when STADSLAB_SMTP_HOST is set)."""
    from .outbox import send_pending

    settings = get_settings()
    if not settings.smtp_host:
        console.print("[red]STADSLAB_SMTP_HOST is not set[/red]")
        raise typer.Exit(2)
    with _session() as s:
        sent, failed = send_pending(s, settings)
        console.print(f"{sent} sent, {failed} failed (retried later)")


@privacy_app.command("enforce-retention")
def privacy_enforce_retention(dry_run: bool = typer.Option(False, "--dry-run")) -> None:
    """Delete observations older than their Thing's retention period (Things with personal data),
    and older than STADSLAB_OBSERVATION_RETENTION_DAYS when that is set."""
    from .privacy import enforce_retention

    with _session() as s:
        report = enforce_retention(s, dry_run=dry_run,
                                   observation_retention_days=get_settings().observation_retention_days)
    verb = "would be deleted" if dry_run else "deleted"
    if report.platform is not None:
        out.print(f"Platform retention (before {report.platform.cutoff:%Y-%m-%d %H:%M} UTC): "
                  f"{len(report.platform.partitions_dropped)} partition(s) "
                  f"({sum(report.platform.partitions_dropped.values())} observation(s)) and "
                  f"{report.platform.observations_deleted} observation(s) {verb}")
    out.print(f"{report.observations_deleted} observation(s) {verb} across {report.things_checked} thing(s)")
    if report.unreadable_retention:
        out.print("Retention period unreadable for thing(s): " + ", ".join(map(str, report.unreadable_retention)))


@audit_app.command("verify")
def audit_verify(head: Optional[Path] = typer.Option(
        None, "--head", help="A head document from 'stadslab audit head': the trail must still contain it")) -> None:
    """Recompute the audit hash chains and check every actor mapping; exit code 1 when broken."""
    from .audit import check_head, verify_actors, verify_chain

    document = _read_head(head) if head is not None else None
    with _session() as s:
        ok, bad = verify_chain(s)
        actors = verify_actors(s)
        held = check_head(s, document, _head_key()) if document is not None and ok else None
    if ok:
        out.print("Audit chain intact")
    else:
        out.print(f"Audit chain BROKEN at event {bad}")
    if actors.ok:
        out.print("Actor mappings intact" + (f" ({actors.unbound} from before migration 0017 not bound yet: "
                                             "run 'stadslab audit bind-actors')" if actors.unbound else ""))
    else:
        out.print(f"Actor mapping BROKEN for pseudonym {actors.bad_pseudonym}: it does not match its binding event")
    if held is not None:
        out.print("Exported head contained" if held.ok else f"Exported head NOT contained: {held.problem}")
    if not ok or not actors.ok or (held is not None and not held.ok):
        raise typer.Exit(1)


@audit_app.command("head")
def audit_head(sign: bool = typer.Option(False, "--sign", help="HMAC-SHA256 with STADSLAB_AUDIT_HEAD_KEY "
                                                               "(default: STADSLAB_SECRET_KEY)"),
               output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write to this file "
                                                                                  "(default: standard output)")) -> None:
    """Export the chain heads, after verifying the chains, to keep outside the database (e.g. hourly)."""
    import json

    from .audit import export_head, verify_chain

    key = _head_key() if sign else None
    if sign and key == "change-me-in-production":
        console.print("[red]STADSLAB_SECRET_KEY has its default value; set STADSLAB_AUDIT_HEAD_KEY "
                      "or STADSLAB_SECRET_KEY to sign heads[/red]")
        raise typer.Exit(2)
    with _session() as s:
        ok, bad = verify_chain(s)
        if not ok:
            out.print(f"Audit chain BROKEN at event {bad}: no head exported")
            raise typer.Exit(1)
        text = json.dumps(export_head(s, key), indent=2, sort_keys=True) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"Audit head written to {output}")


@audit_app.command("bind-actors")
def audit_bind_actors() -> None:
    """Bind the actor mappings made before migration 0017 into the chain (once, right after upgrading)."""
    from stadslab.core.unit_of_work import commit

    from .audit import bind_unbound_actors

    with _session() as s:
        n = bind_unbound_actors(s)
        commit(s, "Actor mappings cannot be bound")
    out.print(f"{n} actor mapping(s) bound")


def _head_key() -> str:
    settings = get_settings()
    return settings.audit_head_key or settings.secret_key


def _read_head(path: Path):
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        console.print(f"[red]Cannot read the head document {path}: {exc}[/red]")
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    """Add the governance commands to the main ``stadslab`` command."""
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    app.add_typer(loket_app, name="loket")
    app.add_typer(privacy_app, name="privacy")
    app.add_typer(audit_app, name="audit")
