"""A slow client cannot hold a worker forever (issue #8), against a real ``stadslab serve``.

One worker process. Slow clients of each kind hold connections while ordinary
requests on the same worker are answered; then the server closes the slow
connections after the configured timeouts (set short here). The polling limits
below only keep a broken server from hanging the test; no pass/fail depends on
how fast anything is.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest

from tests.ops.serving import metric
from tests.support.processes import served, wait_until

CSS = "/static/vendor/utrecht/component-library.css"  # ~400 KB, served in 64 KB chunks
TIMEOUTS = {"request_header_timeout_s": 1.5, "request_read_timeout_s": 1.5, "response_write_timeout_s": 1.5}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slow")
    with served(f"sqlite:///{tmp / 'slow.db'}", tmp / "server.log", **TIMEOUTS) as base:
        yield base


def _connect(base: str, rcvbuf: int | None = None) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((host, int(port)))
    return s


def _read_until_closed(s: socket.socket, limit: float = 60.0) -> tuple[bytes, str]:
    """Everything the server sends, and how the connection ended: "eof", "reset" or "open"."""
    s.settimeout(limit)
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
        return data, "eof"
    except ConnectionResetError:
        return data, "reset"
    except TimeoutError:
        return data, "open"


class _Trickle(threading.Thread):
    """Sends ``data`` one byte every 50 ms until done or the server hangs up."""

    def __init__(self, s: socket.socket, data: bytes):
        super().__init__(daemon=True)
        self.s, self.data, self.stopped_by_server = s, data, False

    def run(self):
        for i in range(len(self.data)):
            try:
                self.s.send(self.data[i:i + 1])
            except OSError:
                self.stopped_by_server = True
                return
            time.sleep(0.05)


def _normal_requests_answered(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        assert c.get("/api/v1/health/live").status_code == 200
        assert c.get("/sta/v1.1/Things").status_code == 200
        assert c.get("/api/v1/projects").status_code == 200


def _problem(raw: bytes, status: int) -> dict:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), raw[:200]
    assert b"application/problem+json" in head.lower()
    assert b"connection: close" in head.lower()
    problem = json.loads(body)
    assert problem["status"] == status
    return problem


def test_slowloris_headers_are_cut_off_and_others_are_served(server):
    before = metric(server, "stadslab_http_slow_clients_total", reason="header")
    head = b"GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 2000 + b"\r\n\r\n"
    slow = [_connect(server) for _ in range(4)]
    trickles = [_Trickle(s, head) for s in slow]
    for t in trickles:
        t.start()
    silent = _connect(server)  # opens a connection and never sends anything
    _normal_requests_answered(server)
    for s, t in zip(slow, trickles):
        raw, how = _read_until_closed(s)
        assert how in ("eof", "reset"), "the server kept a slowloris connection open"
        assert "did not arrive within 1.5 s" in _problem(raw, 408)["detail"]
        t.join(30)
        assert not t.is_alive() and t.stopped_by_server or how == "eof"
    raw, how = _read_until_closed(silent)
    assert (raw, how) == (b"", "eof")  # nothing sent, nothing to answer: just closed
    assert metric(server, "stadslab_http_slow_clients_total", reason="header") - before == 5
    _normal_requests_answered(server)


def test_slowloris_on_a_kept_alive_connection(server):
    s = _connect(server)
    s.sendall(b"GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while b'"ok"' not in first:
        first += s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    s.sendall(b"GET /api/v1/health/live HTTP/1.1\r\nHo")  # the second request stalls halfway
    raw, how = _read_until_closed(s)
    assert how == "eof"
    _problem(raw, 408)


def test_oversized_request_head_gets_431(server):
    s = _connect(server)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 70_000)
    raw, how = _read_until_closed(s)
    assert how in ("eof", "reset")
    assert "exceed" in _problem(raw, 431)["detail"]


@pytest.mark.parametrize("sent", ["stalled", "trickled"])
def test_slow_request_body_gets_408_and_is_closed(server, sent):
    before = metric(server, "stadslab_http_slow_clients_total", reason="body")
    body = json.dumps({"title": "Traag project", "summary": "x" * 400}).encode()
    head = (f"POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    slow = [_connect(server) for _ in range(3)]
    trickles = []
    for s in slow:
        s.sendall(head + body[:10])  # the head is complete; the body never will be
        if sent == "trickled":
            trickles.append(_Trickle(s, body[10:]))
            trickles[-1].start()
    _normal_requests_answered(server)
    for s in slow:
        raw, how = _read_until_closed(s)
        assert how in ("eof", "reset"), "the server kept a slow-body connection open"
        problem = _problem(raw, 408)
        assert problem["title"] == "Request timeout" and "1.5 s" in problem["detail"]
    assert metric(server, "stadslab_http_slow_clients_total", reason="body") - before == 3
    # nothing was stored from the half bodies
    assert "Traag project" not in httpx.get(f"{server}/api/v1/projects", timeout=30).text
    _normal_requests_answered(server)


def test_a_client_that_never_reads_is_disconnected(server):
    before = metric(server, "stadslab_http_slow_clients_total", reason="write")
    requests = 30  # ~12 MB of responses: far more than every socket buffer on the way
    pipelined = b"".join(f"GET {CSS} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for _ in range(requests))
    greedy = [_connect(server, rcvbuf=4096) for _ in range(3)]
    for s in greedy:
        s.sendall(pipelined)  # ... and never reads
    _normal_requests_answered(server)
    assert wait_until(lambda: metric(server, "stadslab_http_slow_clients_total", reason="write") - before >= 3)
    size = len(httpx.get(f"{server}{CSS}", timeout=30).content)
    for s in greedy:
        raw, how = _read_until_closed(s)
        assert how in ("eof", "reset"), "the server kept the connection of a client that does not read"
        assert len(raw) < requests * size  # the server gave up instead of delivering everything
    _normal_requests_answered(server)


def test_connection_limit_answers_503_and_recovers(tmp_path):
    # long head timeout: the idle connections must stay while the limit is checked
    with served(f"sqlite:///{tmp_path / 'limit.db'}", tmp_path / "server.log",
                max_connections=4, request_header_timeout_s=60) as base:
        idle = [_connect(base) for _ in range(4)]
        r = httpx.get(f"{base}/api/v1/projects", timeout=30)
        assert r.status_code == 503
        for s in idle:
            s.close()
        assert wait_until(lambda: httpx.get(f"{base}/api/v1/projects", timeout=30).status_code == 200)
