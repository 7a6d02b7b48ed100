"""``MessageBus`` on paho-mqtt 2.x, speaking MQTT 5.

Why MQTT 5: shared subscriptions (``$share/<group>/...``) let several server
workers split the create messages between them, user properties mark the
server's own notifications, and subscription identifiers tell which of our
subscriptions a message arrived for, so a message matching two of them is never
handled twice by the wrong handler.

Reconnects are paho's: ``loop_start`` retries the first connection and every
lost one with a back-off (1 s doubling to 30 s); on each (re)connect every
subscription is made again (a clean session has none, a resumed one keeps them).

Durability (the server's bus): with a fixed ``client_id`` and ``session_expiry``
the session is persistent (``clean_start=False``), so the broker keeps what it
could not deliver or what was not acknowledged, and hands it over when the same
client id comes back. With ``manual_ack`` the PUBACK is sent only after every
handler has returned; a handler returning ``False`` withholds it, and the broker
redelivers the message on the next connection.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from .bus import BusMessage, Handler, MessageBus, NullBus

log = logging.getLogger("stadslab.mqtt")

_SCHEMES = {"mqtt": ("tcp", False, 1883), "tcp": ("tcp", False, 1883),
            "mqtts": ("tcp", True, 8883), "ssl": ("tcp", True, 8883),
            "ws": ("websockets", False, 80), "wss": ("websockets", True, 443)}


@dataclass
class _Subscription:
    ident: int  # MQTT 5 subscription identifier
    topic: str  # the filter without any $share prefix
    handler: Handler
    group: str | None
    qos: int

    @property
    def wire_topic(self) -> str:
        return f"$share/{self.group}/{self.topic}" if self.group else self.topic


class PahoBus:
    def __init__(self, url: str, *, client_id_prefix: str = "stadslab", keepalive: int = 30,
                 subscribe_qos: int = 1, client_id: str | None = None, session_expiry: int = 0,
                 manual_ack: bool = False, username: str | None = None, password: str | None = None):
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES:
            raise ValueError(f"unsupported MQTT URL scheme '{parts.scheme}'; use one of {', '.join(_SCHEMES)}")
        transport, tls, default_port = _SCHEMES[parts.scheme]
        self.host = parts.hostname or "localhost"
        self.port = parts.port or default_port
        self.keepalive = keepalive
        self.subscribe_qos = subscribe_qos
        self.client_id = client_id or \
            f"{client_id_prefix}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # A persistent session needs a client id that outlives the process; a random one would
        # only leave orphaned sessions behind.
        self.session_expiry = session_expiry if client_id else 0
        self.manual_ack = manual_ack
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                   protocol=mqtt.MQTTv5, transport=transport, manual_ack=manual_ack)
        if transport == "websockets" and parts.path:
            self._client.ws_set_options(path=parts.path)
        if username is None and parts.username:
            username, password = unquote(parts.username), unquote(parts.password) if parts.password else None
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls:
            self._client.tls_set()
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        # Bounded buffers: a burst beyond them is dropped (and counted) instead of growing memory.
        self._client.max_inflight_messages_set(100)
        self._client.max_queued_messages_set(10_000)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._lock = threading.Lock()
        self._subs: dict[int, _Subscription] = {}
        self._ids = itertools.count(1)
        self._pending: set[int] = set()
        self._ready = threading.Condition(self._lock)
        self._started = False
        self.dropped = 0  # publishes dropped while disconnected

    # ------------------------------------------------------------------ interface
    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def publish(self, topic: str, payload: bytes | str, qos: int = 0,
                user_properties: dict[str, str] | None = None) -> None:
        if not self.connected:
            # Notifications are live events: queueing them unboundedly while the
            # broker is away would only grow memory and deliver stale news later.
            self.dropped += 1
            return
        props = None
        if user_properties:
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = list(user_properties.items())
        info = self._client.publish(topic, payload, qos=qos, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.dropped += 1
            log.debug("publish to %s not sent: %s", topic, mqtt.error_string(info.rc))

    def subscribe(self, topic: str, handler: Handler, shared_group: str | None = None,
                  qos: int | None = None) -> None:
        with self._lock:
            sub = _Subscription(next(self._ids), topic, handler, shared_group,
                                self.subscribe_qos if qos is None else qos)
            self._subs[sub.ident] = sub
            if self._client.is_connected():
                self._send_subscribe(sub)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        props = None
        if self.session_expiry:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry
        self._client.connect_async(self.host, self.port, keepalive=self.keepalive,
                                   clean_start=not self.session_expiry, properties=props)
        self._client.loop_start()

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Wait until connected and every subscription is acknowledged (tests, startup checks)."""
        with self._ready:
            return self._ready.wait_for(lambda: self._client.is_connected() and not self._pending, timeout)

    # ------------------------------------------------------------------ paho callbacks
    def _send_subscribe(self, sub: _Subscription) -> None:
        props = Properties(PacketTypes.SUBSCRIBE)
        props.SubscriptionIdentifier = sub.ident
        # No Local: the broker never hands this client its own publishes (no notification loop-back).
        # MQTT 5 forbids it on shared subscriptions, whose topics the server never publishes to.
        rc, mid = self._client.subscribe(sub.wire_topic, options=SubscribeOptions(qos=sub.qos, noLocal=not sub.group),
                                         properties=props)
        if rc == mqtt.MQTT_ERR_SUCCESS and mid is not None:
            self._pending.add(mid)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker %s:%s refused the connection: %s", self.host, self.port, reason_code)
            return
        log.info("connected to MQTT broker %s:%s as %s (session %s)", self.host, self.port, self.client_id,
                 "resumed" if getattr(flags, "session_present", False) else "new")
        with self._lock:
            self._pending.clear()
            for sub in self._subs.values():
                self._send_subscribe(sub)
            self._ready.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._started:
            log.warning("lost the MQTT broker %s:%s (%s); reconnecting", self.host, self.port, reason_code)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        for rc in reason_codes:
            if rc.is_failure:
                log.error("MQTT broker refused a subscription: %s", rc)
        with self._lock:
            self._pending.discard(mid)
            self._ready.notify_all()

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        user_props = dict(getattr(props, "UserProperty", None) or [])
        idents = getattr(props, "SubscriptionIdentifier", None) or []
        message = BusMessage(msg.topic, msg.payload, msg.qos, user_props, bool(msg.retain))
        with self._lock:
            targets = [self._subs[i] for i in idents if i in self._subs]
            if not targets:  # no subscription identifiers (or ones from an older process): match the filters
                targets = [s for s in self._subs.values() if mqtt.topic_matches_sub(s.topic, msg.topic)]
        acknowledge = True
        for sub in targets:
            try:
                if sub.handler(message) is False:
                    acknowledge = False
            except Exception:  # noqa: BLE001 - one bad message must not stop the network loop
                log.exception("MQTT handler for %s failed on a message to %s", sub.topic, msg.topic[:200])
        if self.manual_ack and acknowledge:
            self._client.ack(msg.mid, msg.qos)


