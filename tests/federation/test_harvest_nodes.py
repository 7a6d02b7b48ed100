"""Harvesting real peer processes: attribution, incremental re-harvest, dead peer, clock skew.

The harvesting node is the ``db`` fixture (SQLite and PostgreSQL) running in-process;
the peers are ``uvicorn`` processes with their own SQLite databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stadslab.app import create_app
from stadslab.core.database import utcnow
from stadslab.federation import harvester, service
from stadslab.federation.client import PeerClient
from stadslab.federation.harvester import as_utc
from stadslab.federation.models import FederatedItem, FederationPeer, PeerStatus
from stadslab.labs.models import Project
from tests.governance.factories import auth_headers, make_token, make_user


@pytest.fixture
def hub(harvest_settings, db) -> Iterator[TestClient]:
    """The harvesting node's API, as its administrator."""
    with db.session() as s:
        token = make_token(s, make_user(s, "admin"))
    with TestClient(create_app(harvest_settings, db=db), headers=auth_headers(token)) as c:
        yield c


def register(hub: TestClient, node) -> int:
    r = hub.post("/api/v1/federation/peers", json={"name": node.name, "base_url": node.base_url,
                                                   "token": node.token})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def harvest(hub: TestClient, peer: str | None = None) -> dict:
    r = hub.post("/api/v1/federation/harvest", params={"peer": peer} if peer else {})
    assert r.status_code == 200, r.text
    return {p["peer"]: p for p in r.json()["peers"]}


def items(session, peer_name: str, item_type: str | None = None) -> list[FederatedItem]:
    stmt = select(FederatedItem).join(FederationPeer).where(FederationPeer.name == peer_name)
    if item_type:
        stmt = stmt.where(FederatedItem.item_type == item_type)
    session.expire_all()
    return list(session.scalars(stmt.order_by(FederatedItem.id)))


def test_harvest_keeps_nodes_apart_and_attributes_every_item(hub, alpha, beta, session):
    register(hub, alpha)
    register(hub, beta)
    reports = harvest(hub)
    assert reports["Alpha"]["ok"] and reports["Beta"]["ok"], reports
    alpha_projects = {i.remote_id: i for i in items(session, "Alpha", "project")}
    beta_projects = {i.remote_id: i for i in items(session, "Beta", "project")}
    # Both nodes have a project 1: two distinct harvested items, keyed by peer.
    assert "1" in alpha_projects and "1" in beta_projects
    assert alpha_projects["1"].title == "Slimme verkeerslichten voor fietsers"
    assert beta_projects["1"].title == "Warmtenet met restwarmte"
    assert alpha_projects["1"].city_code == "GM0344"
    assert alpha_projects["1"].source_url == f"{alpha.base_url}/api/v1/projects/1"
    # The DCAT catalogue was harvested too (each node publishes at least its registry datasets).
    assert items(session, "Alpha", "dataset")

    found = hub.get("/api/v1/federation/search", params={"q": "fietser"}).json()
    sources = {(i["source"]["node"], i["title"]) for i in found["items"]}
    assert ("Alpha", "Slimme verkeerslichten voor fietsers") in sources
    assert all(i["source"]["node"] != "Beta" for i in found["items"])
    warm = hub.get("/api/v1/federation/search", params={"q": "warmtenetten"}).json()  # stem match
    # The project once: a catalogue no longer describes a project as a dataset.
    assert sorted((i["type"], i["source"]["node"]) for i in warm["items"]) == [("project", "Beta")]
    project = next(i for i in warm["items"] if i["type"] == "project")
    assert project["id"] == "1" and project["source"]["url"] == beta.base_url

    graph = hub.get("/api/v1/federation/replication-graph").json()
    sol_key = f"Alpha:{alpha.seed['solution']['id']}"
    assert any(n["key"] == sol_key and n["name"] == "Parkeersensor" for n in graph["solutions"])
    assert any(e["solution"] == sol_key and e["city_code"] == "GM0363" and e["source"]["node"] == "Alpha"
               for e in graph["adoptions"])

    health = hub.get(f"/api/v1/federation/peers/{items(session, 'Alpha')[0].peer_id}/health").json()
    assert health["healthy"] is True and health["consecutive_failures"] == 0
    assert health["items"] == len(items(session, "Alpha"))
    assert set(health["high_water"]) >= {"project", "solution", "adoption"}


def test_local_items_are_attributed_to_this_node(hub, alpha, session):
    r = hub.post("/api/v1/projects", json={"title": "Fietsers tellen op de brug", "city": "GM0363"})
    assert r.status_code == 201, r.text
    register(hub, alpha)
    assert harvest(hub)["Alpha"]["ok"]
    found = hub.get("/api/v1/federation/search", params={"q": "fietsers"}).json()
    local = [i for i in found["items"] if i["source"]["node"] == "Hub"]
    assert [i["title"] for i in local] == ["Fietsers tellen op de brug"]
    assert local[0]["source"]["url"] == "http://testserver"
    assert found["local_total"] == 1
    assert any(i["source"]["node"] == "Alpha" for i in found["items"])
    assert found["federated_total"] == sum(1 for i in found["items"] if i["source"]["node"] == "Alpha")
    bad = hub.get("/api/v1/federation/search", params={"q": "fietsers", "limit": 0})
    assert bad.status_code == 422 and "limit" in bad.text


