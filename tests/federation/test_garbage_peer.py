"""A peer answering nonsense: reported, skipped, nothing harvested earlier is lost."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from stadslab.federation import service
from stadslab.federation.models import FederatedItem, FederationPeer
from stadslab.core.auth import SYSTEM

from .garbage_peer import GarbagePeer, endless, page, slow


def project(pid, title, updated="2026-11-01T10:00:00+00:00", **extra):
    return {"id": pid, "title": title, "summary": "", "city": {"code": "GM0193", "name": "Zwolle"},
            "themes": [{"code": "mobility"}], "status": "pilot", "updated_at": updated, **extra}


@pytest.fixture
def peer():
    with GarbagePeer() as p:
        yield p


@pytest.fixture
def registered(peer, session, harvest_settings):
    return service.create_peer(session, harvest_settings, SYSTEM, name="Garbage", base_url=peer.base_url)


def run(session, settings):
    reports = service.harvest(session, settings, peer_name="Garbage")
    assert reports is not None and len(reports) == 1
    return reports[0]


def stored(session) -> dict[tuple[str, str], FederatedItem]:
    session.expire_all()
    return {(i.item_type, i.remote_id): i for i in session.scalars(select(FederatedItem))}


def test_bad_records_are_reported_and_skipped_the_rest_goes_on(peer, registered, session, harvest_settings):
    peer.json("/api/v1/projects", page([project(1, "Goed project"), "not an object", {"id": 2, "title": "x"},
                                        project(3, "Ook goed"), {"title": "no id", "updated_at": "2026-01-01"}]))
    report = run(session, harvest_settings)
    assert report.ok, report.errors
    assert {k for k in stored(session) if k[0] == "project"} == {("project", "1"), ("project", "3")}
    assert ("dataset", "http://peer.example/ds/1") in stored(session)
    assert len(report.skipped) == 3
    assert any("projects[1]" in s and "not a JSON object" in s for s in report.skipped)
    assert any("projects[2]" in s and "updated_at" in s for s in report.skipped)
    health = service.peer_health(session, registered.id)
    assert health["healthy"] is True and len(health["skipped"]) == 3


def test_garbage_answers_are_reported_and_nothing_is_lost(peer, registered, session, harvest_settings):
    peer.json("/api/v1/projects", page([project(1, "Goed project")]))
    peer.json("/api/v1/solutions", page([{"id": 7, "name": "Slimme lantaarn", "maturity": "pilot",
                                          "updated_at": "2026-11-01T10:00:00Z"}]))
    assert run(session, harvest_settings).ok
    before = {k: (v.title, v.remote_updated_at) for k, v in stored(session).items()}
    assert ("project", "1") in before and ("solution", "7") in before

    peer.routes["/api/v1/projects"] = (200, b"{not json")
    peer.json("/api/v1/solutions", {"results": []})  # wrong shape
    peer.routes["/api/v1/living-labs"] = endless()  # larger than the cap, no Content-Length
    peer.routes["/api/v1/catalog.jsonld"] = (200, b'{"@context": 42, "@graph": [}')
    report = run(session, harvest_settings)
    assert not report.ok
    text = " | ".join(report.errors)
    assert "/api/v1/projects: invalid JSON" in text
    assert "/api/v1/solutions: not a registry list" in text
    assert "/api/v1/living-labs: answer exceeds the cap" in text
    assert "catalog.jsonld: invalid JSON" in text
    after = {k: (v.title, v.remote_updated_at) for k, v in stored(session).items()}
    assert after == before
    health = service.peer_health(session, registered.id)
    assert health["healthy"] is False and "invalid JSON" in health["last_error"]
    # The high-water marks of the failed lists did not move: the next harvest asks again.
    assert set(health["high_water"]) >= {"project", "solution"}


def test_json_ld_without_a_catalogue_is_refused(peer, registered, session, harvest_settings):
    peer.json("/api/v1/catalog.jsonld", {"@context": {"x": "http://example.org/"}, "x:y": 1})
    report = run(session, harvest_settings)
    assert not report.ok and any("without a dcat:Catalog" in e for e in report.errors)


def test_slow_peer_times_out_after_capped_retries(peer, registered, session, harvest_settings):
    harvest_settings.federation_timeout_seconds = 0.3
    peer.routes["/api/v1/projects"] = slow(1.5)
    report = run(session, harvest_settings)
    assert not report.ok and "timed out" in report.errors[0]
    assert peer.hits["/api/v1/projects"] == harvest_settings.federation_retries
    # An unreachable peer is not asked for its other lists in the same pass.
    assert "/api/v1/solutions" not in peer.hits


def test_server_errors_are_retried_then_succeed(peer, registered, session, harvest_settings):
    answers = iter([(503, b"busy"), (502, b"bad gateway")])
    good = (200, __import__("json").dumps(page([project(5, "Na herhaling")])).encode())
    peer.routes["/api/v1/projects"] = lambda: next(answers, good)
    report = run(session, harvest_settings)
    assert report.ok, report.errors
    assert peer.hits["/api/v1/projects"] == 3
    assert ("project", "5") in stored(session)


def test_same_remote_id_on_two_peers_stays_two_items(peer, registered, session, harvest_settings):
    with GarbagePeer() as other:
        service.create_peer(session, harvest_settings, SYSTEM, name="Other", base_url=other.base_url)
        peer.json("/api/v1/projects", page([project(1, "Van Garbage")]))
        other.json("/api/v1/projects", page([project(1, "Van Other")]))
        reports = service.harvest(session, harvest_settings)
        assert [r.ok for r in reports] == [True, True]
        rows = session.execute(select(FederationPeer.name, FederatedItem.title).join(FederationPeer)
                               .where(FederatedItem.item_type == "project", FederatedItem.remote_id == "1")).all()
        assert sorted(rows) == [("Garbage", "Van Garbage"), ("Other", "Van Other")]
