"""JSON batch requests (OGC 18-088 §12 with the OData 4.01 JSON batch format).

``{"requests": [{"id", "method", "url", "body", "atomicityGroup", "dependsOn"}]}``.
Requests run in order. Each request, or each atomicity group, runs in its own
savepoint: a failing group is rolled back as a whole (its other members answer
424), while independent requests keep their effect. ``$<id>`` at the start of
a URL, or as an ``@iot.id`` value in a body, refers to the entity created by
an earlier request of the same batch.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy.orm import Session

from stadslab.core.auth import Principal
from stadslab.core.config import Settings
from stadslab.core.errors import BadRequest, StadslabError, problem_body

from .errors import frost_shape
from ..mqtt.changes import _KEY as CHANGES_KEY
from ..read.serialize import STA_PREFIX, Links

log = logging.getLogger("stadslab.sensorthings.batch")  # the name operators filter on, kept across the move
MAX_REQUESTS = 1000
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


def _body(status: int, title: str, detail: str, errors: list | None = None) -> dict:
    """A sub-response's error body: the same shape as the hub's own error answers (``errors``)."""
    return frost_shape(problem_body(status, title, detail, errors=errors))


def _problem(exc: StadslabError) -> dict:
    return _body(exc.status, exc.title, exc.detail, exc.errors)


def _check(body: Any) -> list[dict]:
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise BadRequest('A JSON batch is an object {"requests": [...]}',
                         errors=[{"loc": ["body", "requests"], "field": "requests", "msg": "required array"}])
    reqs = body["requests"]
    if len(reqs) > MAX_REQUESTS:
        raise BadRequest(f"At most {MAX_REQUESTS} requests per batch")
    seen: set[str] = set()
    groups_done: set[str] = set()
    current_group = None
    for i, r in enumerate(reqs):
        loc = ["requests", str(i)]
        if not isinstance(r, dict):
            raise BadRequest(f"requests.{i}: expected an object", errors=[{"loc": loc, "field": ".".join(loc),
                                                                           "msg": "expected an object"}])
        rid, method, url = r.get("id"), r.get("method"), r.get("url")
        for name, ok in (("id", isinstance(rid, str) and rid != ""),
                         ("method", isinstance(method, str) and method.upper() in METHODS),
                         ("url", isinstance(url, str))):
            if not ok:
                raise BadRequest(f"requests.{i}.{name}: missing or invalid",
                                 errors=[{"loc": [*loc, name], "field": f"requests.{i}.{name}",
                                          "msg": "missing or invalid"}])
        if rid in seen:
            raise BadRequest(f"requests.{i}.id: '{rid}' is used twice")
        seen.add(rid)
        group = r.get("atomicityGroup")
        if group is not None and not isinstance(group, str):
            raise BadRequest(f"requests.{i}.atomicityGroup: must be a string")
        if group != current_group:
            if current_group is not None:
                groups_done.add(current_group)
            if group in groups_done:
                raise BadRequest(f"requests.{i}: the requests of atomicity group '{group}' must be adjacent")
            current_group = group
        deps = r.get("dependsOn", [])
        if not isinstance(deps, list) or any(d not in seen for d in deps):
            raise BadRequest(f"requests.{i}.dependsOn: must list ids of earlier requests")
    return reqs


def _relative(url: str, links: Links) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(url)
    path = parts.path
    if url.startswith(links.root):
        path = urlsplit(url[len(links.root):]).path
    elif STA_PREFIX in path:
        path = path.split(STA_PREFIX, 1)[1]
    return path.strip("/"), parse_qsl(parts.query, keep_blank_values=True)


def _substitute(value: Any, ids: dict[str, int]) -> Any:
    """``{"@iot.id": "$<id>"}`` → the id created by that request; in place and iteratively, so
    a body nested however deep is left to the writer to refuse (400 naming the field)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("@iot.id")
            if isinstance(ref, str) and ref.startswith("$") and ref[1:] in ids:
                item["@iot.id"] = ids[ref[1:]]
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))
    return value


