"""One STA request (method, path, query, body) → one response, independent of the web framework.

The HTTP routes and the ``$batch`` endpoint both call ``handle``, so a request
inside a batch behaves exactly like the same request sent on its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DataError, ProgrammingError
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM, Principal
from stadslab.core.config import Settings
from stadslab.core.errors import BadRequest, StadslabError
from stadslab.core.json_limits import loads

from ..read import aggregate
from ..write import dataarray, observation_post, service
from ..access.authz import require_writer
from ..read.options import parse_options
from ..read.reader import ReadContext, read_collection, read_entity, read_property, read_refs, ref_json, resolve
from ..read.serialize import Links, collection_json, entity_json
from ..model.urls import parse_path

JSON_PATCH = "application/json-patch+json"


class MethodNotAllowed(StadslabError):
    status = 405
    title = "Method not allowed"


@dataclass
class StaResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # for $value


def query_dict(pairs: list[tuple[str, str]], *, keep_all: bool = False) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        if not key.startswith("$") and not keep_all:
            continue  # non-$ parameters are not STA options; clients add e.g. cache busters
        if key in out:
            raise BadRequest(f"{key}: given more than once",
                             errors=[{"loc": ["query", key], "field": key, "msg": "given more than once"}])
        out[key] = value
    return out


def parse_body(raw: bytes | Any, *, already_parsed: bool = False) -> Any:
    """The request body as JSON (``core.json_limits.loads``: a lone surrogate is a 400 here)."""
    if already_parsed:
        return raw
    return loads(raw)


def handle(session: Session, settings: Settings, links: Links, method: str, path: str,
           query: list[tuple[str, str]], body: Any = None, *, principal: Principal,
           content_type: str = "application/json", commit: bool = True, body_parsed: bool = False,
           ) -> StaResponse:
    """``principal``: the caller; reads show only what it may see, writes need its rights."""
    method = method.upper()
    path = path.strip("/")
    ctx = ReadContext(session, links, settings, principal)
    if path == "":
        if method != "GET":
            raise MethodNotAllowed("The service root is read-only")
        return StaResponse(200, service.service_root(links))
    if method != "GET":
        require_writer(principal)  # 401/403 before the body or the path is even looked at
    if path == "CreateObservations":
        if method != "POST":
            raise MethodNotAllowed("CreateObservations accepts POST only")
        result = dataarray.create(session, parse_body(body, already_parsed=body_parsed), links,
                                  principal=principal, commit=commit)
        return StaResponse(201, result)
    if method == "GET":
        try:
            return _get(ctx, path, query)
        except ProgrammingError as exc:
            if "st_" in str(exc.orig).lower() and "does not exist" in str(exc.orig):
                session.rollback()
                raise BadRequest("$filter: spatial functions need PostGIS, which this database lacks") from None
            raise
        except DataError as exc:  # e.g. a NUL character or an out-of-range number in a $filter literal
            session.rollback()
            raise BadRequest("A value in the query cannot be used by the database",
                             errors=[{"loc": ["query"], "field": "query", "msg": str(exc.orig)[:200]}]) from None
    rp = parse_path(path)
    if rp.ref or rp.prop or rp.aggregate:
        raise MethodNotAllowed(f"{method} is not supported on {path[:100]}")
    if method == "POST":
        data = parse_body(body, already_parsed=body_parsed)
        row = service.create_observation(session, rp, data, principal=principal, commit=False)
        if row is not None:
            return _written(session, observation_created(row, links), commit)
        et, new_id = service.create(session, rp, data, principal=principal, commit=False)
        return _written(session, StaResponse(201, _entity(ctx, et, new_id), {"Location": links.entity(et, new_id)}),
                        commit)
    if method in ("PATCH", "PUT"):
        data = parse_body(body, already_parsed=body_parsed)
        if method == "PATCH" and content_type.split(";")[0].strip().lower() == JSON_PATCH:
            et, id_ = service.json_patch(session, rp, data, principal=principal, commit=False)
        else:
            et, id_ = service.update(session, rp, data, principal=principal, replace=method == "PUT",
                                     commit=False)
        return _written(session, StaResponse(200, _entity(ctx, et, id_)), commit)
    if method == "DELETE":
        service.delete(session, rp, principal=principal, commit=False)
        return _written(session, StaResponse(200, None), commit)
    raise MethodNotAllowed(f"{method} is not supported")


def _written(session: Session, response: StaResponse, commit: bool) -> StaResponse:
    """Commit a write only once its answer is built: should reading the stored entity back fail,
    the client's 500 must mean "not stored", never "stored, but we could not say so". On any
    exception the caller's session (``routes``) or savepoint (``batch``) rolls everything back."""
    if commit:
        session.commit()
    return response


def observation_created(row, links: Links) -> StaResponse:
    """The 201 of a single Observation stored by the fast path (alone or in a group commit)."""
    return StaResponse(201, entity_json(observation_post.OBSERVATION, row, links, None),
                       {"Location": links.entity(observation_post.OBSERVATION, row["id"])})


def _entity(ctx: ReadContext, et, id_: int) -> dict:
    """The entity a write just stored, as answered to its writer.

    Read back without the visibility rule: the writer had write rights on it, and a
    token with ``sta:write`` but without ``sta:read`` must still get its own entity back.
    """
    from ..read.reader import Resolved
    from ..read.options import Options
    writer_view = ReadContext(ctx.session, ctx.links, ctx.settings, SYSTEM)
    return read_entity(writer_view, Resolved(et, id_), Options(et))


def _get(ctx: ReadContext, path: str, query: list[tuple[str, str]]) -> StaResponse:
    rp = parse_path(path)
    if rp.aggregate:
        raw = query_dict(query, keep_all=True)
        return StaResponse(200, aggregate.read(ctx, rp, raw))
    raw = query_dict(query)
    max_top = ctx.settings.sta_page_size_max
    res = resolve(ctx.session, rp, ctx.principal)
    if rp.prop:
        value = read_property(ctx, res, rp.prop)
        if rp.value:
            if value is None:
                return StaResponse(204)
            text = value if isinstance(value, str) else json.dumps(value)
            return StaResponse(200, text=text)
        return StaResponse(200, {rp.prop: value})
    opts = parse_options(raw, res.entity, max_top=max_top)
    if rp.ref:
        if res.id is not None:
            return StaResponse(200, ref_json(ctx.links, res.entity, res.id))
        return StaResponse(200, read_refs(ctx, res, opts, path))
    if res.id is not None:
        return StaResponse(200, read_entity(ctx, res, opts))
    if opts.result_format == "dataArray":
        return StaResponse(200, dataarray.read(ctx, res, opts, path))
    items, _rows, count, next_link = read_collection(ctx, res, opts, path)
    return StaResponse(200, collection_json(items, count, next_link))
