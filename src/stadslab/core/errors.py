"""One exception hierarchy, mapped to RFC 9457 problem responses in one place.

Services raise these; routes never build error responses themselves. Anything
that is not a ``StadslabError`` becomes a 500 with a reference id and no trace.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("stadslab.errors")

PROBLEM_JSON = "application/problem+json"


class StadslabError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


class BadRequest(StadslabError):
    status = 400
    title = "Bad request"


class Unauthorized(StadslabError):
    status = 401
    title = "Unauthorized"


class Forbidden(StadslabError):
    status = 403
    title = "Forbidden"


class NotFound(StadslabError):
    status = 404
    title = "Not found"


class Conflict(StadslabError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(StadslabError):
    status = 413
    title = "Payload too large"


class ValidationFailed(StadslabError):
    """A semantically invalid request: unknown references, bad codes, broken rules."""

    status = 422
    title = "Validation failed"


class ServiceUnavailable(StadslabError):
    status = 503
    title = "Service unavailable"


def field_error(loc: list[str | int] | tuple, msg: str) -> dict[str, Any]:
    return {"loc": [str(p) for p in loc], "field": ".".join(str(p) for p in loc), "msg": msg}


def problem(status: int, title: str, detail: str, *, errors: list | None = None,
            headers: dict[str, str] | None = None, instance: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _clean_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        msg = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            msg = f"Malformed JSON: {ctx.get('error', 'cannot parse body')}"
            pos = loc[-1] if loc else None
            if isinstance(pos, int):
                msg += f" at character {pos}"
        elif err.get("type") == "extra_forbidden":
            msg = "Unknown field"
        out.append(field_error(loc, msg))
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StadslabError)
    async def _stadslab(request: Request, exc: StadslabError):
        return problem(exc.status, exc.title, exc.detail, errors=exc.errors,
                       headers=exc.headers, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = _clean_validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['msg']}" for e in errors[:5]) or "Invalid request"
        return problem(422, "Validation failed", detail, errors=errors, instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {request.url.path}"
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), detail,
                       headers=getattr(exc, "headers", None), instance=request.url.path)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError):
        return problem(400, "Bad request", "A number in the request is too large", instance=request.url.path)

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError):
        # The database refused a value (out of range, wrong encoding): the input is at fault.
        return problem(400, "Bad request", "A value in the request cannot be stored or compared",
                       instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        ref = uuid.uuid4().hex[:12]
        log.exception("unhandled error ref=%s path=%s", ref, request.url.path)
        return problem(500, "Internal server error",
                       f"Something went wrong on our side. Reference: {ref}")