def handle(session: Session, settings: Settings, links: Links, body: Any, *, principal: Principal) -> dict:
    """Every request runs as the batch's caller (``principal``): a request in a batch sees and may
    change exactly what it could on its own; its own ``headers`` cannot carry other credentials."""
    from .dispatch import handle as dispatch

    reqs = _check(body)
    responses: list[dict] = []
    paths: dict[str, str] = {}
    ids: dict[str, int] = {}
    failed: set[str] = set()
    i = 0
    while i < len(reqs):
        group = reqs[i].get("atomicityGroup")
        j = i + 1
        while group is not None and j < len(reqs) and reqs[j].get("atomicityGroup") == group:
            j += 1
        members = reqs[i:j]
        savepoint = session.begin_nested()
        announced = dict(session.info.get(CHANGES_KEY, {}))  # MQTT changes noted before this savepoint
        out: list[dict] = []
        error_at = None
        for r in members:
            rid = r["id"]
            if any(d in failed for d in r.get("dependsOn", [])):
                out.append({"id": rid, "status": 424, "body": _body(424, "Failed dependency",
                                                                "a request this one depends on failed")})
                error_at = error_at or rid
                if group is not None:
                    break
                continue
            url = r["url"]
            if url.startswith("$"):
                ref, _, rest = url[1:].partition("/")
                if ref not in paths:
                    url = "\0"  # unknown reference: reported as a 404 below
                else:
                    url = paths[ref] + ("/" + rest if rest else "")
            path, query = _relative(url, links)
            headers = {k.lower(): v for k, v in (r.get("headers") or {}).items() if isinstance(v, str)}
            try:
                if url == "\0":
                    raise BadRequest(f"{r['url'][:60]}: refers to a request that created nothing")
                resp = dispatch(session, settings, links, r["method"], path, query,
                                _substitute(r.get("body"), ids), principal=principal, body_parsed=True,
                                commit=False, content_type=headers.get("content-type", "application/json"))
                entry: dict[str, Any] = {"id": rid, "status": resp.status}
                if resp.headers:
                    entry["headers"] = {k.lower(): v for k, v in resp.headers.items()}
                    location = resp.headers.get("Location")
                    if location:
                        paths[rid] = location[len(links.root):].strip("/")
                        ids[rid] = int(location.rsplit("(", 1)[1].rstrip(")"))
                if resp.body is not None or resp.text is not None:
                    entry["body"] = resp.body if resp.text is None else resp.text
                out.append(entry)
            except StadslabError as exc:
                out.append({"id": rid, "status": exc.status, "body": _problem(exc)})
                error_at = rid
                if group is not None:
                    break
            except Exception:  # noqa: BLE001 - one broken request must not take the batch down
                ref = uuid.uuid4().hex[:12]
                log.exception("batch request failed ref=%s", ref)
                out.append({"id": rid, "status": 500, "body": _body(500, "Internal server error",
                                                                f"Reference: {ref}")})
                error_at = rid
                if group is not None:
                    break
        if group is not None and error_at is not None:
            savepoint.rollback()
            session.info[CHANGES_KEY] = announced
            done = {e["id"] for e in out}
            for r in members:
                failed.add(r["id"])
                paths.pop(r["id"], None)
                ids.pop(r["id"], None)
            result = [e for e in out if e["id"] == error_at]
            for r in members:
                if r["id"] != error_at:
                    result.append({"id": r["id"], "status": 424, "body": _body(
                        424, "Failed dependency",
                        f"atomicity group '{group}' was rolled back: request '{error_at}' failed"
                        + ("" if r["id"] in done else " before this one ran"))})
            out = sorted(result, key=lambda e: [m["id"] for m in members].index(e["id"]))
        elif group is None and error_at is not None:
            savepoint.rollback()
            session.info[CHANGES_KEY] = announced
            failed.add(error_at)
        else:
            savepoint.commit()
        responses.extend(out)
        i = j
    session.commit()
    return {"responses": responses}
