"""A harvesting node that is itself a server process: background loop, CLI harvest, HTTP views."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from .nodes import Node

DEADLINE = 30.0


@pytest.fixture
def hub(node_template, tmp_path):
    node = Node("Hub", tmp_path, node_template, env={"STADSLAB_FEDERATION_INTERVAL_SECONDS": "1",
                                                     "STADSLAB_FEDERATION_BACKOFF_SECONDS": "0.05"})
    try:
        yield node.start()
    finally:
        node.kill()


def wait_for(check, what: str):
    """Polls until ``check()`` is truthy; the deadline only guards against hanging, it is not the assertion."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def test_background_loop_and_cli_harvest_a_peer(hub, alpha):
    r = hub.request("POST", "/api/v1/federation/peers",
                    json={"name": "Alpha", "base_url": alpha.base_url, "token": alpha.token})
    assert r.status_code == 201, r.text
    assert alpha.token not in r.text
    peer_id = r.json()["id"]

    # The lifespan loop (interval 1 s) harvests the new peer without being asked.
    health = wait_for(lambda: (h := hub.request("GET", f"/api/v1/federation/peers/{peer_id}/health").json())
                      ["last_success_at"] and h, "the background harvest")
    assert health["healthy"] is True and health["items"] > 0

    found = hub.request("GET", "/api/v1/federation/search", params={"q": "verkeerslichten"}).json()
    project = next(i for i in found["items"] if i["type"] == "project")
    assert project["source"] == {"node": "Alpha", "url": alpha.base_url}
    assert project["title"] == "Slimme verkeerslichten voor fietsers"

    # One pass from the command line against the hub's database, next to the running server.
    env = {**hub.env(), "STADSLAB_FEDERATION_INTERVAL_SECONDS": "0"}
    for attempt in range(20):  # the server's loop may hold the lease for a moment (exit code 3)
        done = subprocess.run([sys.executable, "-m", "stadslab.cli", "federation", "harvest", "--peer", "Alpha"],
                              env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 3:
            break
        time.sleep(0.2)
    assert done.returncode == 0, done.stderr
    assert '"peer": "Alpha"' in done.stdout and '"ok": true' in done.stdout

    graph = hub.request("GET", "/api/v1/federation/replication-graph").json()
    assert any(n["source"]["node"] == "Alpha" and n["name"] == "Parkeersensor" for n in graph["solutions"])

    unknown = subprocess.run([sys.executable, "-m", "stadslab.cli", "federation", "harvest", "--peer", "Nergens"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "Nergens" in unknown.stderr
