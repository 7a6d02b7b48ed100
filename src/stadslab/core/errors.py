"""One exception hierarchy, mapped to RFC 9457 problem responses in one place.

Services raise these; routes never build error responses themselves. Anything
that is not a ``StadslabError`` becomes a 500 with a reference id and no trace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

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


class InsufficientStorage(StadslabError):
    status = 507
    title = "Insufficient storage"


#: Seconds a client is asked to wait when the database is unreachable (a restart takes a few).
DB_RETRY_AFTER_SECONDS = 5
_SQLITE_FULL, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_INTERRUPT = 13, 5, 6, 9
_DISCONNECT_TEXT = ("connection refused", "server closed the connection", "connection is lost",
                    "connection is closed", "terminating connection", "the database system is",
                    "could not connect", "connection failed", "connection timed out", "ssl syscall")


def database_problem(exc: BaseException, *, statement_timeout_ms: int = 0) -> StadslabError | None:
    """Translate infrastructure failures of the database into what a client can act on.

    A lost or refused connection (restart, failover, admin shutdown) and an exhausted pool
    become 503 + Retry-After: the request did not commit and may simply be retried. SQLite's
    "database or disk is full" and PostgreSQL's disk_full (53100, "could not extend file",
    "No space left on device") become 507: retrying will not help until an operator frees space.
    A statement stopped by the statement timeout (PostgreSQL query_canceled 57014, SQLite
    "interrupted", ``core.database``) becomes 503 saying how long it may take
    (``statement_timeout_ms``, when known) and to narrow the request down.
    Anything else returns ``None`` and stays a 500. The exception chain is searched, because
    middleware may wrap the original error.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        found = _classify(exc, statement_timeout_ms)
        if found is not None:
            return found
        exc = exc.__cause__ or exc.__context__
    return None


def _classify(exc: BaseException, statement_timeout_ms: int) -> StadslabError | None:
    if isinstance(exc, PoolTimeout):
        return ServiceUnavailable("All database connections are busy; please retry shortly",
                                  headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)})
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    text = str(orig).lower()
    sqlstate = getattr(orig, "sqlstate", None) or ""
    code = getattr(orig, "sqlite_errorcode", None)
    if sqlstate == "53100" or code == _SQLITE_FULL or "database or disk is full" in text \
            or "no space left on device" in text or "could not extend file" in text:
        return InsufficientStorage("The database has run out of disk space; the change was not "
                                   "stored. An operator must free space before writes succeed again")
    if (sqlstate == "57014" and "user request" not in text) or code == _SQLITE_INTERRUPT:
        limit = f"{statement_timeout_ms / 1000:g} s" if statement_timeout_ms > 0 else "the statement timeout"
        return ServiceUnavailable(f"The query took longer than {limit} and was stopped; narrow it down "
                                  "(a more selective $filter, a shorter time range, a smaller $top or "
                                  "$expand) and try again",
                                  headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)})
    unavailable = (exc.connection_invalidated or sqlstate.startswith("08")
                   or sqlstate in ("57014", "57P01", "57P02", "57P03", "53300")  # 57014 here: cancelled
                   or code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in text
                   or any(t in text for t in _DISCONNECT_TEXT))
    if unavailable:
        return ServiceUnavailable("The database is temporarily unavailable; the request was not "
                                  "completed and may be retried",
                                  headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)})
    return None


def _statement_timeout_ms(request: Request) -> int:
    """The timeout the app's database actually runs with (a test may give it its own database)."""
    return getattr(getattr(request.app.state, "db", None), "statement_timeout_ms", 0) or 0


def field_error(loc: list[str | int] | tuple, msg: str) -> dict[str, Any]:
    return {"loc": [str(p) for p in loc], "field": ".".join(str(p) for p in loc), "msg": msg}


#: Path prefix -> a function adding members to the problem bodies answered under it: an API whose
#: clients expect more than RFC 9457 (the SensorThings hub: FROST-Server's ``code``/``message``)
#: registers its shape at set-up; the problem+json members always stay.
PROBLEM_SHAPES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def problem_body(status: int, title: str, detail: str, *, errors: list | None = None,
                 instance: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    for prefix, shape in PROBLEM_SHAPES.items():
        if instance and (instance == prefix or instance.startswith(prefix + "/")):
            body = shape(body)
    return body


def problem(status: int, title: str, detail: str, *, errors: list | None = None,
            headers: dict[str, str] | None = None, instance: str | None = None) -> JSONResponse:
    body = problem_body(status, title, detail, errors=errors, instance=instance)
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
        from .auth import refusal_before_validation  # core.auth imports this module

        # Authenticate before validating: who may not call the route learns 401/403, not its schema.
        refused = await run_in_threadpool(refusal_before_validation, request)  # may query the database
        if refused is not None:
            handler = request.app.exception_handlers.get(StadslabError, _stadslab)
            result = handler(request, refused)
            return await result if hasattr(result, "__await__") else result
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

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def _database(request: Request, exc: Exception):
        mapped = database_problem(exc, statement_timeout_ms=_statement_timeout_ms(request))
        if mapped is None:
            raise exc  # on to the catch-all 500 handler, as before
        if mapped.status == 507:  # an operator has to act: say what and where, at error level
            log.error("storage full: the database cannot grow (disk full); writes fail with 507 until "
                      "space is freed, reads keep working path=%s error=%s", request.url.path,
                      type(getattr(exc, "orig", exc)).__name__)
        elif "took longer than" in mapped.detail:
            log.warning("statement timeout: a query was stopped path=%s", request.url.path)
        else:
            log.warning("database unavailable path=%s status=%s error=%s", request.url.path,
                        mapped.status, type(getattr(exc, "orig", exc)).__name__)
        # Through the registered StadslabError handler, so browsers still get an HTML page.
        handler = request.app.exception_handlers.get(StadslabError, _stadslab)
        result = handler(request, mapped)
        return await result if hasattr(result, "__await__") else result

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: ClientDisconnect):
        # The client hung up while its body was read: nothing was stored and nobody reads the
        # answer. Not a server error (logged as one, it would hide real ones).
        log.info("client disconnected before its request was read path=%s", request.url.path)
        return problem(400, "Client closed request", "The request body was not received completely",
                       instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        mapped = database_problem(exc, statement_timeout_ms=_statement_timeout_ms(request))  # in middleware
        if mapped is not None:
            return problem(mapped.status, mapped.title, mapped.detail, headers=mapped.headers,
                           instance=request.url.path)
        ref = uuid.uuid4().hex[:12]
        log.exception("unhandled error ref=%s path=%s", ref, request.url.path)
        return problem(500, "Internal server error",
                       f"Something went wrong on our side. Reference: {ref}", instance=request.url.path)
