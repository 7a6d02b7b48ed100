"""Stadslab as the control plane of Mosquitto's dynamic-security plugin.

Why the broker and not the message: a broker relays a publish, user properties
included, to every subscriber of its topic, so a credential inside a message is
a credential handed out. Writers therefore log in to the broker, and the broker
enforces who may publish and read where (docs/deployment.md, "MQTT broker"):

* every API token has a broker account ``stl-<token id>-<first 12 hex of its hash>``
  whose password is the token secret. Stadslab creates it when the token is
  created (the only moment it knows the secret; the broker keeps its own salted
  hash), deletes it (the broker kicks the client) when the token is revoked,
  and disables it while the owner is deactivated;
* each account's own role (named like the account) may publish only under
  ``<inbound>/<its username>/#``, a namespace only the server may read: the
  topic proves who sent a create, and nobody else ever sees it (one role per
  account because Mosquitto 2.0's plugin does not substitute ``%u`` in ACLs);
* the standard topics ``<prefix>/#`` are published by the server alone; the
  read role (held by the anonymous group and every token account) may
  subscribe to them, except the topics of network and restricted
  (Multi)Datastreams, which get deny ACLs as their access class says.

``NullControl`` stands for a plain broker (development): nothing to drive.
Commands go over ``$CONTROL/dynamic-security/v1`` on the server's own
authenticated connection; ``sync`` reconciles roles, ACLs and accounts
(``stadslab mqtt sync``, and on every server start).
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Protocol

import orjson
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from stadslab.core.auth import ANONYMOUS
from stadslab.core.database import Database, utcnow

from ..access import visibility
from .bus import BusMessage
from .topics import join

log = logging.getLogger("stadslab.mqtt.broker")

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
ANONYMOUS_GROUP = "stadslab-anonymous"
_USERNAME = re.compile(r"^stl-(\d{1,18})-([0-9a-f]{12})$")
#: Deny ACLs outrank the role's allow ACLs (higher priority is checked first).
DENY_PRIORITY = 10
#: Stream entity sets whose topics follow their access class.
GUARDED_SETS = {"Datastreams": "Datastream", "MultiDatastreams": "MultiDatastream"}
#: Dynsec answers that mean "already as wanted" when (re)applying a state.
_ALREADY = ("already", "not found", "does not")


class BrokerError(RuntimeError):
    """The broker did not answer, or refused a command."""


def broker_username(token_id: int, token_hash: str) -> str:
    return f"stl-{token_id}-{token_hash[:12]}"


def parse_broker_username(username: str) -> tuple[int, str] | None:
    """(token id, hash prefix) of a token account; None for any other name."""
    m = _USERNAME.match(username)
    return (int(m.group(1)), m.group(2)) if m else None


@dataclass
class SyncReport:
    hidden_topics: int = 0
    acls_added: int = 0
    acls_removed: int = 0
    accounts_deleted: list[str] = field(default_factory=list)
    accounts_disabled: list[str] = field(default_factory=list)
    #: valid tokens without a broker account (created while the broker was away): a new token is needed
    accounts_missing: list[str] = field(default_factory=list)
    #: ``stl-`` accounts that name no token of this database (another deployment, or leftovers)
    accounts_unknown: list[str] = field(default_factory=list)


class BrokerControl(Protocol):
    enabled: bool

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def token_event(self, session: Session, kind: str, token, secret: str | None) -> None:
        """A governance token listener (``governance.service.token_listeners``)."""

    def streams_changed(self, changes) -> None:
        """A ChangeFeed sink: Datastreams/Things created or updated, ACLs may need to follow."""

    def sync(self) -> SyncReport: ...


class NullControl:
    """A plain broker: no accounts, no ACLs (development; see docs/sensorthings.md "MQTT")."""

    enabled = False

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def token_event(self, session, kind, token, secret) -> None:
        return None

    def streams_changed(self, changes) -> None:
        return None

    def sync(self) -> SyncReport:
        return SyncReport()


def hidden_stream_topics(session: Session, prefix: str, ids: dict[str, list[int]] | None = None) -> set[str]:
    """The topic filters anonymous readers are denied: those of non-public (Multi)Datastreams.

    ``ids`` limits the answer to some streams (per set name); None means all of them.
    """
    topics: set[str] = set()
    for set_name, entity in GUARDED_SETS.items():
        table = visibility.DS if entity == "Datastream" else visibility.MDS
        query = select(table.c.id)
        if ids is not None:
            if not ids.get(set_name):
                continue
            query = query.where(table.c.id.in_(ids[set_name]))
        public = visibility.clause(ANONYMOUS, entity, table)
        if public is not None:
            query = query.where(~public)
        for id_ in session.scalars(query):
            topics.update(stream_topics(prefix, set_name, id_))
    return topics


def stream_topics(prefix: str, set_name: str, id_: int) -> tuple[str, str]:
    base = join(prefix, f"{set_name}({id_})")
    return base, base + "/#"


class DynsecControl:
    """Drives the dynamic-security plugin over the server's admin connection (a started ``PahoBus``)."""

    enabled = True

    def __init__(self, db: Database | None, bus, *, prefix: str, inbound_prefix: str, server_username: str | None,
                 timeout: float = 10.0):
        self.db = db  # None: only follows tokens, of whatever database (a CLI command's own session)
        self.bus = bus
        self.prefix = prefix.strip("/")
        self.inbound = inbound_prefix.strip("/")
        self.server_username = server_username
        self.timeout = timeout
        self.read_role = f"stadslab-read:{self.prefix}"
        #: one for every deployment on the broker: the broker disconnects an account whose roles change
        self.server_role = "stadslab-server"
        self._answers: dict[str, dict] = {}
        self._answered = threading.Condition()
        self._subscribed = False
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ transport
    def _on_response(self, message: BusMessage) -> None:
        try:
            responses = orjson.loads(message.payload).get("responses", [])
        except (orjson.JSONDecodeError, AttributeError):
            return
        with self._answered:
            for response in responses:
                key = response.get("correlationData") if isinstance(response, dict) else None
                if key is not None:
                    self._answers[key] = response
            self._answered.notify_all()

    def execute(self, *commands: dict, tolerate: tuple[str, ...] = (), timeout: float | None = None,
                ) -> list[dict]:
        """Run commands in one publish and wait for their answers.

        Raises ``BrokerError`` on silence or on an error not containing one of ``tolerate``.
        """
        if not self._subscribed:
            self.bus.subscribe(RESPONSE_TOPIC, self._on_response)
            self._subscribed = True
            if hasattr(self.bus, "wait_ready") and not self.bus.wait_ready(self.timeout):
                raise BrokerError("no connection to the MQTT broker's dynamic-security API")
        keys = [uuid.uuid4().hex for _ in commands]
        batch = [dict(c, correlationData=k) for c, k in zip(commands, keys)]
        self.bus.publish(CONTROL_TOPIC, orjson.dumps({"commands": batch}), 1)
        with self._answered:
            if not self._answered.wait_for(lambda: all(k in self._answers for k in keys), timeout or self.timeout):
                for k in keys:
                    self._answers.pop(k, None)
                raise BrokerError("the broker's dynamic-security plugin did not answer "
                                  "(is it loaded, and is the server's account its admin?)")
            answers = [self._answers.pop(k) for k in keys]
        for command, answer in zip(commands, answers):
            error = answer.get("error")
            if error and not any(t in error for t in tolerate):
                raise BrokerError(f"{command['command']}: {error}")
        return answers

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mqtt-broker-acl", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(self.timeout)
            self._thread = None

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until queued ACL updates are applied (tests)."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self._apply_stream_changes(item)
            except Exception as exc:  # noqa: BLE001 - keep going; `stadslab mqtt sync` reconciles
                log.warning("updating broker ACLs for %d stream(s) failed: %s", sum(map(len, item.values())),
                            exc if isinstance(exc, BrokerError) else type(exc).__name__)

    # ------------------------------------------------------------------ tokens
    def token_event(self, session: Session, kind: str, token, secret: str | None) -> None:
        if self.db is not None and session.get_bind() is not self.db.engine:
            return  # another database's token (tests run many apps in one process)
        username = broker_username(token.id, token.token_hash)
        try:
            self._token_event(kind, username, secret)
        except BrokerError as exc:
            log.error("broker account %s not updated (%s): %s; `stadslab mqtt sync` reconciles "
                      "(a token made meanwhile needs replacing)", username, kind, exc)
            return
        log.info("broker account %s: %s", username, kind)

    def _token_event(self, kind: str, username: str, secret: str | None) -> None:
        if kind == "create" and secret is not None:
            self.execute({"command": "createRole", "rolename": self.read_role},  # before any sync
                         self._writer_role_command(username),
                         {"command": "createClient", "username": username, "password": secret,
                          "textname": "Stadslab API token",
                          "roles": [{"rolename": username}, {"rolename": self.read_role}]},
                         tolerate=("already",))  # another worker of this deployment was first
        elif kind == "revoke":
            self._delete_account(username)
        elif kind in ("disable", "enable"):
            self.execute({"command": f"{kind}Client", "username": username}, tolerate=("not found",))

    def _writer_role_command(self, username: str) -> dict:
        return {"command": "createRole", "rolename": username, "acls": [
            {"acltype": "publishClientSend", "topic": join(self.inbound, f"{username}/#"), "priority": 0,
             "allow": True}]}

    def _delete_account(self, username: str) -> None:
        """The broker disconnects the client at once and refuses its password from now on."""
        self.execute({"command": "deleteClient", "username": username},
                     {"command": "deleteRole", "rolename": username}, tolerate=("not found",))

    # ------------------------------------------------------------------ stream ACLs
    def streams_changed(self, changes) -> None:
        """ChangeFeed sink (committing thread): queue the affected streams for the ACL thread."""
        ids: dict[str, list[int]] = {}
        for change in changes:
            if change.entity in ("Thing", "Datastream", "MultiDatastream"):
                ids.setdefault(change.entity, []).append(change.id)
        if ids:
            self._queue.put(ids)

    def _apply_stream_changes(self, ids: dict[str, list[int]]) -> None:
        with self.db.session() as session:
            streams = {"Datastreams": list(ids.get("Datastream", [])),
                       "MultiDatastreams": list(ids.get("MultiDatastream", []))}
            if ids.get("Thing"):
                for set_name, table in (("Datastreams", visibility.DS), ("MultiDatastreams", visibility.MDS)):
                    streams[set_name] += session.scalars(select(table.c.id).where(
                        table.c.thing_id.in_(ids["Thing"])))
            hidden = hidden_stream_topics(session, self.prefix, streams)
        wanted = {t for set_name, id_list in streams.items() for id_ in id_list
                  for t in stream_topics(self.prefix, set_name, id_)}
        self._set_denied(add=hidden, remove=wanted - hidden)

    def _set_denied(self, add: set[str], remove: set[str]) -> tuple[int, int]:
        commands = [dict(command="addRoleACL", rolename=self.read_role, acltype=acltype, topic=topic,
                         priority=DENY_PRIORITY, allow=False)
                    for topic in sorted(add) for acltype in ("subscribePattern", "publishClientReceive")]
        commands += [dict(command="removeRoleACL", rolename=self.read_role, acltype=acltype, topic=topic)
                     for topic in sorted(remove) for acltype in ("subscribePattern", "publishClientReceive")]
        for start in range(0, len(commands), 100):
            self.execute(*commands[start:start + 100], tolerate=_ALREADY)
        return len(add), len(remove)

    # ------------------------------------------------------------------ reconcile
    def base_commands(self) -> list[dict]:
        """Roles, the anonymous group and default access: the fixed part of the broker's state."""
        acl = lambda role, acltype, topic, allow=True: dict(  # noqa: E731
            command="addRoleACL", rolename=role, acltype=acltype, topic=topic, priority=0, allow=allow)
        commands = [
            {"command": "setDefaultACLAccess", "acls": [{"acltype": "publishClientSend", "allow": False},
                                                        {"acltype": "subscribe", "allow": False}]},
            *({"command": "createRole", "rolename": r} for r in (self.read_role, self.server_role)),
            acl(self.read_role, "subscribePattern", join(self.prefix, "#")),
            acl(self.server_role, "publishClientSend", "#"),
            acl(self.server_role, "subscribePattern", "#"),
            {"command": "createGroup", "groupname": ANONYMOUS_GROUP},
            {"command": "addGroupRole", "groupname": ANONYMOUS_GROUP, "rolename": self.read_role},
            {"command": "setAnonymousGroup", "groupname": ANONYMOUS_GROUP},
        ]
        return commands

    def _ensure_roles(self, username: str, roles: tuple[str, ...]) -> bool:
        """Give an account the roles it lacks; False when it does not exist.

        Only missing roles are added: the broker disconnects a client whose roles change.
        """
        client = self._client(username)
        if client is None:
            return False
        held = {r.get("rolename") for r in client.get("roles", [])}
        missing = [{"command": "addClientRole", "username": username, "rolename": r} for r in roles if r not in held]
        if client.get("disabled"):
            missing.append({"command": "enableClient", "username": username})
        if missing and username == self.server_username:
            self._change_own_account(missing, roles)
        elif missing:
            self.execute(*missing)
        return True

    def _client(self, username: str) -> dict | None:
        [answer] = self.execute({"command": "getClient", "username": username}, tolerate=("not found",))
        return answer.get("data", {}).get("client")

    def _change_own_account(self, commands: list[dict], roles: tuple[str, ...]) -> None:
        """Once per broker: the broker disconnects us for the change, so its answer may be lost;
        check the outcome after the bus has reconnected."""
        try:
            self.execute(*commands, tolerate=("Internal error",), timeout=2.0)
        except BrokerError:
            pass
        for _ in range(3):
            if hasattr(self.bus, "wait_ready"):
                self.bus.wait_ready(self.timeout)
            try:
                client = self._client(self.server_username) or {}
            except BrokerError:
                continue
            if set(roles) <= {r.get("rolename") for r in client.get("roles", [])}:
                return
        raise BrokerError(f"could not give {self.server_username!r} the role {self.server_role!r}")

    def sync(self) -> SyncReport:
        """Bring the broker in line with the database; safe to run any time, any number of times."""
        report = SyncReport()
        self.execute(*self.base_commands(), tolerate=_ALREADY)
        if self.server_username and not self._ensure_roles(self.server_username, (self.server_role,)):
            raise BrokerError(f"the broker has no account {self.server_username!r} (STADSLAB_MQTT_USERNAME)")
        [role] = self.execute({"command": "getRole", "rolename": self.read_role})
        current = {a["topic"] for a in role.get("data", {}).get("role", {}).get("acls", [])
                   if not a.get("allow", True)}
        with self.db.session() as session:
            hidden = hidden_stream_topics(session, self.prefix)
            report.hidden_topics = len(hidden)
            report.acls_added, report.acls_removed = self._set_denied(hidden - current, current - hidden)
            [listing] = self.execute({"command": "listClients", "verbose": False, "count": -1})
            accounts = {name for name in listing.get("data", {}).get("clients", []) if parse_broker_username(name)}
            self._sync_accounts(session, accounts, report)
        return report

    def _sync_accounts(self, session: Session, accounts: set[str], report: SyncReport) -> None:
        from stadslab.governance.authn import aware
        from stadslab.governance.models import ApiToken, User

        now = utcnow()
        rows = session.execute(
            select(ApiToken.id, ApiToken.token_hash, ApiToken.revoked_at, ApiToken.expires_at, User.active)
            .outerjoin(User, User.id == ApiToken.user_id)
            .where(or_(ApiToken.revoked_at.is_(None), and_(ApiToken.revoked_at.is_not(None),
                                                           ApiToken.id.in_(_ids(accounts))))))
        known: set[str] = set()
        for row in rows:
            name = broker_username(row.id, row.token_hash)
            known.add(name)
            dead = row.revoked_at is not None or (row.expires_at is not None and aware(row.expires_at) <= now)
            if dead and name in accounts:
                self._delete_account(name)
                report.accounts_deleted.append(name)
            elif not dead and row.active is False and name in accounts:
                self.execute({"command": "disableClient", "username": name}, tolerate=("not found",))
                report.accounts_disabled.append(name)
            elif not dead and name in accounts:
                self.execute(self._writer_role_command(name), tolerate=("already",))
                self._ensure_roles(name, (name, self.read_role))
            elif not dead:
                report.accounts_missing.append(name)
        report.accounts_unknown = sorted(accounts - known)


def _ids(accounts: set[str]) -> list[int]:
    return [parsed[0] for parsed in map(parse_broker_username, accounts) if parsed]
