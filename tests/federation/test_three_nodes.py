"""A national node and two regional nodes, all three real server processes with their own
databases: the national node harvests the regions over HTTP, as in production.

What must hold (issue #16, item 7): a delete on a region reaches the national node; an id
is never given twice; harvested items show in the national listing and search, marked with
their node, and nothing is counted twice; a harvest without changes changes nothing; items
of a peer not harvested for too long are shown as stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from stadslab.core.database import Database, utcnow
from stadslab.federation.models import FederationPeer, PeerStatus

from .nodes import Node


@pytest.fixture(scope="module")
def network(node_template, tmp_path_factory) -> Iterator[dict[str, Node]]:
    nodes = {name: Node(name, tmp_path_factory.mktemp(name.lower()), node_template)
             for name in ("Nationaal", "Noord", "Zuid")}
    try:
        for node in nodes.values():
            node.launch()
        for node in nodes.values():
            node.wait_ready()
        national = nodes["Nationaal"]
        for region in ("Noord", "Zuid"):
            r = national.request("POST", "/api/v1/federation/peers",
                                 json={"name": region, "base_url": nodes[region].base_url,
                                       "token": nodes[region].token})
            assert r.status_code == 201, r.text
        yield nodes
    finally:
        for node in nodes.values():
            node.kill()


def harvest(national: Node) -> dict[str, dict]:
    r = national.request("POST", "/api/v1/federation/harvest")
    assert r.status_code == 200, r.text
    reports = {p["peer"]: p for p in r.json()["peers"]}
    assert all(p["ok"] for p in reports.values()), reports
    return reports


def listing(national: Node, kind: str = "project", **params) -> dict:
    r = httpx_get(national, "/api/v1/federation/items", type=kind, limit=500, **params)
    return r


def httpx_get(node: Node, path: str, **params) -> dict:
    """An anonymous read (the national listing and search are public)."""
    import httpx

    r = httpx.get(f"{node.base_url}{path}", params=params, timeout=15)
    assert r.status_code == 200, r.text
    return r.json()


def page(node: Node, path: str, lang: str = "nl", **params) -> str:
    import httpx

    r = httpx.get(f"{node.base_url}{path}", params=params, cookies={"stadslab_lang": lang}, timeout=15)
    assert r.status_code == 200, r.text
    return r.text


def search(national: Node, q: str) -> list[tuple[str, str, str]]:
    found = httpx_get(national, "/api/v1/federation/search", q=q, limit=100)
    return sorted((i["source"]["node"], i["type"], i["id"]) for i in found["items"])


def test_a_delete_on_a_region_reaches_the_national_node_and_its_id_is_never_given_again(network):
    national, noord = network["Nationaal"], network["Noord"]
    word = f"kademuur{uuid.uuid4().hex[:6]}"
    kept = noord.create("projects", {"title": f"Sensoren in de {word} blijven", "city": "GM0014"})
    doomed = noord.create("projects", {"title": f"Sensoren in de {word} verdwijnen", "city": "GM0014"})
    sol = noord.create("solutions", {"name": f"Kademonitor {word}", "description": "Meet scheefstand"})
    adoption = noord.create("adoptions", {"solution_id": sol["id"], "city": "GM0080"})
    harvest(national)
    assert search(national, word) == sorted([("Noord", "adoption", str(adoption["id"])),  # "Kademonitor .. in .."
                                             ("Noord", "project", str(kept["id"])),
                                             ("Noord", "project", str(doomed["id"])),
                                             ("Noord", "solution", str(sol["id"]))])
    graph = httpx_get(national, "/api/v1/federation/replication-graph")
    assert any(e["adoption_id"] == str(adoption["id"]) and e["source"]["node"] == "Noord" for e in graph["adoptions"])

    assert noord.request("DELETE", f"/api/v1/projects/{doomed['id']}").status_code == 204
    assert noord.request("DELETE", f"/api/v1/adoptions/{adoption['id']}").status_code == 204
    # The next project on the region gets a new id, never the deleted one.
    reborn = noord.create("projects", {"title": f"Nieuw project bij de {word}", "city": "GM0014"})
    assert reborn["id"] > doomed["id"]

    report = harvest(national)["Noord"]
    assert set(report["removed"]) >= {f"project:{doomed['id']}", f"adoption:{adoption['id']}"}
    assert report["deleted"] == len(report["removed"])
    assert f"project:{reborn['id']}" in report["changed"] and report["created"] >= 1
    # Gone from search, the listing and the replication graph; the new project is a new item.
    assert search(national, word) == sorted([("Noord", "project", str(kept["id"])),
                                             ("Noord", "project", str(reborn["id"])),
                                             ("Noord", "solution", str(sol["id"]))])
    ids = {i["id"] for i in listing(national, city="GM0014")["items"] if i["source"]["node"] == "Noord"}
    assert str(doomed["id"]) not in ids and {str(kept["id"]), str(reborn["id"])} <= ids
    graph = httpx_get(national, "/api/v1/federation/replication-graph")
    assert not any(e["adoption_id"] == str(adoption["id"]) and e["source"]["node"] == "Noord"
                   for e in graph["adoptions"])
    # The deleted project's record on the region is gone too (and stays gone).
    assert noord.request("GET", f"/api/v1/projects/{doomed['id']}").status_code == 404


def test_harvested_items_show_with_their_node_and_are_counted_once(network):
    national, noord, zuid = network["Nationaal"], network["Noord"], network["Zuid"]
    word = f"warmtepomp{uuid.uuid4().hex[:6]}"
    mine = national.create("projects", {"title": f"Landelijke {word} aanpak", "city": "GM0344"})
    north = noord.create("projects", {"title": f"Noordelijke {word} wijk", "city": "GM0014"})
    south = zuid.create("projects", {"title": f"Zuidelijke {word} wijk", "city": "GM0772"})
    noord.create("living-labs", {"name": f"Proeftuin {word}", "city": "GM0014", "description": "Warmte",
                                 "status": "active"})
    harvest(national)

    every = listing(national)
    keys = [(i["source"]["node"], i["id"]) for i in every["items"]]
    assert len(keys) == len(set(keys)) == every["total"] == every["local_total"] + every["federated_total"]
    assert {"Nationaal", "Noord", "Zuid"} == {node for node, _ in keys}
    assert all(i["type"] == "project" for i in every["items"])  # never a project's catalogue entry
    by_key = {(i["source"]["node"], i["id"]): i for i in every["items"]}
    assert by_key[("Noord", str(north["id"]))]["harvested"] is True
    assert by_key[("Noord", str(north["id"]))]["source"]["url"] == noord.base_url
    assert by_key[("Noord", str(north["id"]))]["url"] == f"{noord.base_url}/api/v1/projects/{north['id']}"
    assert by_key[("Nationaal", str(mine["id"]))]["harvested"] is False
    # Each region's own count is what the region itself lists: nothing lost, nothing twice.
    for region in (noord, zuid):
        own = region.request("GET", "/api/v1/projects", params={"limit": 1}).json()["total"]
        assert sum(1 for node, _ in keys if node == region.name) == own

    # By municipality: the city of the southern project shows it, attributed to Zuid.
    eindhoven = listing(national, city="GM0772")
    assert ("Zuid", str(south["id"])) in {(i["source"]["node"], i["id"]) for i in eindhoven["items"]}
    assert all(i["city_code"] == "GM0772" for i in eindhoven["items"])
    labs = listing(national, "living_lab", city="GM0014")
    assert [i["source"]["node"] for i in labs["items"] if word in i["title"]] == ["Noord"]

    # Search: each project once, with its node; the catalogue adds no second copy of a project.
    assert search(national, word) == sorted([("Nationaal", "project", str(mine["id"])),
                                             ("Noord", "living_lab", by_lab_id(labs, word)),
                                             ("Noord", "project", str(north["id"])),
                                             ("Zuid", "project", str(south["id"]))])

    # The pages of the national node: the city page, the list of labs and the search page show
    # the regions' items, each once, with its node and a link to its page on that node.
    city = page(national, "/steden/GM0014")
    assert city.count(f"{noord.base_url}/projecten/{north['id']}\"") == 1 and "knooppunt Noord" in city
    labs_page = page(national, "/labs")
    assert labs_page.count(f"Proeftuin {word}") == 1 and "knooppunt Noord" in labs_page
    found = page(national, "/zoeken", q=word)
    assert found.count(f"{zuid.base_url}/projecten/{south['id']}\"") == 1
    assert found.count(f"{noord.base_url}/projecten/{north['id']}\"") == 1
    assert found.count(f'href="/projecten/{mine["id"]}"') == 1
    english = page(national, "/steden/GM0014", lang="en")
    assert "From other nodes in the network" in english and "node Noord" in english

    bad = national.request("GET", "/api/v1/federation/items", params={"type": "dataset-of-projects"})
    assert bad.status_code == 422 and "allowed" in bad.text and "project" in bad.text


def by_lab_id(labs: dict, word: str) -> str:
    return next(i["id"] for i in labs["items"] if word in i["title"])


def test_a_harvest_without_changes_changes_nothing(network):
    national = network["Nationaal"]
    harvest(national)
    again = harvest(national)
    for report in again.values():
        assert (report["created"], report["updated"], report["deleted"]) == (0, 0, 0), report
        assert report["changed"] == [] and report["removed"] == []


def test_items_of_a_peer_not_harvested_for_too_long_are_stale(network):
    national, zuid = network["Nationaal"], network["Zuid"]
    zuid.create("projects", {"title": "Zuidelijk project dat veroudert", "city": "GM0772"})
    harvest(national)
    assert not any(i["stale"] for i in listing(national)["items"])
    zuid.kill()
    try:
        r = national.request("POST", "/api/v1/federation/harvest", params={"peer": "Zuid"})
        assert r.status_code == 200 and not r.json()["peers"][0]["ok"]
        # Three days without a successful harvest (the default limit is two): stamped in the
        # national node's database, as the clock would have done.
        db = Database(national.database_url)
        with db.engine.begin() as conn:
            peer_id = conn.execute(FederationPeer.__table__.select().where(
                FederationPeer.__table__.c.name == "Zuid")).first().id
            conn.execute(update(PeerStatus.__table__).where(PeerStatus.__table__.c.peer_id == peer_id)
                         .values(last_success_at=utcnow() - timedelta(days=3)))
        db.dispose()
        items = listing(national)["items"]
        stale = {i["source"]["node"] for i in items if i["stale"]}
        assert stale == {"Zuid"}
        assert all(i["last_harvested_at"] for i in items if i["source"]["node"] == "Zuid")
        found = httpx_get(national, "/api/v1/federation/search", q="veroudert")["items"]
        assert [(i["source"]["node"], i["stale"]) for i in found] == [("Zuid", True)]
        health = national.request("GET", f"/api/v1/federation/peers/{peer_id}/health")
        assert health.status_code == 200 and health.json()["stale"] is True
        # The health of a peer names hosts and errors: administrators only.
        import httpx
        assert httpx.get(f"{national.base_url}/api/v1/federation/peers/{peer_id}/health").status_code == 401
    finally:
        zuid.start()
    harvest(national)
    assert not any(i["stale"] for i in listing(national)["items"])
