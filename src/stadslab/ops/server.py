"""uvicorn, hardened against slow clients (docs/deployment.md "Slow clients").

uvicorn keeps a connection open for as long as its client keeps it open: while a
request head trickles in byte by byte (slowloris), and while a client takes no
response bytes (the write buffer stays full, and closing a transport waits for
the buffer to drain). Each such connection costs a file descriptor, memory and a
place under ``limit_concurrency`` (so enough of them turn every new request into
a 503), and a client that stops reading a streamed response also keeps its
request task, in-flight slot and database session.

``DeadlineHTTPProtocol`` is uvicorn's own HTTP protocol (httptools, or h11 when
httptools is missing) with three bounds added:

* a request head (request line + headers) must be complete within
  ``request_header_timeout_s`` of its first byte, or of the connection opening;
  then the client gets 408 (or, if it sent nothing, just a close);
* a request head larger than ``MAX_HEAD_BYTES`` gets 431 and a close;
* a connection whose write buffer stays above uvicorn's high-water mark for
  ``response_write_timeout_s`` is aborted (not closed: a close would wait for
  the client to read). A client reading slower than roughly 48 KB per timeout
  is indistinguishable from one that does not read at all, like nginx's
  ``send_timeout``.

The time to receive a request *body* is bounded one level up, in ASGI
(``core.limits.RequestReadTimeoutMiddleware``), where a 408 problem can be
answered properly.

Only uvicorn's documented protocol hooks (asyncio ``Protocol`` methods) and the
``cycle``/``transport``/``loop`` attributes both of its HTTP implementations
share are used; tests/ops/test_slow_clients.py runs the real server.
"""

from __future__ import annotations

import asyncio
import json
import logging

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from stadslab.core.config import Settings, get_settings

from .metrics import SLOW_CLIENTS

log = logging.getLogger("stadslab.server")

#: Largest request line + headers (nginx's default large_client_header_buffers allow 32 KB).
MAX_HEAD_BYTES = 64 * 1024


def _raw_problem(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps({"type": "about:blank", "title": reason, "status": status, "detail": detail}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode() + body


class DeadlineHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._head_timeout = settings.request_header_timeout_s
        self._write_timeout = settings.response_write_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._write_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ request head
    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _may_answer(self) -> bool:
        """False while the rest of an already answered request's body may still be arriving:
        the bytes are then no request head, and an error response would only confuse the client."""
        return self.cycle is None or not self.cycle.more_body

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_expired)

    def _handed_over(self) -> bool:
        """True once uvicorn gave the transport to a WebSocket protocol: no more HTTP requests here."""
        return self.transport.get_protocol() is not self

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing() or self._handed_over():
            return self._cancel_head()
        if not self._waiting_for_head():
            return self._cancel_head()  # a request is running: its body has its own bound (ASGI)
        # part of a request head arrived and it is not complete yet
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            SLOW_CLIENTS.labels("head_too_large").inc()
            self._cancel_head()
            if self._may_answer():
                    self.transport.write(_raw_problem(431, "Request Header Fields Too Large",
                                                  f"The request line and headers exceed {MAX_HEAD_BYTES} bytes"))
            self.transport.close()
        elif self._head_timer is None:
            self._head_timer = self.loop.call_later(self._head_timeout, self._head_expired)

    def _cancel_head(self) -> None:
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._handed_over() or not self._waiting_for_head():
            return
        SLOW_CLIENTS.labels("header").inc()
        if self._head_bytes and self._may_answer():
            log.info("closing a connection: request head incomplete after %g s", self._head_timeout)
            self.transport.write(_raw_problem(408, "Request Timeout",
                                              f"The request line and headers did not arrive within "
                                              f"{self._head_timeout:g} s"))
        self.transport.close()

    # ------------------------------------------------------------------ response
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self._write_timeout, self._write_expired)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_expired(self) -> None:
        self._write_timer = None
        SLOW_CLIENTS.labels("write").inc()
        log.info("aborting a connection: the client took no response data for %g s", self._write_timeout)
        self.transport.abort()  # connection_lost() frees the request task waiting to write

    def connection_lost(self, exc) -> None:
        self._cancel_head()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        super().connection_lost(exc)


def uvicorn_options(settings: Settings | None = None) -> dict:
    """Keyword arguments for ``uvicorn.run`` that bound what one client can hold."""
    settings = settings or get_settings()
    return {"http": f"{__name__}:DeadlineHTTPProtocol",
            "timeout_keep_alive": settings.keep_alive_timeout_s,
            "limit_concurrency": settings.max_connections or None,
            "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
            "timeout_worker_healthcheck": settings.worker_healthcheck_timeout_s}
