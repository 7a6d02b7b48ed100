"""Publishing committed entity changes on the STA MQTT topics.

Changes arrive from ``ChangeFeed`` right after a commit, on whatever thread
committed (an HTTP request, the MQTT create handler, a LoRaWAN webhook). They
are queued and published by one background thread so that a slow or absent
broker never slows a write down; the entity is read back from the database so
that the payload is exactly what ``GET`` returns (``entity_json`` with
selfLinks), including server-computed values.

Only what an anonymous caller may read is published (``PUBLIC``): a broker
hands a message to every subscriber of a topic and cannot filter per reader,
so entities of network or restricted Things and Datastreams are never
announced, and neither are the navigation topics of hidden entities
(``Things(<restricted>)/Locations``). Their data is available over HTTP only.

Every notification carries the MQTT 5 user property ``NOTIFICATION_MARKER``:
creates arrive on the same topics that notifications are published on (the
standard wants it so), and the marker is how a server worker recognises a
notification, its own or another worker's, and does not store it again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict

from sqlalchemy import select

from stadslab.core import json_limits
from stadslab.core.auth import ANONYMOUS
from stadslab.core.database import Database

from ..access import public_geometry, visibility
from ..model.entities import ENTITY_TYPES
from ..read.serialize import Links, entity_json, property_value
from .bus import MessageBus
from .changes import EntityChange
from .topics import SelectTopics, join, notification_paths

log = logging.getLogger("stadslab.mqtt")

NOTIFICATION_MARKER = "stadslab-notification"
#: Whose view notifications show: every subscriber of a topic gets the message.
PUBLIC = ANONYMOUS
_STOP = object()
_CHUNK = 500


class Notifier:
    def __init__(self, db: Database, bus: MessageBus, *, prefix: str, links: Links, qos: int = 1,
                 selects: SelectTopics | None = None, queue_size: int = 10_000, origin: str = "server",
                 max_queued_changes: int = 100_000):
        self.db = db
        self.bus = bus
        self.prefix = prefix
        self.links = links
        self.qos = qos
        self.selects = selects or SelectTopics()
        self.marker = {NOTIFICATION_MARKER: origin}
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._busy = 0
        self.published = 0
        self.dropped_batches = 0
        #: Bounded by changes, not only by batches: one CreateObservations batch may hold thousands,
        #: and a broker that cannot keep up must not make the process grow without limit.
        self.max_queued_changes = max_queued_changes
        self.queued_changes = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sta-mqtt-notifier", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish what is queued, then end the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, changes: list[EntityChange]) -> None:
        """Called after a commit; never blocks the committing thread."""
        with self._idle:
            if self.queued_changes + len(changes) > self.max_queued_changes:
                self.dropped_batches += 1
                log.warning("MQTT notification queue full (%d changes waiting); %d change(s) not announced",
                            self.queued_changes, len(changes))
                return
            self._busy += 1
            self.queued_changes += len(changes)
        try:
            self._queue.put_nowait(changes)
        except queue.Full:
            self._done(len(changes))
            self.dropped_batches += 1
            log.warning("MQTT notification queue full; %d change(s) not announced", len(changes))

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted change has been published (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def _done(self, changes: int = 0) -> None:
        with self._idle:
            self._busy -= 1
            self.queued_changes -= changes
            self._idle.notify_all()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self.publish_changes(item)
            except Exception:  # noqa: BLE001 - keep the notifier alive whatever one batch does
                log.exception("announcing %d entity change(s) over MQTT failed", len(item))
            finally:
                self._done(len(item))

    # ------------------------------------------------------------------ publishing
    def publish_changes(self, changes: list[EntityChange]) -> None:
        by_type: dict[str, dict[int, EntityChange]] = defaultdict(dict)
        for change in changes:
            if change.entity in ENTITY_TYPES:
                by_type[change.entity][change.id] = change
        with self.db.session() as session:
            for name, wanted in by_type.items():
                et = ENTITY_TYPES[name]
                ids = sorted(wanted)
                for start in range(0, len(ids), _CHUNK):
                    chunk = ids[start:start + _CHUNK]
                    rows = [r._mapping for r in session.execute(select(et.table).where(
                        et.table.c.id.in_(chunk), *visibility.where(PUBLIC, et.name)))]
                    # positions at their public precision, as an anonymous GET shows them
                    for mapping in public_geometry.public_rows(session, PUBLIC, et.name, rows):
                        self._publish_entity(session, et, mapping, wanted[mapping["id"]])

    def _publish_entity(self, session, et, row, change: EntityChange) -> None:
        body = json_limits.dumps(entity_json(et, row, self.links, None))
        for path in notification_paths(session, et, row, PUBLIC):
            self._send(path, body)
            for topic in self.selects.for_path(path):
                self._send(topic.raw, json_limits.dumps(entity_json(et, row, self.links, list(topic.select))))
        if change.kind == "update":
            names = change.properties if change.properties is not None else et.props.keys()
            for name in names:
                prop = et.props.get(name)
                if prop is not None:
                    value = property_value(prop, row)
                    self._send(f"{et.set_name}({row['id']})/{name}", json_limits.dumps({name: value}))

    def _send(self, path: str, payload: bytes) -> None:
        self.bus.publish(join(self.prefix, path), payload, self.qos, self.marker)
        self.published += 1
