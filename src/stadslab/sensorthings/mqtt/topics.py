"""The STA MQTT topic grammar (OGC 18-088 §14): which topics a change is announced on.

A topic is ``<prefix>/<resource path>[?$select=...]``; the prefix is the STA
version (``v1.1``) by default. For an entity ``E(id)`` that was created or
updated the server publishes the entity on

* ``Es`` (its entity set) and ``Es(id)`` (the entity itself);
* every navigation collection it now belongs to, e.g. an Observation on
  ``Datastreams(1)/Observations`` and ``FeaturesOfInterest(3)/Observations``,
  a Location on ``Things(2)/Locations``;
* for updates, ``Es(id)/<property>`` for each changed property, with the
  payload ``{"<property>": value}`` (as ``GET Es(id)/<property>`` answers);
* any ``$select`` topic (see ``SelectTopics``) whose path is one of the above.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.core.errors import StadslabError

from ..access import visibility
from ..model.entities import BY_SET, ENTITY_TYPES, EntityType, reverse_nav
from ..model.urls import parse_path


def join(prefix: str, path: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{path}" if prefix else path


def strip_prefix(prefix: str, topic: str) -> str | None:
    """The resource path of ``topic``, or None when it is not under ``prefix``."""
    prefix = prefix.strip("/")
    if not prefix:
        return topic
    if topic.startswith(prefix + "/"):
        return topic[len(prefix) + 1:]
    return None


def notification_paths(session: Session, et: EntityType, row: Mapping[str, Any], principal: Principal,
                       ) -> list[str]:
    """Resource paths (without prefix) of the collections and the entity a row appears in.

    Collections owned by an entity ``principal`` may not see are left out (a Location
    shared by an open and a restricted Thing is announced under the open one only).
    """
    id_ = row["id"]
    paths = [et.set_name, f"{et.set_name}({id_})"]
    for nav in et.navs.values():
        target = ENTITY_TYPES[nav.target]
        back = reverse_nav(et, nav)
        if back is None or not back.many:
            continue
        if nav.kind == "out":
            # what a visible row points at is visible (a rule of ``visibility``): no check needed
            if row.get(nav.fk) is not None:
                paths.append(f"{target.set_name}({row[nav.fk]})/{back.name}")
        elif nav.kind == "link":
            link = nav.link
            query = select(link.c[nav.link_target]).where(link.c[nav.link_source] == id_)
            hidden = visibility.clause(principal, target.name)
            if hidden is not None:
                query = query.where(link.c[nav.link_target].in_(select(target.table.c.id).where(hidden)))
            owners = session.scalars(query)
            paths.extend(f"{target.set_name}({owner})/{back.name}" for owner in owners)
    return paths


@dataclass(frozen=True)
class SelectTopic:
    """A ``$select`` topic, kept verbatim: the broker matches topics byte for byte."""

    raw: str  # the resource path with its query, e.g. "Observations?$select=result"
    path: str  # "Observations"
    select: tuple[str, ...]  # STA names as entity_json expects them ("id", "result", ...)


def parse_select_topic(text: str) -> SelectTopic:
    """Raises ValueError naming what is wrong (used for settings and learned topics)."""
    path, sep, query = text.partition("?")
    if not sep or not query:
        raise ValueError(f"'{text[:100]}' has no ?$select=... part")
    if "+" in text or "#" in text:
        raise ValueError("wildcards cannot be combined with $select")
    try:
        rp = parse_path(path)
    except StadslabError as exc:
        raise ValueError(f"'{path[:100]}': {exc.detail}") from None
    if rp.prop is not None or rp.ref or rp.aggregate or rp.value:
        raise ValueError(f"'{path[:100]}' must name an entity set, an entity or a navigation collection")
    options = parse_qsl(query, keep_blank_values=True)
    if [k for k, _ in options] != ["$select"]:
        raise ValueError("only a single $select query option is supported in MQTT topics")
    et = rp.target
    names = []
    for raw_name in options[0][1].split(","):
        name = raw_name.strip()
        name = "id" if name == "@iot.id" else name
        if name != "id" and name not in et.props and name not in et.navs:
            raise ValueError(f"$select: '{name[:60]}' is not a property of {et.name}")
        names.append(name)
    if not names or not all(names):
        raise ValueError("$select needs at least one property name")
    return SelectTopic(text, _canonical_path(path), tuple(names))


def _canonical_path(path: str) -> str:
    """``Observations`` and ``/Observations/`` are the same resource."""
    return "/".join(p for p in path.strip("/").split("/") if p)


class SelectTopics:
    """The ``$select`` topics the server publishes on: configured ones plus learned ones.

    Thread-safe: learned topics arrive on the bus thread while notifications are
    computed on the notifier thread.
    """

    def __init__(self, configured: Iterable[str] = (), learned_max: int = 200):
        self._lock = threading.Lock()
        self._by_path: dict[str, dict[str, SelectTopic]] = {}
        self._learned: dict[str, SelectTopic] = {}
        self.learned_max = learned_max
        self.rejected: list[tuple[str, str]] = []
        for text in configured:
            try:
                self._add(parse_select_topic(text))
            except ValueError as exc:
                self.rejected.append((text, str(exc)))

    def _add(self, topic: SelectTopic) -> None:
        self._by_path.setdefault(topic.path, {})[topic.raw] = topic

    def learn(self, text: str) -> bool:
        """Add a topic a client subscribed to; False when invalid, known, or the cap is reached."""
        try:
            topic = parse_select_topic(text)
        except ValueError:
            return False
        with self._lock:
            if topic.raw in self._by_path.get(topic.path, {}) or len(self._learned) >= self.learned_max:
                return False
            self._learned[topic.raw] = topic
            self._add(topic)
            return True

    def forget(self, text: str) -> None:
        with self._lock:
            topic = self._learned.pop(text, None)
            if topic is not None:
                self._by_path.get(topic.path, {}).pop(topic.raw, None)

    def for_path(self, path: str) -> list[SelectTopic]:
        with self._lock:
            return list(self._by_path.get(path, {}).values())

    def all(self) -> list[SelectTopic]:
        with self._lock:
            return [t for group in self._by_path.values() for t in group.values()]


def entity_type_of_set(set_name: str) -> EntityType | None:
    return BY_SET.get(set_name)