def test_reharvest_fetches_only_what_changed(hub, alpha, harvest_settings, session):
    harvest_settings.federation_skew_margin_seconds = 0
    register(hub, alpha)
    first = harvest(hub)["Alpha"]
    assert first["ok"] and first["created"] >= 4
    total = len(items(session, "Alpha"))
    new_summary = f"Gewijzigd {uuid.uuid4().hex[:8]}"  # unique: the peer is shared by both dialects' runs
    changed = alpha.patch("projects", alpha.seed["other_project"]["id"], {"summary": new_summary})

    second = harvest(hub)["Alpha"]
    assert second["ok"], second
    registry_unchanged = second["unchanged"] - len(items(session, "Alpha", "dataset"))
    assert second["created"] == 0
    registry_changes = [c for c in second["changed"] if not c.startswith("dataset:")]
    assert registry_changes == [f"project:{changed['id']}"]
    # The peer's catalogue changed with it: the projects list dataset, nothing else.
    assert [c for c in second["changed"] if c.startswith("dataset:")] == [
        f"dataset:{alpha.base_url}/api/v1/catalog/datasets/registry-projects"]
    assert second["updated"] == 2 and second["deleted"] == 0
    # Only the high-water items themselves (>= mark) come back per list, not the whole registry.
    assert registry_unchanged <= 6 and registry_unchanged < total
    assert len(items(session, "Alpha")) == total
    row = next(i for i in items(session, "Alpha", "project") if i.remote_id == str(changed["id"]))
    assert row.summary == new_summary
    assert as_utc(row.first_seen_at) < as_utc(row.last_seen_at)


def test_dead_peer_is_reported_backed_off_and_recovers(hub, alpha, session, harvest_settings, db):
    peer_id = register(hub, alpha)
    assert harvest(hub)["Alpha"]["ok"]
    kept = {(i.item_type, i.remote_id, i.title) for i in items(session, "Alpha")}
    alpha.kill()
    try:
        down = harvest(hub)["Alpha"]
        assert not down["ok"] and down["errors"]
        health = hub.get(f"/api/v1/federation/peers/{peer_id}/health").json()
        assert health["healthy"] is False and health["consecutive_failures"] == 1
        assert health["last_success_at"] is not None and health["last_error"]
        assert health["next_attempt_at"] > health["last_attempt_at"]
        # The last good copy stays.
        assert {(i.item_type, i.remote_id, i.title) for i in items(session, "Alpha")} == kept
        # A scheduled (unforced) pass leaves the peer alone while it is backing off.
        with db.session() as s:
            scheduled = service.harvest(s, harvest_settings, force=False)
        assert [r.skipped_backoff for r in scheduled] == [True]
        session.expire_all()
        assert session.get(PeerStatus, peer_id).consecutive_failures == 1
        again = harvest(hub)["Alpha"]  # forced: tried, fails again, backs off longer
        assert not again["ok"]
        health2 = hub.get(f"/api/v1/federation/peers/{peer_id}/health").json()
        assert health2["consecutive_failures"] == 2
    finally:
        alpha.start()
    back = harvest(hub)["Alpha"]
    assert back["ok"], back
    health = hub.get(f"/api/v1/federation/peers/{peer_id}/health").json()
    assert health["healthy"] is True and health["consecutive_failures"] == 0 and health["last_error"] is None
    assert health["next_attempt_at"] is None


def test_clock_skew_neither_misses_nor_duplicates(hub, alpha, session):
    register(hub, alpha)
    ahead = alpha.create("projects", {"title": "Project met klok voor", "city": "GM0344"})
    behind = alpha.create("projects", {"title": "Project met klok achter", "city": "GM0344"})
    alpha.set_updated_at(Project, ahead["id"], utcnow() + timedelta(hours=2))
    alpha.set_updated_at(Project, behind["id"], utcnow() - timedelta(hours=2))
    assert harvest(hub)["Alpha"]["ok"]
    projects = {i.remote_id for i in items(session, "Alpha", "project")}
    assert {str(ahead["id"]), str(behind["id"])} <= projects

    # The peer's clock is corrected: its next change is stamped far below the item from the future.
    corrected = f"Na de klokcorrectie {uuid.uuid4().hex[:8]}."
    later = alpha.patch("projects", alpha.seed["project"]["id"], {"summary": corrected})
    # And one change committed late, stamped a minute before the last harvest.
    late = alpha.create("projects", {"title": "Laat vastgelegd project", "city": "GM0344"})
    alpha.set_updated_at(Project, late["id"], utcnow() - timedelta(minutes=1))

    second = harvest(hub)["Alpha"]
    assert second["ok"], second
    rows = items(session, "Alpha", "project")
    by_id = {i.remote_id: i for i in rows}
    assert by_id[str(later["id"])].summary == corrected
    assert str(late["id"]) in by_id
    assert len(rows) == len(by_id)  # no duplicates
    listed = alpha.request("GET", "/api/v1/projects", params={"limit": 500}).json()["total"]
    assert len(rows) == listed
    count = session.scalar(select(func.count()).select_from(FederatedItem))
    assert count == len(items(session, "Alpha"))


