"""Server-side render time and transfer size of every public web page, on the demo data.

Loads the full demo (`stadslab demo --no-serve`) into a fresh SQLite file, starts
`stadslab serve` on a free loopback port and requests each page N times from
this process. Baseline in the same run: `GET /api/v1/health` (framework, middleware
and one database round trip, no rendering), so the ratio shows what rendering costs.
Transfer size = bytes on the wire (gzip) for the HTML plus every stylesheet, script and
image it references (map tiles excluded; they come from PDOK). Targets: p95 < 200 ms per page, < 500 KB per page.
Run: .venv/bin/python benchmarks/web_pages.py [N]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine, percentile  # noqa: E402
from tests.support.processes import free_port, running  # noqa: E402


def _pages(client: httpx.Client) -> list[str]:
    pages = ["/", "/zoeken?q=fietsers", "/labs", "/sensoren", "/agenda", "/loket", "/toegankelijkheid",
             "/inloggen", "/steden/GM0344", "/?lang=en"]
    projects = client.get("/api/v1/projects", params={"limit": 1, "sort": "-updated_at"}).json()["items"]
    labs = client.get("/api/v1/living-labs", params={"limit": 1}).json()["items"]
    solutions = client.get("/api/v1/solutions", params={"limit": 1, "sort": "-adoptions"}).json()["items"]
    things = client.get("/sta/v1.1/Things", params={"$top": 1}).json()["value"]
    pages += [f"/projecten/{projects[0]['id']}", f"/labs/{labs[0]['id']}", f"/oplossingen/{solutions[0]['id']}"]
    if things:
        pages.append(f"/sensoren/{things[0]['@iot.id']}")
    # the national view (issue 16): dashboard with and without filters, solutions index, coalition,
    # specialisations, and a city page with nothing registered (its opportunities and funding)
    coalitions = client.get("/api/v1/coalitions", params={"limit": 1}).json()["items"]
    pages += ["/netwerk", "/netwerk?theme=mobility&network=G40", "/netwerk?lang=en", "/oplossingen",
              "/oplossingen?sort=-time_to_half_adoption&maturity=mature", f"/coalities/{coalitions[0]['id']}",
              "/specialisaties", "/specialisaties/healthy-urban-living", "/steden/GM0917"]
    return pages


def _transfer_size(client: httpx.Client, response: httpx.Response, cache: dict[str, int]) -> int:
    """Bytes on the wire (compressed, as a browser asking for gzip receives them)."""
    html = response.text
    total = response.num_bytes_downloaded
    for ref in set(re.findall(r'(?:href|src)="(/static/[^"?]+\.(?:css|js|svg)(?:\?[^"]*)?)"', html)):
        if ref not in cache:
            asset = client.get(ref)
            asset.read()
            cache[ref] = asset.num_bytes_downloaded
        total += cache[ref]
    return total


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "STADSLAB_DATABASE_URL": f"sqlite:///{tmp}/web.db", "STADSLAB_LOG_LEVEL": "WARNING"}
        subprocess.run([sys.executable, "-m", "stadslab.cli", "demo", "--no-serve"], env=env, check=True,
                       capture_output=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with running([sys.executable, "-m", "stadslab.cli", "serve", "--port", str(port)], env,
                     f"{base}/api/v1/health"), httpx.Client(base_url=base, timeout=30) as client:
            baseline = []
            for _ in range(n):
                t0 = time.perf_counter()
                client.get("/api/v1/health")
                baseline.append(time.perf_counter() - t0)
            print(f"# web pages, {n} requests each, demo data on SQLite — {machine()}")
            print(f"# load average {os.getloadavg()[0]:.2f}; baseline GET /api/v1/health "
                  f"p95 {percentile(baseline, 95) * 1000:.1f} ms")
            print("| page | p50 | p95 | ratio p95 to baseline | transfer |")
            print("|---|---|---|---|---|")
            cache: dict[str, int] = {}
            worst = 0.0
            for page in _pages(client):
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    r = client.get(page)
                    times.append(time.perf_counter() - t0)
                    assert r.status_code == 200, (page, r.status_code)
                size = _transfer_size(client, r, cache)
                p95 = percentile(times, 95)
                worst = max(worst, p95)
                print(f"| `{page}` | {percentile(times, 50) * 1000:.1f} ms | {p95 * 1000:.1f} ms | "
                      f"{p95 / percentile(baseline, 95):.1f}x | {size / 1024:.0f} KB |")
            print(f"# slowest page p95 {worst * 1000:.1f} ms")


if __name__ == "__main__":
    main()
