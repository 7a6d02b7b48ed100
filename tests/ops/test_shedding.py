"""Overload shedding on a real uvicorn server: the request beyond the limit gets 503 at once."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import uvicorn

from stadslab.app import create_app
from stadslab.core.config import Settings
from tests.support.processes import free_port


def test_requests_beyond_the_limit_are_shed_and_probes_still_answer(db):
    release = threading.Event()
    entered = threading.Semaphore(0)
    app = create_app(Settings(database_url=db.url, max_in_flight=2, shed_retry_after_seconds=3), db=db)

    async def slow():
        entered.release()
        while not release.is_set():  # hold the request in flight until the test lets go
            await asyncio.sleep(0.01)
        return {"done": True}

    app.add_api_route("/api/v1/_test/slow", slow)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.02)
        assert server.started
        with ThreadPoolExecutor(2) as pool:
            held = [pool.submit(httpx.get, f"{base}/api/v1/_test/slow", timeout=30) for _ in range(2)]
            assert entered.acquire(timeout=20) and entered.acquire(timeout=20)  # both are in flight
            refused = httpx.get(f"{base}/api/v1/health/ready", timeout=30)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "3"
            assert refused.headers["content-type"] == "application/problem+json"
            assert "overloaded" in refused.json()["title"]
            assert httpx.get(f"{base}/api/v1/health/live", timeout=30).status_code == 200  # exempt
            metrics = httpx.get(f"{base}/metrics", timeout=30)  # exempt, and loopback may scrape
            assert metrics.status_code == 200
            assert "stadslab_http_requests_shed_total" in metrics.text
            release.set()
            assert [f.result().status_code for f in held] == [200, 200]
        assert httpx.get(f"{base}/api/v1/health/ready", timeout=30).status_code == 200  # capacity is back
    finally:
        release.set()
        server.should_exit = True
        thread.join(timeout=30)
