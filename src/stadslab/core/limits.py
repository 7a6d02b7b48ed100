"""Request body limits as plain ASGI middleware: size (413 before the body is buffered) and time (408)."""

from __future__ import annotations

import asyncio
import json
import time

from starlette.exceptions import HTTPException as StarletteHTTPException


class BodySizeLimitMiddleware:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send) -> None:
        body = json.dumps({"type": "about:blank", "title": "Payload too large", "status": 413,
                           "detail": f"Request body exceeds the limit of {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > self.max_bytes:
                        return await self._reject(send)
                except ValueError:
                    pass
        received = 0
        too_large = False

        async def limited_receive():
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(send)


class _TooLarge(Exception):
    pass


class BodyTimeout(StarletteHTTPException):
    """Raised inside ``receive`` when the client used up its body budget.

    An ``HTTPException`` because FastAPI turns any other exception raised while it
    reads a body into a 400 "error parsing the body"; this one it passes on.
    """

    def __init__(self, seconds: float):
        super().__init__(408, f"The request body did not arrive within {seconds:g} s")


class RequestReadTimeoutMiddleware:
    """Bounds the time a request may spend waiting for its body (408, then the connection closes).

    Only time spent *waiting* in ``receive`` counts, so a slow handler that reads
    an already-buffered body late is not punished, while a client that trickles
    (or never finishes) its body cannot keep a request, its database session and
    its in-flight slot forever. Whatever the inner app answers after the budget
    ran out is replaced by one 408 problem with ``Connection: close``: the rest of
    the body may still be on its way and the connection cannot be reused.
    """

    def __init__(self, app, timeout_s: float, on_timeout=None):
        self.app = app
        self.timeout_s = timeout_s
        self.on_timeout = on_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        budget = self.timeout_s
        state = {"timed_out": False, "answered": False, "started": False, "body_done": False}

        async def bounded_receive():
            nonlocal budget
            if state["body_done"] or state["started"]:
                # Past the body, ``receive`` only waits for a disconnect, which streaming responses
                # listen for as long as they stream: that wait must never be cut short.
                return await receive()
            if state["timed_out"]:
                raise BodyTimeout(self.timeout_s)
            started = time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(budget, 0.001))
            except asyncio.TimeoutError:
                state["timed_out"] = True
                if self.on_timeout is not None:
                    self.on_timeout()
                raise BodyTimeout(self.timeout_s) from None
            budget -= time.monotonic() - started
            if message["type"] != "http.request" or not message.get("more_body", False):
                state["body_done"] = True
            return message

        async def answer_408():
            if not state["answered"]:
                state["answered"] = True
                await _send_408(send, self.timeout_s)

        async def guarded_send(message):
            if state["timed_out"] and not state["started"]:
                return await answer_408()  # replaces the inner app's answer, whatever it was
            state["started"] = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except BodyTimeout:
            if state["started"]:
                raise  # too late for a clean answer: the server closes the connection
        if state["timed_out"] and not state["started"]:
            await answer_408()


async def _send_408(send, timeout_s: float) -> None:
    body = json.dumps({"type": "about:blank", "title": "Request timeout", "status": 408,
                       "detail": f"The request body did not arrive within {timeout_s:g} s; "
                                 "send it at once or in fewer pauses"}).encode()
    await send({"type": "http.response.start", "status": 408,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
