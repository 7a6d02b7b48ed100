"""Reading a real server's /metrics (the server itself comes from ``tests.support.processes.served``)."""

from __future__ import annotations

import httpx


def metric(base: str, name: str, **labels) -> float:
    """Sum of the samples of ``name`` with these labels in the server's /metrics."""
    total = 0.0
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and \
                all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total
