"""A tiny HTTP server posing as a peer, whose every answer the test chooses (including nonsense)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

VALID_CATALOG = {
    "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"},
    "@graph": [
        {"@id": "http://peer.example/catalog", "@type": "dcat:Catalog",
         "dcat:dataset": {"@id": "http://peer.example/ds/1"}},
        {"@id": "http://peer.example/ds/1", "@type": "dcat:Dataset", "dct:title": "Luchtkwaliteit Zwolle",
         "dct:modified": {"@value": "2026-01-01T00:00:00+00:00",
                          "@type": "http://www.w3.org/2001/XMLSchema#dateTime"}},
    ],
}


def page(items: list) -> dict:
    return {"items": items, "total": len(items), "limit": 100, "offset": 0, "next": None, "previous": None}


class GarbagePeer:
    """``routes`` maps a path to (status, body bytes) or to a callable returning that."""

    def __init__(self):
        self.routes: dict[str, object] = {}
        self.hits: dict[str, int] = {}
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                path = urlsplit(self.path).path
                peer.hits[path] = peer.hits.get(path, 0) + 1
                route = peer.routes.get(path)
                if route is None:
                    route = (200, json.dumps(VALID_CATALOG if path.endswith("catalog.jsonld") else page([])).encode())
                if callable(route):
                    route = route()
                status, body = route
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    if isinstance(body, bytes):
                        self.wfile.write(body)
                    else:  # an iterator of chunks, sent without Content-Length
                        for chunk in body:
                            self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def json(self, path: str, value, status: int = 200) -> None:
        self.routes[path] = (status, json.dumps(value).encode())

    def __enter__(self) -> "GarbagePeer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def slow(seconds: float, body: bytes = b"{}"):
    def answer():
        time.sleep(seconds)
        return 200, body
    return answer


def endless(chunk: bytes = b"[" + b"1," * 4096):
    """A body that never ends (the size cap must stop reading it)."""
    def answer():
        def chunks():
            for _ in range(100_000):
                yield chunk
        return 200, chunks()
    return answer
