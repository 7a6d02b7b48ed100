"""Creating Observations from MQTT publishes (OGC 18-088 §14.2.2, in a namespace of their own).

Clients publish one Observation JSON to ``<inbound>/<their broker username>/
v1.1/Observations`` (the body names its Datastream) or to ``.../v1.1/
Datastreams(1)/Observations`` (likewise ``MultiDatastreams(id)`` and
``FeaturesOfInterest(id)``); ``<inbound>`` is ``Settings.mqtt_inbound_prefix``.
The server listens with MQTT 5 shared subscriptions, so with several workers
each publish reaches exactly one of them and is stored once.

A message that cannot be stored is logged with the topic and the reason (never
its payload, which may hold personal data) and dropped: there is nobody to
answer, and one bad sensor must not stop the others.

Durability (docs/operations.md "Durability"): the message is acknowledged to the
broker only after its Observation is committed, together with an ingest receipt
(``receipts``) that makes a redelivery a no-op. While the database is unreachable
or full the create is retried (capped back-off) instead of dropped; the broker
meanwhile holds the unacknowledged message and queues the ones behind it.

Who wrote it: the writer logs in to the broker with an API token (broker
account ``stl-<id>-<hash prefix>``, password the token secret, kept by
``broker_acl``), and the broker lets it publish only under its own username.
So the topic names the token; the server re-checks that the token is still
valid (revoked, expired, owner deactivated: refused) and its account may write
the Datastream, with the same rules as HTTP. Why not a token in the message, as
before: the broker relays a message, user properties and all, to every
subscriber of its topic. A message that still carries a token secret
(``stl_...`` in a user property or the payload) is refused and not stored; the
log names the reason, never the secret. On a plain broker (no dynamic security)
the topic proves nothing, so creates are refused unless the development setting
``anonymous_writes`` is on, and then stored as anonymous.

Loop guard: notifications go to the standard topics, never to the inbound
namespace; a message with the ``NOTIFICATION_MARKER`` user property is ignored
all the same.
"""

from __future__ import annotations

import logging
import re
import threading

import orjson

from stadslab.core.auth import AUTH_FAILED, AUTH_REQUIRED, WWW_AUTHENTICATE, Principal
from stadslab.core.database import Database
from stadslab.ops.metrics import record_mqtt_create
from sqlalchemy.exc import IntegrityError

from stadslab.core.errors import BadRequest, StadslabError, Unauthorized, database_problem

from .broker_acl import parse_broker_username
from .bus import BusMessage
from . import receipts
from .notify import NOTIFICATION_MARKER
from .store import ObservationStore, ServiceObservationStore, describe, observation_parent
from .topics import join, strip_prefix

log = logging.getLogger("stadslab.mqtt.ingest")

#: Topic filters (below the prefix) that carry Observation creates.
CREATE_FILTERS = ("Observations", "+/Observations")
#: What an API token secret looks like inside a message (``governance.authn.new_token_secret``).
SECRET_PATTERN = re.compile(rb"stl_[A-Za-z0-9_-]{20,}")
SECRET_REFUSED = ("the message carries an API token secret; MQTT writers log in to the broker with it "
                  "instead and never send it in a message (docs/sensorthings.md, MQTT)")
#: Back-off while the database is unreachable or full: first and largest wait (seconds).
RETRY_FIRST, RETRY_MAX = 0.2, 5.0


def carries_secret(message: BusMessage) -> bool:
    fields = [message.payload, message.topic.encode(),
              *(f"{k}\0{v}".encode() for k, v in message.user_properties.items())]
    return any(SECRET_PATTERN.search(f) for f in fields)


def loggable_topic(topic: str) -> str:
    """The topic for a log line: shortened, and a token secret in it (a publisher's mistake) masked."""
    return SECRET_PATTERN.sub(b"stl_...", topic[:200].encode()).decode("utf-8", "replace")


def message_principal(session, username: str, broker_accounts: bool, anonymous_writes: bool = False,
                      ) -> Principal:
    """The publisher: the token whose broker account published (the topic's username segment).

    Only meaningful when the broker enforces that segment (``broker_accounts``);
    a token that is no longer valid is a credential failure, as over HTTP.
    """
    from stadslab.governance.authn import principal_for_token_id

    if not broker_accounts:
        if anonymous_writes:
            return Principal(user_id=None, organisation_id=None, role="public", via="anonymous",
                             anonymous_writes=True)
        raise Unauthorized(AUTH_REQUIRED + ": MQTT creates need a broker with dynamic security "
                                           "(STADSLAB_MQTT_DYNAMIC_SECURITY) and a login with an API token",
                           headers=WWW_AUTHENTICATE)
    parsed = parse_broker_username(username)
    principal = principal_for_token_id(session, *parsed) if parsed else None
    if principal is None:
        raise Unauthorized(AUTH_FAILED, headers=WWW_AUTHENTICATE)
    return principal