def drain_session(url: str, client_id: str, handler: Handler, *, username: str | None = None,
                  password: str | None = None, quiet: float = 2.0, limit: float = 60.0) -> int:
    """Take over the persistent session ``client_id`` once, hand what the broker kept for it to
    ``handler`` (acknowledging what it accepts), and end the session when nothing arrived for
    ``quiet`` seconds (or after ``limit``): it is resumed with a session expiry of 0, so the broker
    removes it when this connection closes. Returns the number of messages handled.

    For the sessions of worker slots that no longer exist (``slots.orphaned_slots``).
    """
    parts = urlsplit(url)
    transport, tls, default_port = _SCHEMES[parts.scheme]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                         transport=transport, manual_ack=True)
    if username is None and parts.username:
        username, password = unquote(parts.username), unquote(parts.password) if parts.password else None
    if username is not None:
        client.username_pw_set(username, password)
    if tls:
        client.tls_set()
    state = {"handled": 0, "last": 0.0, "connected": threading.Event(), "present": False, "failed": False}
    import time

    def on_connect(c, userdata, flags, reason_code, properties):
        state["present"] = bool(getattr(flags, "session_present", False))
        state["failed"] = reason_code.is_failure
        state["connected"].set()

    def on_message(c, userdata, msg):
        props = getattr(msg, "properties", None)
        message = BusMessage(msg.topic, msg.payload, msg.qos, dict(getattr(props, "UserProperty", None) or []),
                             bool(msg.retain))
        try:
            ok = handler(message) is not False
        except Exception:  # noqa: BLE001
            log.exception("MQTT handler failed on a message of the orphaned session %s", client_id)
            ok = True
        if ok:
            c.ack(msg.mid, msg.qos)
        state["handled"] += 1
        state["last"] = time.monotonic()

    client.on_connect, client.on_message = on_connect, on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0  # resumed now, removed by the broker when this connection ends
    client.connect(parts.hostname or "localhost", parts.port or default_port, clean_start=False, properties=props)
    client.loop_start()
    try:
        if not state["connected"].wait(15) or state["failed"]:
            log.warning("orphaned MQTT session %s not taken over (broker refused or away)", client_id)
            return 0
        started = state["last"] = time.monotonic()
        while time.monotonic() - state["last"] < quiet and time.monotonic() - started < limit:
            time.sleep(0.1)
        return state["handled"]
    finally:
        client.disconnect()
        client.loop_stop()


def make_bus(url: str | None, *, client_id_prefix: str = "stadslab", **options) -> MessageBus:
    """A paho bus for ``mqtt://``/``mqtts://`` URLs, the null bus when no URL is set.

    ``options`` (``client_id``, ``session_expiry``, ``manual_ack``) go to ``PahoBus``.
    It lives with the implementation it builds, so that the interface needs no implementation.
    """
    if not url:
        return NullBus()
    return PahoBus(url, client_id_prefix=client_id_prefix, **options)
