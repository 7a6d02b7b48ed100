"""Runs ``stadslab serve`` as a real server process for tests that need real sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def served(database_url: str, log_path: Path, workers: int = 1, **settings):
    """Yields the base URL of ``stadslab serve`` with ``STADSLAB_<NAME>=value`` for each setting.

    The server's output goes to ``log_path`` (tests read its log lines from there).
    """
    port = free_port()
    env = {**os.environ, "STADSLAB_DATABASE_URL": database_url, "STADSLAB_LOG_LEVEL": "INFO"}
    env.update({f"STADSLAB_{k.upper()}": str(v) for k, v in settings.items()})
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    stadslab = str(Path(sys.executable).with_name("stadslab"))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([stadslab, "serve", "--port", str(port), "--workers", str(workers)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise AssertionError(f"stadslab serve exited with {proc.returncode}: "
                                     f"{log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{base}/api/v1/health/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("stadslab serve did not come up")
        yield base
    finally:
        _stop(proc)


def metric(base: str, name: str, **labels) -> float:
    """Sum of the samples of ``name`` with these labels in the server's /metrics."""
    total = 0.0
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and \
                all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_until(check, timeout: float = 60.0, interval: float = 0.1):
    """Polls ``check()`` until it returns something truthy; the timeout only guards against hanging."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
