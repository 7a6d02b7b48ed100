"""Talking to a peer: explicit timeouts, a byte cap on every answer, capped exponential retry.

A peer is another organisation's server; it may be down, slow, or answer nonsense.
Nothing it sends is trusted: bodies are streamed and counted (a peer cannot make us
buffer more than ``max_bytes``), and every failure becomes a ``PeerError`` with a
message fit for the health report.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx


class PeerError(Exception):
    """A request to a peer failed; ``retryable`` failures (network, 5xx) are tried again."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


@dataclass
class FetchPolicy:
    timeout: float = 10.0
    max_bytes: int = 5_000_000
    retries: int = 3
    backoff: float = 0.5
    backoff_max: float = 8.0


def backoff_delays(policy: FetchPolicy) -> list[float]:
    """Waits between attempts: backoff, 2*backoff, 4*backoff, ... each at most backoff_max."""
    return [min(policy.backoff * (2 ** i), policy.backoff_max) for i in range(policy.retries - 1)]


class PeerClient:
    def __init__(self, base_url: str, policy: FetchPolicy, token: str | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        headers = {"Accept": "application/json", "User-Agent": "stadslab-federation"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = httpx.Timeout(policy.timeout, connect=policy.timeout)
        self._http = httpx.Client(timeout=timeout, headers=headers, follow_redirects=False)
        self._sleep = sleep
        #: Milliseconds of the last successful request (for the health report).
        self.last_latency_ms: float | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "PeerClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def get_bytes(self, path: str, params: dict[str, Any] | None = None,
                  accept: str = "application/json") -> bytes:
        delays = backoff_delays(self.policy)
        for attempt in range(self.policy.retries):
            try:
                return self._once(path, params, accept)
            except PeerError as exc:
                if not exc.retryable or attempt == len(delays):
                    raise
                self._sleep(delays[attempt])
        raise AssertionError("unreachable")

    def get_json(self, path: str, params: dict[str, Any] | None = None,
                 accept: str = "application/json") -> Any:
        body = self.get_bytes(path, params, accept)
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PeerError(f"{path}: invalid JSON ({exc.__class__.__name__}: {str(exc)[:120]})") from None

    def _once(self, path: str, params: dict[str, Any] | None, accept: str) -> bytes:
        started = time.monotonic()
        try:
            with self._http.stream("GET", self.url(path), params=params, headers={"Accept": accept}) as resp:
                if resp.status_code >= 500 or resp.status_code == 429:
                    raise PeerError(f"{path}: HTTP {resp.status_code}", retryable=True)
                if resp.status_code != 200:
                    raise PeerError(f"{path}: HTTP {resp.status_code}")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
                    raise PeerError(f"{path}: answer of {declared} bytes exceeds the cap of "
                                    f"{self.policy.max_bytes}")
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.policy.max_bytes:
                        raise PeerError(f"{path}: answer exceeds the cap of {self.policy.max_bytes} bytes")
                    chunks.append(chunk)
        except httpx.TimeoutException:
            raise PeerError(f"{path}: timed out after {self.policy.timeout:g} s", retryable=True) from None
        except httpx.HTTPError as exc:
            raise PeerError(f"{path}: {exc.__class__.__name__}: {str(exc)[:160]}", retryable=True) from None
        self.last_latency_ms = (time.monotonic() - started) * 1000
        return b"".join(chunks)