class ObservationCreates:
    def __init__(self, db: Database, prefix: str, store: ObservationStore | None = None,
                 max_payload: int = 1_000_000, *, anonymous_writes: bool = False,
                 receipt_retention_hours: int = 168, inbound_prefix: str = "stadslab-in",
                 broker_accounts: bool = False):
        self.db = db
        self.prefix = prefix
        self.inbound = inbound_prefix.strip("/")
        #: the broker enforces that a writer publishes under its own username (dynamic security)
        self.broker_accounts = broker_accounts
        self.store = store or ServiceObservationStore()
        self.max_payload = max_payload
        #: development only: store unauthenticated publishes (as ``Settings.anonymous_writes`` over HTTP)
        self.anonymous_writes = anonymous_writes
        self.receipt_retention_hours = receipt_retention_hours
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.stored = 0
        self.rejected = 0
        self.ignored = 0
        self.duplicates = 0
        self.retries = 0

    def stop(self) -> None:
        self._stopping.set()

    def filters(self) -> list[str]:
        return [join(self.inbound, "+/" + join(self.prefix, f)) for f in CREATE_FILTERS]

    def handle(self, message: BusMessage) -> bool:
        """Store one publish; ``False`` (withhold the PUBACK) only when stopping mid-retry."""
        if NOTIFICATION_MARKER in message.user_properties:
            self._count("ignored")
            return True
        topic = loggable_topic(message.topic)
        delay = RETRY_FIRST
        while True:
            try:
                ids = self._store(message)
                break
            except StadslabError as exc:
                self._count("rejected")
                log.warning("MQTT create on %s dropped: %s", topic, describe(exc))
                return True
            except Exception as exc:  # noqa: BLE001 - database trouble: log the kind, not the values
                if database_problem(exc) is None:
                    self._count("rejected")
                    log.error("MQTT create on %s failed: %s", topic, type(exc).__name__)
                    return True
                if self._stopping.is_set():
                    log.warning("MQTT create on %s not stored (database unavailable, stopping); "
                                "left unacknowledged for redelivery", topic)
                    return False
                self._count("retries")
                log.warning("MQTT create on %s waits %.1fs for the database: %s", topic, delay,
                            type(getattr(exc, "orig", exc)).__name__)
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
        if ids is None:
            self._count("duplicates")
        else:
            self._count("stored", len(ids))
        return True

    def _store(self, message: BusMessage) -> list[int] | None:
        """The new Observation ids, or ``None`` when this message was stored before."""
        if len(message.payload) > self.max_payload:
            raise BadRequest(f"payload larger than {self.max_payload} bytes")
        if carries_secret(message):
            raise BadRequest(SECRET_REFUSED)
        username, _, rest = (strip_prefix(self.inbound, message.topic) or "").partition("/")
        path = strip_prefix(self.prefix, rest)
        if path is None:
            raise BadRequest(f"topic is not under '{self.inbound}/<username>/{self.prefix}'")
        parent = observation_parent(path)
        try:
            body = orjson.loads(message.payload)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"payload is not JSON ({str(exc).split(':')[0]})") from None
        if not isinstance(body, dict):
            raise BadRequest("payload must be one Observation as a JSON object")
        with self.db.session() as session:
            principal = message_principal(session, username, self.broker_accounts, self.anonymous_writes)
            key = receipts.receipt_key(principal, message.topic, message.payload, body,
                                       message.user_properties)
            if key is not None and receipts.seen(session, key):
                return None
            try:
                receipt = receipts.claim(session, key, "mqtt") if key is not None else None
                ids = self.store.create_observations(session, [body], parent, principal=principal, via="mqtt")
                if receipt is not None:
                    receipt.observations = len(ids)
                session.commit()
            except IntegrityError:
                session.rollback()
                if key is not None and receipts.seen(session, key):
                    return None  # a concurrent redelivery won the race
                raise
        return ids

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)
        record_mqtt_create(name, n)  # ops: /metrics (ingest rate, outcomes, retries, last message)
