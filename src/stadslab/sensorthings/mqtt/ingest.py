"""Creating Observations from MQTT publishes (OGC 18-088 §14.2.2).

Clients publish one Observation JSON to ``v1.1/Observations`` (the body names
its Datastream) or to ``v1.1/Datastreams(1)/Observations`` (likewise
``MultiDatastreams(id)`` and ``FeaturesOfInterest(id)``). The server listens
with MQTT 5 shared subscriptions, so with several workers each publish reaches
exactly one of them and is stored once.

A message that cannot be stored is logged with the topic and the reason (never
its payload, which may hold personal data) and dropped: there is nobody to
answer, and one bad sensor must not stop the others.

Loop guard: notifications are published on these same topics. A message with
the ``NOTIFICATION_MARKER`` user property is the server speaking and is
ignored; should a bridge strip user properties, the ``@iot.id`` every
notification carries still makes it an invalid create.
"""

from __future__ import annotations

import logging
import threading

import orjson

from stadslab.core.database import Database
from stadslab.core.errors import BadRequest, StadslabError

from .bus import BusMessage
from .notify import NOTIFICATION_MARKER
from .store import ObservationStore, ServiceObservationStore, describe, observation_parent
from .topics import join, strip_prefix

log = logging.getLogger("stadslab.mqtt.ingest")

#: Topic filters (below the prefix) that carry Observation creates.
CREATE_FILTERS = ("Observations", "+/Observations")


class ObservationCreates:
    def __init__(self, db: Database, prefix: str, store: ObservationStore | None = None,
                 max_payload: int = 1_000_000):
        self.db = db
        self.prefix = prefix
        self.store = store or ServiceObservationStore()
        self.max_payload = max_payload
        self._lock = threading.Lock()
        self.stored = 0
        self.rejected = 0
        self.ignored = 0

    def filters(self) -> list[str]:
        return [join(self.prefix, f) for f in CREATE_FILTERS]

    def handle(self, message: BusMessage) -> None:
        if NOTIFICATION_MARKER in message.user_properties:
            self._count("ignored")
            return
        topic = message.topic[:200]
        try:
            ids = self._store(message)
        except StadslabError as exc:
            self._count("rejected")
            log.warning("MQTT create on %s dropped: %s", topic, describe(exc))
            return
        except Exception as exc:  # noqa: BLE001 - database trouble: log the kind, not the values
            self._count("rejected")
            log.error("MQTT create on %s failed: %s", topic, type(exc).__name__)
            return
        self._count("stored", len(ids))

    def _store(self, message: BusMessage) -> list[int]:
        path = strip_prefix(self.prefix, message.topic)
        if path is None:
            raise BadRequest(f"topic is not under '{self.prefix}'")
        parent = observation_parent(path)
        if len(message.payload) > self.max_payload:
            raise BadRequest(f"payload larger than {self.max_payload} bytes")
        try:
            body = orjson.loads(message.payload)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"payload is not JSON ({str(exc).split(':')[0]})") from None
        if not isinstance(body, dict):
            raise BadRequest("payload must be one Observation as a JSON object")
        with self.db.session() as session:
            ids = self.store.create_observations(session, [body], parent)
            session.commit()
        return ids

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)
