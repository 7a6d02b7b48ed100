"""`stadslab demo` gives the register, the investment agenda and the dashboard something to show."""

from __future__ import annotations

from stadslab.infrastructure.demo import ASSETS, INVESTMENTS, load_infrastructure_demo
from stadslab.labs.demo_loader import load_demo


def test_demo_infrastructure_is_loaded_once_and_shows_everywhere(db, client):
    with db.session() as s:
        load_demo(s)
        assert load_infrastructure_demo(s) == len(ASSETS) + len(INVESTMENTS)
        assert load_infrastructure_demo(s) == 0  # idempotent: never twice
    assets = client.get("/api/v1/infrastructure").json()
    assert assets["total"] == len(ASSETS)
    by_name = {a["name"]: a for a in assets["items"]}
    gateway = by_name["LoRaWAN-gateway Leidsche Rijn Centrum"]
    assert gateway["municipality_code"] == "GM0344" and gateway["living_lab_ids"]  # serves the lab
    agenda = client.get("/api/v1/investments").json()
    assert agenda["total"] == len(INVESTMENTS)
    rows = {c["code"]: c for c in client.get("/api/v1/network/overview").json()["cities"]}
    utrecht = rows["GM0344"]["infrastructure"]
    assert utrecht["gateways"]["open"] == 2
    assert (utrecht["investment"]["committed_eur"], utrecht["investment"]["gap_eur"]) == (180000, 60000)
    page = client.get(f"/labs/{gateway['living_lab_ids'][0]}").text
    assert "LoRaWAN-gateway Leidsche Rijn Centrum" in page  # the lab's facilities link to the asset
    # amounts in the reader's number format
    assert "€ 180.000" in client.get("/infrastructuur/investeringen?lang=nl").text
    assert "€ 180,000" in client.get("/infrastructuur/investeringen?lang=en").text
