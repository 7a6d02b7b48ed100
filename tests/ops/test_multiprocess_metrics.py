"""``stadslab serve --workers 2`` with PROMETHEUS_MULTIPROC_DIR: every scrape sums all workers."""

from __future__ import annotations

import subprocess

import httpx

from tests.support.processes import free_port, server_env, stadslab_command, stop, wait_for_http


def _live_count(text: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("stadslab_http_requests_total{") and 'route="/api/v1/health/live"' in line)


def test_counters_are_summed_over_workers(db, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    env = {**server_env(db.url, log_level="WARNING"), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    proc = subprocess.Popen(stadslab_command(port, workers=2), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/metrics", proc)
        start = _live_count(httpx.get(f"{base}/metrics", timeout=10).text)
        for _ in range(30):  # new connections: the kernel spreads them over both workers
            assert httpx.get(f"{base}/api/v1/health/live", timeout=10).status_code == 200
        # one file per worker process (the supervising parent may keep one of its own: not counted)
        workers = [f for f in metrics_dir.glob("counter_*.db") if f.stem.split("_", 1)[1] != str(proc.pid)]
        assert len(workers) == 2
        for _ in range(6):  # whichever worker answers the scrape reports the total of both
            assert _live_count(httpx.get(f"{base}/metrics", timeout=10).text) == start + 30
    finally:
        stop(proc)
