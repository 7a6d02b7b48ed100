"""The message bus the SensorThings MQTT extension talks through.

Everything MQTT-related in the server (notifications, creates over MQTT) uses
this small interface rather than a client library, so that

* the HTTP API works on its own when no broker is configured (``NullBus``);
* the broker client (paho-mqtt today) can be replaced without touching the
  STA logic;
* tests can run two buses side by side to check shared-subscription behaviour.

This module is the interface only: the paho implementation (``paho_bus``) depends on it,
never the other way, and ``paho_bus.make_bus`` picks the bus for a configured URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

log = logging.getLogger("stadslab.mqtt")


@dataclass(frozen=True)
class BusMessage:
    topic: str
    payload: bytes
    qos: int = 0
    #: MQTT 5 user properties; how the server marks its own notifications.
    user_properties: dict[str, str] = field(default_factory=dict)
    retain: bool = False


#: A handler may return ``False`` to withhold the acknowledgement (the broker then redelivers).
Handler = Callable[[BusMessage], bool | None]


@runtime_checkable
class MessageBus(Protocol):
    """A publish/subscribe connection. Implementations reconnect by themselves."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: bytes | str, qos: int = 0,
                user_properties: dict[str, str] | None = None) -> None:
        """Fire and forget; never raises because the broker is away (the message is dropped)."""

    def subscribe(self, topic: str, handler: Handler, shared_group: str | None = None) -> None:
        """Deliver messages matching ``topic`` to ``handler``.

        With ``shared_group`` the subscription is the MQTT 5 shared subscription
        ``$share/<group>/<topic>``: each message goes to one member of the group,
        which is how several server workers store a published Observation once.
        Subscriptions survive reconnects.
        """

    def start(self) -> None: ...

    def stop(self) -> None: ...


class NullBus:
    """No broker configured: publishing goes nowhere, subscriptions never fire.

    Keeps the rest of the server free of ``if bus is not None`` checks.
    """

    connected = False

    def __init__(self) -> None:
        self.subscriptions: list[tuple[str, str | None]] = []

    def publish(self, topic: str, payload: bytes | str, qos: int = 0,
                user_properties: dict[str, str] | None = None) -> None:
        return None

    def subscribe(self, topic: str, handler: Handler, shared_group: str | None = None) -> None:
        self.subscriptions.append((topic, shared_group))

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return False

