"""Query options ($select, $expand, $orderby, $top, $skip, $count, $filter, $resultFormat).

Options are parsed against the entity type they apply to, so a bad name is
reported with the option and the nesting it was found in (e.g.
``$expand=Datastreams($orderby=nme)`` → "$expand/Datastreams/$orderby: ...").
``$filter`` text is kept raw here and compiled by the ``filter`` package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stadslab.core.errors import BadRequest

from ..model.entities import ENTITY_TYPES, EntityType

MAX_EXPAND_DEPTH = 5
KNOWN = ("$select", "$expand", "$orderby", "$top", "$skip", "$count", "$filter", "$resultFormat")


@dataclass
class Options:
    entity: EntityType
    select: list[str] | None = None
    expand: list["Expand"] = field(default_factory=list)
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    top: int | None = None
    skip: int = 0
    count: bool = False
    filter: str | None = None
    result_format: str | None = None

    def as_query(self) -> dict[str, str]:
        """The options again as query parameters (for nextLinks)."""
        q: dict[str, str] = {}
        if self.filter:
            q["$filter"] = self.filter
        if self.select:
            q["$select"] = ",".join(self.select)
        if self.expand:
            q["$expand"] = ",".join(e.render() for e in self.expand)
        if self.orderby:
            q["$orderby"] = ",".join(f"{n} desc" if d else n for n, d in self.orderby)
        if self.count:
            q["$count"] = "true"
        if self.result_format:
            q["$resultFormat"] = self.result_format
        return q


@dataclass
class Expand:
    nav: str
    options: Options

    def render(self) -> str:
        inner = ";".join(f"{k}={v}" for k, v in self.options.as_query().items())
        if self.options.top is not None:
            inner = ";".join(x for x in (inner, f"$top={self.options.top}") if x)
        if self.options.skip:
            inner = ";".join(x for x in (inner, f"$skip={self.options.skip}") if x)
        return f"{self.nav}({inner})" if inner else self.nav


def _bad(where: str, msg: str) -> BadRequest:
    return BadRequest(f"{where}: {msg}", errors=[{"loc": ["query", *where.split("/")], "field": where,
                                                   "msg": msg}])


def split_top(text: str, sep: str, where: str) -> list[str]:
    """Split on ``sep`` outside parentheses and single-quoted strings."""
    out, depth, quoted, start = [], 0, False, 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    i += 1
                else:
                    quoted = False
        elif ch == "'":
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise _bad(where, "unbalanced ')'")
        elif ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
        i += 1
    if quoted:
        raise _bad(where, "unterminated string literal")
    if depth:
        raise _bad(where, "unbalanced '('")
    out.append(text[start:])
    return out


def parse_options(raw: dict[str, str], entity: EntityType, *, max_top: int, where: str = "",
                  depth: int = 0) -> Options:
    opts = Options(entity)
    for key, value in raw.items():
        loc = f"{where}{key}"
        if key not in KNOWN:
            raise _bad(loc, f"unknown query option '{key[:40]}'. Known: {', '.join(KNOWN)}")
        if key == "$select":
            opts.select = _parse_select(value, entity, loc)
        elif key == "$expand":
            opts.expand = _parse_expand(value, entity, loc, max_top=max_top, depth=depth)
        elif key == "$orderby":
            opts.orderby = _parse_orderby(value, entity, loc)
        elif key in ("$top", "$skip"):
            n = _parse_int(value, loc)
            if key == "$top":
                # above the server's maximum: the maximum, with an @iot.nextLink to the rest (FROST-Server)
                opts.top = min(n, max_top)
            else:
                opts.skip = n
        elif key == "$count":
            if value not in ("true", "false"):
                raise _bad(loc, "must be true or false")
            opts.count = value == "true"
        elif key == "$filter":
            if not value.strip():
                raise _bad(loc, "empty filter")
            opts.filter = value
        elif key == "$resultFormat":
            if value != "dataArray":
                raise _bad(loc, "the only supported result format is dataArray")
            if entity.name != "Observation":
                raise _bad(loc, "dataArray is available for Observations only")
            opts.result_format = value
    return opts


def _parse_int(value: str, loc: str) -> int:
    v = value.strip()
    if not v.isdigit() or len(v) > 12:
        raise _bad(loc, f"'{value[:40]}' is not a non-negative integer")
    return int(v)


def _parse_select(value: str, entity: EntityType, loc: str) -> list[str]:
    names = [n.strip() for n in value.split(",")]
    out = []
    for n in names:
        if n in ("id", "@iot.id"):
            out.append("id")
        elif n in entity.props or n in entity.navs:
            out.append(n)
        else:
            known = ", ".join(["id", *entity.props, *entity.navs])
            raise _bad(loc, f"'{n[:60]}' is not a property of {entity.name}. Known: {known}")
    if not out:
        raise _bad(loc, "empty $select")
    return out


def _parse_orderby(value: str, entity: EntityType, loc: str) -> list[tuple[str, bool]]:
    out = []
    for item in value.split(","):
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise _bad(loc, f"'{item.strip()[:60]}' is not 'property [asc|desc]'")
        name = "id" if words[0] in ("id", "@iot.id") else words[0]
        prop = entity.props.get(name)
        if name != "id" and (prop is None or prop.kind in ("json", "any", "geojson")):
            sortable = ", ".join(["id", *(p.name for p in entity.props.values()
                                          if p.kind not in ("json", "any", "geojson"))])
            raise _bad(loc, f"cannot order {entity.name} by '{name[:60]}'. Sortable: {sortable}")
        out.append((name, len(words) == 2 and words[1].lower() == "desc"))
    return out


def _parse_expand(value: str, entity: EntityType, loc: str, *, max_top: int, depth: int) -> list[Expand]:
    items: list[Expand] = []
    for item in split_top(value, ",", loc):
        item = item.strip()
        if not item:
            raise _bad(loc, "empty item in $expand")
        inner_raw = None
        head = item
        if item.endswith(")"):
            open_at = item.find("(")
            if open_at <= 0:
                raise _bad(loc, f"malformed item '{item[:60]}'")
            head, inner_raw = item[:open_at], item[open_at + 1:-1]
        elif "(" in item:
            raise _bad(loc, f"malformed item '{item[:60]}'")
        path = head.split("/")
        items.append(_expand_path(path, inner_raw, entity, loc, max_top=max_top, depth=depth))
    return _merge(items)


def _expand_path(path: list[str], inner_raw: str | None, entity: EntityType, loc: str, *, max_top: int,
                 depth: int) -> Expand:
    name = path[0].strip()
    if depth + 1 > MAX_EXPAND_DEPTH:
        raise _bad(loc, f"$expand may nest at most {MAX_EXPAND_DEPTH} levels deep")
    nav = entity.navs.get(name)
    if nav is None:
        known = ", ".join(entity.navs)
        raise _bad(loc, f"'{name[:60]}' is not a navigation property of {entity.name}. Known: {known}")
    target = ENTITY_TYPES[nav.target]
    sub = f"{loc}/{name}/"
    if len(path) > 1:
        child = _expand_path(path[1:], inner_raw, target, sub + "$expand", max_top=max_top, depth=depth + 1)
        return Expand(name, Options(target, expand=[child]))
    raw: dict[str, str] = {}
    if inner_raw is not None:
        for part in split_top(inner_raw, ";", sub.rstrip("/")):
            if not part.strip():
                continue
            key, eq, val = part.partition("=")
            key = key.strip()
            if not eq:
                raise _bad(sub.rstrip("/"), f"'{part[:60]}' is not option=value")
            if key in raw:
                raise _bad(sub + key, "given twice")
            raw[key] = val
    return Expand(name, parse_options(raw, target, max_top=max_top, where=sub, depth=depth + 1))


def _merge(items: list[Expand]) -> list[Expand]:
    """``Datastreams,Datastreams/Observations`` expands Datastreams once, with Observations inside."""
    merged: dict[str, Expand] = {}
    for item in items:
        if item.nav in merged:
            merged[item.nav].options.expand = _merge(merged[item.nav].options.expand + item.options.expand)
        else:
            merged[item.nav] = item
    return list(merged.values())
