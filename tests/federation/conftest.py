"""Peer nodes as real server processes, started once and shared by the federation tests of a run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stadslab.core.config import Settings

from .nodes import Node, make_template


@pytest.fixture(scope="session")
def node_template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("federation") / "template.db")


def seed_alpha(node: Node) -> dict:
    p = node.create("projects", {"title": "Slimme verkeerslichten voor fietsers", "city": "GM0344",
                                 "summary": "Verkeerslichten geven fietsers vaker groen.", "status": "pilot"})
    s = node.create("solutions", {"name": "Parkeersensor", "description": "Sensor die vrije plekken meldt",
                                  "maturity": "proven"})
    a = node.create("adoptions", {"solution_id": s["id"], "city": "GM0363"})
    q = node.create("projects", {"title": "Deelmobiliteit in de wijk", "city": "GM0344",
                                 "summary": "Deelauto's en deelfietsen.", "status": "idea"})
    return {"project": p, "solution": s, "adoption": a, "other_project": q}


def seed_beta(node: Node) -> dict:
    p = node.create("projects", {"title": "Warmtenet met restwarmte", "city": "GM0014",
                                 "summary": "Restwarmte verwarmt woningen.", "status": "idea"})
    return {"project": p}


@pytest.fixture(scope="session")
def peer_nodes(node_template, tmp_path_factory) -> Iterator[tuple[Node, Node]]:
    """Alpha and Beta, started side by side (each start costs seconds of imports)."""
    nodes = (Node("Alpha", tmp_path_factory.mktemp("alpha"), node_template),
             Node("Beta", tmp_path_factory.mktemp("beta"), node_template))
    try:
        for node in nodes:
            node.launch()
        for node in nodes:
            node.wait_ready()
        nodes[0].seed = seed_alpha(nodes[0])
        nodes[1].seed = seed_beta(nodes[1])
        yield nodes
    finally:
        for node in nodes:
            node.kill()


@pytest.fixture(scope="session")
def alpha(peer_nodes) -> Node:
    return peer_nodes[0]


@pytest.fixture(scope="session")
def beta(peer_nodes) -> Node:
    return peer_nodes[1]


@pytest.fixture
def harvest_settings(db) -> Settings:
    """The harvesting node: the ``db`` fixture (SQLite and PostgreSQL), short timeouts and backoff."""
    return Settings(database_url=db.url, node_name="Hub", federation_timeout_seconds=2.0,
                    federation_retries=3, federation_backoff_seconds=0.05, federation_backoff_max_seconds=0.2,
                    federation_max_page_bytes=200_000)
