"""Items harvested from other nodes on the pages, in a real browser: marked with their node,
stale ones flagged, axe-core clean in both languages (issue #16, item 7)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stadslab.core.database import utcnow
from stadslab.federation.models import FederatedItem, FederationPeer, PeerStatus
from tests.web.conftest import run_axe, screenshot

pytestmark = pytest.mark.browser


def _seed_harvest(session) -> None:
    fresh = FederationPeer(name="Noord", base_url="https://noord.example.org", active=True)
    old = FederationPeer(name="Zuid", base_url="https://zuid.example.org", active=True)
    session.add_all([fresh, old])
    session.flush()
    now = utcnow()
    session.add_all([PeerStatus(peer_id=fresh.id, last_success_at=now, consecutive_failures=0, items=2),
                     PeerStatus(peer_id=old.id, last_success_at=now - timedelta(days=5), consecutive_failures=4,
                                items=1)])
    for peer, kind, rid, title in ((fresh, "project", "7", "Warmtenet Eindhoven-Noord"),
                                   (fresh, "living_lab", "3", "Proeftuin warmtenet"),
                                   (old, "project", "12", "Warmtenet Strijp")):
        session.add(FederatedItem(peer_id=peer.id, item_type=kind, remote_id=rid, title=title, summary="warmte",
                                  city_code="GM0772", themes=[], status="pilot", remote_updated_at=now, payload={},
                                  source_url=f"{peer.base_url}/api/v1/x/{rid}", stems=" warmtenet warmt ",
                                  first_seen_at=now, last_seen_at=now))
    session.commit()


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_harvested_items_show_with_their_node_and_pass_axe(new_page, browser_session, axe_source, lang):
    _seed_harvest(browser_session)
    failures = {}
    for name, path in (("city", "/steden/GM0772"), ("labs", "/labs"), ("search", "/zoeken?q=warmtenet")):
        page = new_page(bypass_csp=True)
        response = page.goto(f"{path}{'&' if '?' in path else '?'}lang={lang}")
        assert response.status == 200, path
        section = page.locator("section.stadslab-harvested")
        assert section.count() == 1, path
        cards = section.locator("li[data-node]")
        nodes = sorted(cards.nth(i).get_attribute("data-node") for i in range(cards.count()))
        assert nodes == (["Noord"] if name == "labs" else ["Noord", "Noord", "Zuid"]), (path, nodes)
        text = section.inner_text()
        stale_word = "Mogelijk verouderd" if lang == "nl" else "Possibly outdated"
        assert (stale_word in text) == (name != "labs"), (path, text)  # only Zuid is stale; it has no lab
        if name != "labs":
            assert section.locator('a[href="https://zuid.example.org/projecten/12"]').count() == 1
        if page.locator("[data-map]").count():
            page.wait_for_selector("[data-map-ready]")
        screenshot(page, f"harvested-{name}-{lang}")
        violations = run_axe(page, axe_source)
        if violations:
            failures[path] = violations
    assert not failures, failures