def test_paging_misses_nothing_when_the_peer_changes_an_item_meanwhile(hub, alpha, session, monkeypatch):
    monkeypatch.setattr(harvester, "PAGE_SIZE", 2)
    register(hub, alpha)
    for n in range(3):
        alpha.create("projects", {"title": f"Extra project {n} {uuid.uuid4().hex[:6]}", "city": "GM0344"})
    new_summary = f"Tijdens het oogsten gewijzigd {uuid.uuid4().hex[:8]}"
    real_get_json = PeerClient.get_json
    touched: list[int] = []

    def get_json(self, path, params=None, accept="application/json"):
        page = real_get_json(self, path, params, accept)
        if path == "/api/v1/projects" and not touched:
            # Between our first and second page the peer changes the first record: it moves to
            # the end of the updated_at order and every record behind it shifts forward.
            touched.append(page["items"][0]["id"])
            alpha.patch("projects", touched[0], {"summary": new_summary})
        return page

    monkeypatch.setattr(PeerClient, "get_json", get_json)
    assert harvest(hub)["Alpha"]["ok"]
    on_peer = {str(p["id"]) for p in alpha.request("GET", "/api/v1/projects", params={"limit": 500}).json()["items"]}
    harvested = {i.remote_id: i for i in items(session, "Alpha", "project")}
    assert set(harvested) == on_peer
    assert harvested[str(touched[0])].summary == new_summary


def test_a_delete_on_the_peer_removes_the_harvested_copy(hub, alpha, session):
    """On the harvesting node's own database (SQLite and PostgreSQL): the tombstone removes the
    copy from the stored items, the merged listing and search, and only that copy."""
    word = f"sluisdeur{uuid.uuid4().hex[:6]}"
    doomed = alpha.create("projects", {"title": f"Slimme {word}", "city": "GM0344"})
    kept = alpha.create("projects", {"title": f"Andere {word}", "city": "GM0344"})
    register(hub, alpha)
    assert harvest(hub)["Alpha"]["ok"]
    assert {str(doomed["id"]), str(kept["id"])} <= {i.remote_id for i in items(session, "Alpha", "project")}
    assert alpha.request("DELETE", f"/api/v1/projects/{doomed['id']}").status_code == 204
    stones = alpha.request("GET", "/api/v1/federation/tombstones", params={"type": "project"}).json()
    assert {"type": "project", "id": doomed["id"]} in [{k: t[k] for k in ("type", "id")} for t in stones["items"]]

    report = harvest(hub)["Alpha"]
    assert report["ok"] and f"project:{doomed['id']}" in report["removed"] and report["created"] == 0
    remaining = {i.remote_id for i in items(session, "Alpha", "project")}
    assert str(doomed["id"]) not in remaining and str(kept["id"]) in remaining
    found = hub.get("/api/v1/federation/search", params={"q": word}).json()["items"]
    assert [(i["source"]["node"], i["id"]) for i in found] == [("Alpha", str(kept["id"]))]
    listed = hub.get("/api/v1/federation/items", params={"type": "project", "city": "GM0344"}).json()
    assert ("Alpha", str(doomed["id"])) not in {(i["source"]["node"], i["id"]) for i in listed["items"]}
    again = harvest(hub)["Alpha"]  # the tombstone is read again inside the margin: nothing happens
    assert again["deleted"] == 0 and again["removed"] == []


def test_tombstones_and_the_listing_say_what_is_wrong_with_a_query(hub):
    bad = hub.get("/api/v1/federation/tombstones", params={"type": "thing"})
    assert bad.status_code == 422 and "living_lab" in bad.text and "type" in bad.text
    assert hub.get("/api/v1/federation/tombstones", params={"type": "project", "limit": 0}).status_code == 422
    assert hub.get("/api/v1/federation/tombstones", params={"type": "project", "since": "gisteren"}).status_code == 422
    assert hub.get("/api/v1/federation/items", params={"type": "project", "city": "GM9999"}).status_code == 422
    assert hub.get("/api/v1/federation/items", params={"type": "project", "offset": -1}).status_code == 422
    empty = hub.get("/api/v1/federation/items", params={"type": "coalition"}).json()
    assert empty == {"type": "coalition", "total": 0, "local_total": 0, "federated_total": 0, "items": []}
