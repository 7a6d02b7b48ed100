"""RequestReadTimeoutMiddleware bounds the wait for a request body, and only that.

The real-server behaviour (408 to slow bodies) is in tests/ops/test_slow_clients.py;
here an ASGI streaming response shows that the wait for a disconnect, which
Starlette keeps up while it streams, is never cut off by the body budget.
"""

from __future__ import annotations

import asyncio

from starlette.responses import StreamingResponse

from stadslab.core.limits import RequestReadTimeoutMiddleware

SCOPE = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "method": "GET", "path": "/",
         "headers": [], "query_string": b""}


def _run(app, receive_messages: list[dict]):
    sent: list[dict] = []
    timeouts: list[int] = []
    queue: asyncio.Queue = asyncio.Queue()
    for m in receive_messages:
        queue.put_nowait(m)

    async def receive():
        return await queue.get()  # after the given messages: waits forever (the client never leaves)

    async def send(message):
        sent.append(message)

    middleware = RequestReadTimeoutMiddleware(app, timeout_s=0.05, on_timeout=lambda: timeouts.append(1))
    asyncio.run(asyncio.wait_for(middleware(dict(SCOPE), receive, send), timeout=30))
    return sent, timeouts


def test_a_long_streaming_response_is_not_cut_off():
    async def chunks():
        for i in range(4):
            await asyncio.sleep(0.05)  # the whole response takes 4x the body budget
            yield f"chunk {i}\n".encode()

    sent, timeouts = _run(StreamingResponse(chunks()), [{"type": "http.request", "body": b"", "more_body": False}])
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"chunk 0\nchunk 1\nchunk 2\nchunk 3\n"
    assert timeouts == []


def test_a_body_that_stops_arriving_gets_408():
    async def reads_body(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"stored"})

    sent, timeouts = _run(reads_body, [{"type": "http.request", "body": b"{\"a\"", "more_body": True}])
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert b"did not arrive" in sent[1]["body"] and timeouts == [1]
