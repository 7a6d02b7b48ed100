"""Overload shedding: refuse at once instead of queueing when a process is full.

A request that waits behind hundreds of others usually times out at the client
anyway, after having used memory and a database connection. Refusing with 503
and ``Retry-After`` lets a load balancer try another instance and keeps latency
of the admitted requests bounded. The limit is per worker process.
"""

from __future__ import annotations

import json

from .metrics import SHED

EXEMPT_PATHS = frozenset({"/api/v1/health/live", "/metrics"})


class SheddingMiddleware:
    def __init__(self, app, max_in_flight: int, retry_after: int = 1):
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = retry_after
        self.in_flight = 0  # one event loop per process: no lock needed

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.max_in_flight <= 0 or scope["path"] in EXEMPT_PATHS:
            return await self.app(scope, receive, send)
        if self.in_flight >= self.max_in_flight:
            SHED.inc()
            body = json.dumps({"type": "about:blank", "title": "Service overloaded", "status": 503,
                               "detail": f"This server process is handling {self.in_flight} requests; "
                                         f"retry after {self.retry_after} s."}).encode()
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/problem+json"),
                                    (b"retry-after", str(self.retry_after).encode()),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
