"""SensorThings API MQTT extension (OGC 18-088 §14): notifications and creates over MQTT.

See docs/sensorthings.md, section "MQTT", for the topics and the design choices.
"""

from .bus import BusMessage, MessageBus, NullBus
from .changes import ChangeFeed, EntityChange, record
from .paho_bus import make_bus

__all__ = ["BusMessage", "ChangeFeed", "EntityChange", "MessageBus", "NullBus", "make_bus", "record"]
