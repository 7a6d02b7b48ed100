"""Wiring of the MQTT extension into one server process.

``MqttRuntime`` owns the bus, the notifier, the change feed and the create
handler of one process. ``start_mqtt``/``stop_mqtt`` are the FastAPI lifespan
hooks; without ``STADSLAB_MQTT_URL`` the runtime holds a ``NullBus`` and does
nothing at all, so the HTTP API works on its own. With
``STADSLAB_MQTT_DYNAMIC_SECURITY`` it also drives the broker's accounts and ACLs
(``broker_acl``): it follows token changes and stream access classes, and
reconciles everything once at start.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter

from fastapi import FastAPI

from stadslab.core.config import Settings
from stadslab.core.database import Database

from ..read.serialize import STA_PREFIX, Links
from .broker_acl import BrokerControl, BrokerError, DynsecControl, NullControl
from .bus import BusMessage, MessageBus, NullBus
from .changes import ChangeFeed
from .ingest import ObservationCreates
from .notify import Notifier
from .paho_bus import drain_session, make_bus
from .slots import Slot, claim_slot, client_id, orphaned_slots
from .topics import SelectTopics, strip_prefix

log = logging.getLogger("stadslab.mqtt")

#: Mosquitto publishes its log here with ``log_dest topic`` (+ ``log_type subscribe``).
SYS_SUBSCRIBE_LOG = "$SYS/broker/log/M/subscribe"
SYS_UNSUBSCRIBE_LOG = "$SYS/broker/log/M/unsubscribe"
_LOG_TIME = re.compile(r"^\d+:\s+")


def links_for_settings(settings: Settings) -> Links:
    """SelfLinks in notifications: there is no request to take a host from, so the
    configured external URL is used; without one the links are host-relative."""
    base = (settings.external_base_url or "").rstrip("/")
    return Links(base + STA_PREFIX)


class MqttRuntime:
    def __init__(self, settings: Settings, db: Database, bus: MessageBus | None = None):
        self.settings = settings
        self.db = db
        self.slot: Slot | None = None
        self.bus = bus if bus is not None else self._make_bus(settings)
        self.prefix = settings.mqtt_topic_prefix.strip("/")
        self.selects = SelectTopics(settings.mqtt_select_topics, settings.mqtt_learned_topics_max)
        for text, why in self.selects.rejected:
            log.warning("ignoring MQTT $select topic %r: %s", text[:100], why)
        origin = getattr(self.bus, "client_id", "server")
        self.notifier = Notifier(db, self.bus, prefix=self.prefix, links=links_for_settings(settings),
                                 qos=settings.mqtt_qos, selects=self.selects, origin=origin)
        self.control: BrokerControl = NullControl()
        if settings.mqtt_dynamic_security and self.enabled:
            self.control = DynsecControl(db, self.bus, prefix=self.prefix,
                                         inbound_prefix=settings.mqtt_inbound_prefix,
                                         server_username=settings.mqtt_username)
        self.feed = ChangeFeed(db, self._changed)  # one feed: it hands each commit's changes out once
        self.creates = ObservationCreates(db, self.prefix, anonymous_writes=settings.anonymous_writes,
                                          receipt_retention_hours=settings.ingest_receipt_retention_hours,
                                          inbound_prefix=settings.mqtt_inbound_prefix,
                                          broker_accounts=self.control.enabled)
        self._learned_counts: Counter[str] = Counter()
        self.running = False

    def _make_bus(self, settings: Settings) -> MessageBus:
        """The server's bus: acknowledges only stored creates, and (with a session expiry)
        resumes its persistent session under the client id of its worker slot."""
        if not settings.mqtt_url:
            return NullBus()
        options: dict = {"manual_ack": True}
        if settings.mqtt_username:
            options.update(username=settings.mqtt_username, password=settings.mqtt_password)
        if settings.mqtt_session_expiry_seconds:
            self.slot = claim_slot(f"{settings.mqtt_url}|{settings.mqtt_shared_group}", settings.mqtt_slot_dir)
            options.update(client_id=client_id(settings.mqtt_shared_group, self.slot.number,
                                               settings.mqtt_client_id_base),
                           session_expiry=settings.mqtt_session_expiry_seconds)
        return make_bus(settings.mqtt_url, **options)

    def _changed(self, changes) -> None:
        self.notifier.submit(changes)
        self.control.streams_changed(changes)  # stream access classes -> broker ACLs

    @property
    def enabled(self) -> bool:
        return not isinstance(self.bus, NullBus)

    def start(self) -> None:
        if self.running or not self.enabled:
            return
        self.notifier.start()
        self.feed.install()
        if self.settings.mqtt_accept_creates:
            for topic in self.creates.filters():
                self.bus.subscribe(topic, self.creates.handle, shared_group=self.settings.mqtt_shared_group)
        if self.settings.mqtt_learn_select_topics:
            self.bus.subscribe(SYS_SUBSCRIBE_LOG, self._on_subscribe_log)
            self.bus.subscribe(SYS_UNSUBSCRIBE_LOG, self._on_unsubscribe_log)
        self.bus.start()
        self.running = True
        if self.control.enabled:
            self._start_control()
        if self.slot is not None and self.slot.number == 0 and self.settings.mqtt_workers:
            threading.Thread(target=self._adopt_orphans, name="mqtt-orphans", daemon=True).start()

    def _adopt_orphans(self) -> None:
        """After the worker count went down, the sessions of slots no worker holds any more keep
        receiving their share of the creates and would drop it when they expire. The first worker
        takes each over once, stores what it holds, and ends it."""
        scope = f"{self.settings.mqtt_url}|{self.settings.mqtt_shared_group}"
        for slot in orphaned_slots(scope, self.settings.mqtt_slot_dir, keep=self.settings.mqtt_workers):
            cid = client_id(self.settings.mqtt_shared_group, slot.number, self.settings.mqtt_client_id_base)
            try:
                handled = drain_session(self.settings.mqtt_url, cid, self.creates.handle,
                                        username=self.settings.mqtt_username, password=self.settings.mqtt_password)
                log.info("MQTT session %s of a worker slot no longer used: %d message(s) stored, session ended",
                         cid, handled)
                slot.forget()
            except Exception:  # noqa: BLE001 - the next start tries again
                log.exception("taking over the MQTT session %s failed", cid)
                slot.release()

    def _start_control(self) -> None:
        from stadslab.governance.service import token_listeners

        self.control.start()
        token_listeners.append(self.control.token_event)
        try:
            report = self.control.sync()
            log.info("MQTT broker ACLs in line: %d hidden stream topic(s), %d account(s) removed",
                     report.hidden_topics, len(report.accounts_deleted))
        except BrokerError as exc:
            log.error("MQTT broker ACLs not synchronised (run `stadslab mqtt sync`): %s", exc)

    def stop(self) -> None:
        if not self.running:
            if self.slot is not None:
                self.slot.release()
            return
        self.running = False
        if self.control.enabled:
            from stadslab.governance.service import token_listeners

            if self.control.token_event in token_listeners:
                token_listeners.remove(self.control.token_event)
            self.control.stop()
        self.creates.stop()  # a create waiting for the database gives up, unacknowledged
        self.feed.remove()
        self.notifier.drain(timeout=5.0)
        self.notifier.stop()
        self.bus.stop()
        if self.slot is not None:
            self.slot.release()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        wait = getattr(self.bus, "wait_ready", None)
        return bool(wait and wait(timeout))

    # ------------------------------------------------------------------ $select learning
    def _topic_from_log(self, message: BusMessage) -> str | None:
        """Mosquitto log lines: ``<time>: <client> <qos> <topic>`` / ``<time>: <client> <topic>``.

        The topic is found by its prefix, not by splitting on spaces: client ids
        and topics may both contain spaces.
        """
        text = _LOG_TIME.sub("", message.payload.decode("utf-8", "replace"), count=1)
        at = text.find(f" {self.prefix}/")
        if at < 0:
            return None
        path = strip_prefix(self.prefix, text[at + 1:].rstrip("\r\n"))
        return path if path and "?" in path else None

    def _on_subscribe_log(self, message: BusMessage) -> None:
        path = self._topic_from_log(message)
        if path is None:
            return
        self._learned_counts[path] += 1
        if self.selects.learn(path):
            log.info("serving MQTT $select topic %s/%s", self.prefix, path[:200])

    def _on_unsubscribe_log(self, message: BusMessage) -> None:
        path = self._topic_from_log(message)
        if path is None or path not in self._learned_counts:
            return
        self._learned_counts[path] -= 1
        if self._learned_counts[path] <= 0:
            del self._learned_counts[path]
            self.selects.forget(path)


def start_mqtt(app: FastAPI) -> MqttRuntime:
    """Lifespan start hook: ``app.state.mqtt`` is always set, enabled or not."""
    runtime = MqttRuntime(app.state.settings, app.state.db)
    app.state.mqtt = runtime
    runtime.start()
    if runtime.enabled:
        log.info("SensorThings MQTT enabled: topics under '%s/'", runtime.prefix)
    return runtime


def stop_mqtt(app: FastAPI) -> None:
    runtime: MqttRuntime | None = getattr(app.state, "mqtt", None)
    if runtime is not None:
        runtime.stop()
