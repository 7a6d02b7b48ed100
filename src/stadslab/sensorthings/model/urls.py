"""Resource paths of the STA URL grammar (OGC 18-088 §9.2), parsed and checked against the model.

``Things(1)/Datastreams(2)/Observations``, ``Datastreams(1)/Thing``,
``Things(1)/name/$value``, ``Things/$ref``, ``Datastreams(1)/Observations/$aggregate``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stadslab.core.errors import BadRequest, NotFound

from .entities import BY_SET, ENTITY_TYPES, EntityType

_SEGMENT_RE = re.compile(r"^([A-Za-z]+)(?:\((.*)\))?$")


@dataclass
class Segment:
    name: str
    entity: EntityType
    key: int | None
    many: bool  # True when this segment without a key names a collection


@dataclass
class ResourcePath:
    segments: list[Segment] = field(default_factory=list)
    prop: str | None = None
    value: bool = False
    ref: bool = False
    aggregate: bool = False

    @property
    def target(self) -> EntityType:
        return self.segments[-1].entity

    @property
    def is_collection(self) -> bool:
        return self.segments[-1].many and self.segments[-1].key is None and self.prop is None

    def parent(self) -> tuple[Segment, str] | None:
        """For a collection reached by navigation: the owning segment and the navigation name."""
        if len(self.segments) < 2:
            return None
        return self.segments[-2], self.segments[-1].name


def _bad(msg: str) -> BadRequest:
    return BadRequest(msg, errors=[{"loc": ["path"], "field": "path", "msg": msg}])


def parse_key(raw: str, where: str) -> int:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    if not re.fullmatch(r"\d{1,18}", text):
        raise _bad(f"{where}: id '{raw[:40]}' is not a valid id (ids are positive integers)")
    return int(text)


def parse_path(path: str) -> ResourcePath:
    parts = [p for p in path.strip("/").split("/") if p != ""]
    if not parts:
        raise _bad("empty resource path")
    rp = ResourcePath()
    current: EntityType | None = None
    i = 0
    while i < len(parts):
        part = parts[i]
        if part in ("$ref", "$value", "$aggregate"):
            _special(rp, part, parts, i)
            break
        m = _SEGMENT_RE.match(part)
        if not m:
            raise _bad(f"'{part[:60]}' is not a valid path segment")
        name, raw_key = m.group(1), m.group(2)
        if current is None:
            et = BY_SET.get(name)
            if et is None:
                raise NotFound(f"No entity set named '{name[:60]}'. Known sets: {', '.join(sorted(BY_SET))}")
            key = parse_key(raw_key, name) if raw_key is not None else None
            rp.segments.append(Segment(name, et, key, True))
            current = et
        else:
            last = rp.segments[-1]
            if last.many and last.key is None:
                raise _bad(f"'{name}' cannot follow the collection '{last.name}'; address one entity "
                           f"first, e.g. {last.name}(1)/{name}")
            nav = current.navs.get(name)
            if nav is None:
                if raw_key is None and name in current.props:
                    rp.prop = name
                    if i + 1 < len(parts):
                        if parts[i + 1] != "$value" or i + 2 < len(parts):
                            raise _bad(f"only $value may follow the property '{name}'")
                        rp.value = True
                    return rp
                # no such resource (FROST-Server and OData: 404), with the names that do exist
                known = ", ".join([*current.props, *current.navs])
                raise NotFound(f"'{name[:60]}' is not a property or navigation property of {current.name}. "
                               f"Known: {known}", errors=[{"loc": ["path"], "field": "path",
                                                           "msg": f"no property or navigation property "
                                                                  f"'{name[:60]}' of {current.name}"}])
            if raw_key is not None and not nav.many:
                raise _bad(f"{current.name}/{name} is a single entity and takes no id")
            key = parse_key(raw_key, name) if raw_key is not None else None
            current = ENTITY_TYPES[nav.target]
            rp.segments.append(Segment(name, current, key, nav.many))
        i += 1
    return rp


def _special(rp: ResourcePath, part: str, parts: list[str], i: int) -> None:
    if i + 1 != len(parts):
        raise _bad(f"nothing may follow {part}")
    if not rp.segments:
        raise _bad(f"{part} must follow an entity or a collection")
    if part == "$value":
        raise _bad("$value must follow a property, e.g. Things(1)/name/$value")
    if part == "$ref":
        rp.ref = True
        return
    last = rp.segments[-1]
    if not (last.entity.name == "Observation" and last.many and last.key is None and len(rp.segments) >= 2
            and rp.segments[-2].entity.name in ("Datastream", "MultiDatastream")):
        raise _bad("$aggregate is available on Datastreams(id)/Observations only")
    rp.aggregate = True
