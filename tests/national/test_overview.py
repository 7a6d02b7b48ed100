"""The national view's services and API: per-city figures, filters, harvested items, the solutions
index and its order, preconditions against city facts, and funding matched to a city's projects."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from stadslab.core.database import utcnow
from stadslab.federation.models import FederatedItem, FederationPeer
from stadslab.network.models import CityNetworkMembership, Municipality
from tests.factories import AMSTERDAM, EINDHOVEN, ROTTERDAM, UTRECHT
from tests.national.seed import APELDOORN, DORDRECHT, HEERLEN, NIJMEGEN, seed_nation

OVERVIEW = "/api/v1/network/overview"


def _rows(body) -> dict[str, dict]:
    return {c["code"]: c for c in body["cities"]}


def test_every_g4_and_g40_city_is_a_row_or_listed_as_empty(client, session):
    seed_nation(session)
    body = client.get(OVERVIEW).json()
    members = set(session.scalars(select(CityNetworkMembership.municipality_code)))
    rows = _rows(body)
    empty = {c["code"]: c for c in body["without_content"]}
    # Eindhoven is in neither network in the reference data, but it has content, so it is a row too.
    assert EINDHOVEN not in members
    assert set(rows) | set(empty) == members | {EINDHOVEN} and not set(rows) & set(empty)
    assert set(rows) == {AMSTERDAM, ROTTERDAM, UTRECHT, EINDHOVEN, DORDRECHT}
    assert rows[EINDHOVEN]["networks"] == []
    assert body["totals"]["cities_without_content"] == len(members) - 4
    rdam = rows[ROTTERDAM]
    assert (rdam["projects"], rdam["evaluations"], rdam["verdicts"]["improved"]) == (1, 1, 1)
    assert rows[DORDRECHT]["solutions_adopted"] == 1 and rows[UTRECHT]["solutions_adopted"] == 1
    assert rows[EINDHOVEN]["labs"] == 1 and rows[AMSTERDAM]["labs"] == 1
    assert body["totals"]["projects"] == sum(r["projects"] for r in rows.values()) == 4
    # Heerlen has nothing: it is listed with the themes of the open coalition it could join.
    heerlen = empty[HEERLEN]
    assert heerlen["themes_to_join"] == ["energy-transition", "logistics-ports"]
    assert [c["title"] for c in heerlen["could_join"]] == ["Coalitie Walstroom"]


def test_filters_by_theme_network_and_province(client, session):
    seed_nation(session)
    rows = _rows(client.get(OVERVIEW, params={"theme": "mobility"}).json())
    assert ROTTERDAM not in rows and rows[UTRECHT]["projects"] == 2  # the port project is not about mobility
    body = client.get(OVERVIEW, params={"network": "G4"}).json()
    assert set(_rows(body)) == {AMSTERDAM, ROTTERDAM, UTRECHT} and not body["without_content"] == []
    assert {c["code"] for c in body["without_content"]} == {"GM0518"}  # Den Haag
    assert client.get(OVERVIEW, params={"theme": ""}).json()["filters"]["theme"] == []  # an empty field: no filter
    body = client.get(OVERVIEW, params=[("province", "Limburg"), ("province", "Gelderland")]).json()
    assert not body["cities"] and {c["name"] for c in body["without_content"]} >= {"Heerlen", "Nijmegen"}


@pytest.mark.parametrize("param,value", [("province", "Atlantis"), ("theme", "teleportation"), ("network", "G5")])
def test_unknown_filter_values_are_a_400_with_the_allowed_values(client, param, value):
    r = client.get(OVERVIEW, params={param: value})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    error = r.json()["errors"][0]
    assert error["loc"] == ["query", param] and value in error["msg"]
    assert {"Limburg", "mobility", "G40"} & set(error["allowed"])


def test_harvested_items_count_marked_with_their_node(client, session):
    seed_nation(session)
    peer = FederationPeer(name="regio-zuid", base_url="http://zuid.example")
    session.add(peer)
    session.flush()
    now = utcnow()
    for remote_id, item_type, status, themes in (("7", "project", "pilot", ["mobility"]),
                                                 ("8", "living_lab", "active", ["energy-transition"]),
                                                 ("9", "adoption", "planned", ["mobility"]),
                                                 ("10", "adoption", "adopted", ["mobility"])):
        session.add(FederatedItem(peer_id=peer.id, item_type=item_type, remote_id=remote_id, title="x",
                                  city_code=HEERLEN, status=status, themes=themes, remote_updated_at=now))
    session.commit()
    heerlen = _rows(client.get(OVERVIEW).json())[HEERLEN]
    assert (heerlen["projects"], heerlen["labs"], heerlen["solutions_adopted"]) == (1, 1, 1)  # planned: not reached
    assert heerlen["federated"] == {"regio-zuid": {"projects": 1, "labs": 1, "solutions_adopted": 1}}
    themed = _rows(client.get(OVERVIEW, params={"theme": "mobility"}).json())[HEERLEN]
    assert (themed["projects"], themed["labs"]) == (1, 0)


def test_solutions_index_order_filters_and_evidence(client, session):
    nation = seed_nation(session)
    body = client.get("/api/v1/network/solutions").json()
    assert body["sort"] == "-adopting_cities"
    names = [s["name"] for s in body["solutions"]]
    assert names == ["Adaptieve straatverlichting", "Walstroomkast voor binnenvaart"]  # 1 city each: by name
    kiosk = body["solutions"][1]
    assert kiosk["id"] == nation.kiosk and kiosk["origin"]["code"] == ROTTERDAM
    assert kiosk["evidence"] == {"improved": 1, "no_detectable_effect": 0, "worse": 0}
    assert kiosk["preconditions"] == ["inland_port"] and kiosk["adopting_cities"] == 1
    assert kiosk["time_to_half_adoption_days"] == 365  # origin project start 2022-01-01, adopted 2023-01-01
    by_half = client.get("/api/v1/network/solutions", params={"sort": "-time_to_half_adoption"}).json()
    assert [s["name"] for s in by_half["solutions"]] == ["Walstroomkast voor binnenvaart",
                                                         "Adaptieve straatverlichting"]
    proven = client.get("/api/v1/network/solutions", params={"maturity": "proven"}).json()
    assert [s["id"] for s in proven["solutions"]] == [nation.kiosk]
    from_rdam = client.get("/api/v1/network/solutions", params={"city": ROTTERDAM.lower()}).json()
    assert [s["id"] for s in from_rdam["solutions"]] == [nation.kiosk]
    r = client.get("/api/v1/network/solutions", params={"sort": "popularity"})
    assert r.status_code == 400 and "adopting_cities" in r.json()["errors"][0]["allowed"]
    assert client.get("/api/v1/network/solutions", params={"city": HEERLEN}).status_code == 400


def test_reference_facts_say_where_ports_and_metros_are(session):
    rotterdam, heerlen, utrecht = (session.get(Municipality, c) for c in (ROTTERDAM, HEERLEN, UTRECHT))
    assert set(rotterdam.facts) == {"seaport", "inland_port", "coast", "metro"}
    assert heerlen.facts == [] and "inland_port" in utrecht.facts and "metro" not in utrecht.facts


def test_advice_never_suggests_a_solution_where_its_preconditions_fail(client, session):
    nation = seed_nation(session)
    apeldoorn = client.get(f"/api/v1/municipalities/{APELDOORN}/opportunities").json()
    assert nation.kiosk not in [o["solution"]["id"] for o in apeldoorn["opportunities"]]
    assert apeldoorn["not_plausible"] == [{"solution": {"id": nation.kiosk, "name": "Walstroomkast voor binnenvaart"},
                                           "missing": ["inland_port"]}]
    nijmegen = client.get(f"/api/v1/municipalities/{NIJMEGEN}/opportunities").json()
    assert nation.kiosk in [o["solution"]["id"] for o in nijmegen["opportunities"]]
    advice = client.get(f"/api/v1/solutions/{nation.kiosk}/advice", params={"limit": 50}).json()
    recommended = [r["municipality"]["code"] for r in advice["recommendations"]]
    assert recommended and advice["excluded_for_preconditions"] > 300
    facts = dict(session.execute(select(Municipality.code, Municipality.facts)
                                 .where(Municipality.code.in_(recommended))).all())
    assert all("inland_port" in facts[c] for c in recommended)


def test_solution_preconditions_are_validated_and_returned(admin_client):
    bad = admin_client.post("/api/v1/solutions", json={"name": "Vulkaanmeter", "preconditions": ["volcano"]})
    assert bad.status_code == 422 and "preconditions" in bad.text
    ok = admin_client.post("/api/v1/solutions", json={"name": "Metroklok", "preconditions": ["metro"]})
    assert ok.status_code == 201 and ok.json()["preconditions"] == ["metro"]


def test_funding_calls_matched_to_a_citys_projects(client, session):
    nation = seed_nation(session)
    body = client.get(f"/api/v1/municipalities/{UTRECHT}/funding-matches").json()
    assert body["matches"], body
    first = body["matches"][0]
    assert first["funding_call"]["id"] == nation.call
    assert nation.utrecht_project in [p["project"]["id"] for p in first["projects"]]
    assert all(p["shared_themes"] == ["mobility"] for p in first["projects"])
    assert client.get("/api/v1/municipalities/GM9999/funding-matches").status_code == 404


def test_city_matches_read_the_same_documents_as_project_matches(session):
    """The city page reads projects as plain rows; the words compared are exactly those of project_doc."""
    from stadslab.interop.service import _seeking_docs, _seeking_projects, project_doc

    seed_nation(session)
    docs, _rows = _seeking_docs(session)
    projects = _seeking_projects(session)
    assert projects and set(docs) == {p.id for p in projects}
    for p in projects:
        expected = project_doc(p)
        assert (docs[p.id].terms, docs[p.id].themes) == (expected.terms, expected.themes), p.id


def test_each_city_row_carries_its_infrastructure_figures(admin_client, client, session):
    """Gateways by openness, coverage share and investment committed and gap, per city (issue #17 item 7),
    the same figures as the infrastructure register's own per-city answer."""
    from tests.infrastructure.test_register_investments import asset, investment

    seed_nation(session)
    asset(admin_client, name="Gateway Zuidas", type="lorawan-gateway", openness="open")
    asset(admin_client, name="Gateway Noord", type="lorawan-gateway", openness="private",
          geometry={"type": "Point", "coordinates": [4.92, 52.39]})
    asset(admin_client, name="Oud", type="lorawan-gateway", openness="open", status="retired")
    assert admin_client.post("/api/v1/investments", json=investment()).status_code == 201
    rows = _rows(client.get(OVERVIEW).json())
    ams = rows[AMSTERDAM]["infrastructure"]
    assert ams["gateways"] == {"open": 1, "community": 0, "private": 1, "observed": 0}  # retired not counted
    assert ams["investment"] == {"cost_eur": 400000, "committed_eur": 250000, "gap_eur": 150000, "investments": 1}
    assert ams == client.get(f"/api/v1/infrastructure/figures/{AMSTERDAM}").json()
    rdam = rows[ROTTERDAM]["infrastructure"]
    assert rdam["gateways"] == {"open": 0, "community": 0, "private": 0, "observed": 0}
    assert rdam["investment"]["investments"] == 0
    page = client.get("/netwerk").text
    assert "LoRaWAN-dekking" in page and "250.000 / 150.000" in page


def test_loket_requests_count_once_in_the_city_of_their_lab_or_organisation(client, session):
    """Several requests: each counts once, in its lab's city, else its organisation's (a correlated
    subquery without its FROM once returned every request's city: 500 on PostgreSQL)."""
    from datetime import date

    from stadslab.governance.models import LoketRequest
    from stadslab.labs.models import LivingLab
    from stadslab.network.models import Organisation

    seed_nation(session)
    eindhoven_lab = session.scalars(select(LivingLab).where(LivingLab.municipality_code == EINDHOVEN)).first()
    rotterdam = Organisation(name="Gemeente Rotterdam (loket)", kind="municipality", municipality_code=ROTTERDAM)
    session.add(rotterdam)
    session.flush()
    for lab in (eindhoven_lab.id, eindhoven_lab.id, None):
        session.add(LoketRequest(type="experiment", topic="digital", title="Ruimte", organisation_id=rotterdam.id,
                                 living_lab_id=lab, routed_to="ienw", decision_due=date(2030, 1, 1)))
    session.commit()
    rows = _rows(client.get(OVERVIEW).json())
    assert rows[EINDHOVEN]["loket_requests"] == 2 and rows[ROTTERDAM]["loket_requests"] == 1
