"""Replication graph, multiplier, cross-city comparison and transferability advice."""

from datetime import date

import pytest

from stadslab.evidence import advice
from stadslab.labs.schemas import AdoptionIn, ProjectIn, SolutionIn
from stadslab.labs.service import create_adoption, create_solution, update_adoption
from stadslab.labs.schemas import AdoptionPatch
from stadslab.network.models import Municipality
from tests.evidence.helpers import build_experiment, make_project
from tests.factories import project_payload

EINDHOVEN, TILBURG, HELMOND, ALMERE, BREDA, LELYSTAD = "GM0772", "GM0855", "GM0794", "GM0034", "GM0758", "GM0995"


@pytest.fixture
def network(session):
    origin = make_project(session, city=EINDHOVEN, status="pilot", start_date="2020-01-01",
                          themes=["mobility", "data-ai"])
    sol = create_solution(session, SolutionIn(name="Slimme fietslichten", themes=["mobility"],
                                              origin_project_id=origin))
    ids = {}
    for city, on, status in [(TILBURG, "2020-07-01", "adopted"), (HELMOND, "2021-01-01", "adopted"),
                             (ALMERE, "2021-06-01", "abandoned"), (BREDA, None, "planned")]:
        ids[city] = create_adoption(session, AdoptionIn(solution_id=sol.id, city=city, adopted_on=on, status=status)).id
    lonely = create_solution(session, SolutionIn(name="Alleen hier", origin_project_id=make_project(
        session, city=HELMOND, status="evaluated")))
    return {"solution": sol.id, "origin": origin, "adoptions": ids, "lonely": lonely.id}


def test_graph_has_cities_dates_projects_and_figures(client, session, network):
    r = client.get(f"/api/v1/solutions/{network['solution']}/graph")
    assert r.status_code == 200
    g = r.json()
    ids = {n["id"] for n in g["nodes"]}
    assert {f"solution:{network['solution']}", f"project:{network['origin']}", f"municipality:{EINDHOVEN}",
            f"municipality:{TILBURG}", f"municipality:{ALMERE}"} <= ids
    edges = {e["target"]: e for e in g["edges"] if e["type"] == "adopted_by"}
    assert edges[f"municipality:{TILBURG}"]["source"] == f"municipality:{EINDHOVEN}"
    assert edges[f"municipality:{TILBURG}"]["date"] == "2020-07-01"
    assert edges[f"municipality:{TILBURG}"]["days_after_origin"] == (date(2020, 7, 1) - date(2020, 1, 1)).days
    assert edges[f"municipality:{ALMERE}"]["status"] == "abandoned"
    f = g["figures"]
    pop = {m.code: m.population for m in session.query(Municipality).filter(
        Municipality.code.in_([EINDHOVEN, TILBURG, HELMOND]))}
    assert f["cities_reached"] == 2 and f["spread"] == "spreading"
    assert f["population_reached"] == sum(pop.values())
    assert f["time_to_adoption_days"]["median"] == (182 + 366) / 2
    assert f["adoptions_by_status"] == {"planned": 1, "piloting": 0, "adopted": 2, "abandoned": 1}
    assert client.get("/api/v1/solutions/999999/graph").status_code == 404


def test_multiplier_separates_spreading_from_single_city(client, network):
    body = client.get("/api/v1/multiplier").json()
    rows = {r["solution"]["id"]: r for r in body["value"]}
    assert rows[network["solution"]]["spread"] == "spreading" and rows[network["solution"]]["multiplier"] == 3
    assert rows[network["lonely"]]["spread"] == "single_city" and rows[network["lonely"]]["cities_reached"] == 0
    assert body["by_spread"]["spreading"] >= 1 and body["by_spread"]["single_city"] >= 1
    assert body["value"][0]["cities_reached"] >= body["value"][-1]["cities_reached"]


def test_advice_ranks_unadopted_cities_with_explanations(client, network):
    r = client.get(f"/api/v1/solutions/{network['solution']}/advice?limit=15&lang=en")
    assert r.status_code == 200
    body = r.json()
    recs = body["recommendations"]
    assert len(recs) == 15 and [x["rank"] for x in recs] == list(range(1, 16))
    codes = [x["municipality"]["code"] for x in recs]
    assert not {EINDHOVEN, TILBURG, HELMOND, ALMERE, BREDA} & set(codes)
    assert all(recs[i]["score"] >= recs[i + 1]["score"] for i in range(14))
    assert all(x["explanation"] and x["most_similar_success"]["municipality"]["code"] in (EINDHOVEN, TILBURG, HELMOND)
               for x in recs)
    assert {e["municipality"]["code"]: e["worked"] for e in body["evidence"]} == {
        TILBURG: True, HELMOND: True, ALMERE: False}
    # Brabant cities resemble the successes: they fill the top of the list.
    assert sum(1 for x in recs[:5] if x["municipality"]["province"] == "Noord-Brabant") >= 3


def test_failures_count_as_evidence(session, network):
    profs = advice.profiles(session)
    from stadslab.labs.service import get_solution

    sol = get_solution(session, network["solution"])
    before = advice._score(profs[LELYSTAD], advice.experiences(session, sol), profs)
    assert before["failure"][3].code == ALMERE  # the same province as Lelystad
    with_failure = before["score"]
    update_adoption(session, network["adoptions"][ALMERE], AdoptionPatch(status="adopted"))
    session.expire_all()
    sol = get_solution(session, network["solution"])
    as_success = advice._score(profs[LELYSTAD], advice.experiences(session, sol), profs)
    assert as_success["failure"] is None
    assert as_success["score"] > with_failure


def test_no_advice_without_a_success(client, session):
    sol = create_solution(session, SolutionIn(name="Nog nergens"))
    create_adoption(session, AdoptionIn(solution_id=sol.id, city=ALMERE, status="abandoned"))
    body = client.get(f"/api/v1/solutions/{sol.id}/advice").json()
    assert body["recommendations"] == [] and "geen advies" in body["message"]["nl"]


def test_opportunities_list_proven_solutions_not_yet_adopted(client, network):
    body = client.get(f"/api/v1/municipalities/{LELYSTAD.lower()}/opportunities?lang=en").json()
    names = [o["solution"]["id"] for o in body["opportunities"]]
    assert network["solution"] in names and network["lonely"] in names
    mine = next(o for o in body["opportunities"] if o["solution"]["id"] == network["solution"])
    assert mine["worked_in"] == 2 and mine["failed_in"] == 1 and mine["explanation"]
    tilburg = client.get(f"/api/v1/municipalities/{TILBURG}/opportunities").json()
    assert network["solution"] not in [o["solution"]["id"] for o in tilburg["opportunities"]]
    assert client.get("/api/v1/municipalities/GM9999/opportunities").status_code == 404


def test_comparison_puts_city_effects_side_by_side(admin_client, session):
    origin = build_experiment(session, effect=-4.0, seed=21, project_id=make_project(session, city=EINDHOVEN))
    adopter = build_experiment(session, effect=0.0, seed=22, project_id=make_project(session, city=TILBURG))
    silent = make_project(session, city=HELMOND)
    sol = create_solution(session, SolutionIn(name="Schone bevoorrading", origin_project_id=origin.project_id))
    create_adoption(session, AdoptionIn(solution_id=sol.id, city=TILBURG, project_id=adopter.project_id,
                                        adopted_on="2024-01-01"))
    create_adoption(session, AdoptionIn(solution_id=sol.id, city=HELMOND, project_id=silent))
    for exp in (origin, adopter):
        assert admin_client.put(f"/api/v1/projects/{exp.project_id}/design", json=exp.design()).status_code == 200
        assert admin_client.post(f"/api/v1/projects/{exp.project_id}/evaluation").status_code == 201
    body = admin_client.get(f"/api/v1/solutions/{sol.id}/comparison").json()
    assert len(body["kpis"]) == 1
    k = body["kpis"][0]
    assert k["kpi"] == "no2_concentration" and k["comparable_cities"] == 2
    cities = {c["municipality"]["code"]: c for c in k["cities"]}
    assert cities[EINDHOVEN]["role"] == "origin" and cities[EINDHOVEN]["verdict"] == "improved"
    assert cities[TILBURG]["verdict"] == "no_detectable_effect"
    assert cities[EINDHOVEN]["low"] < cities[EINDHOVEN]["estimate"] < cities[EINDHOVEN]["high"]
    assert [c["municipality"]["code"] for c in body["without_evaluation"]] == [HELMOND]
    # Evidence from evaluations feeds the advice: the origin counts as an evaluated success.
    ev = {e["municipality"]["code"]: e for e in admin_client.get(f"/api/v1/solutions/{sol.id}/advice").json()["evidence"]}
    assert ev[EINDHOVEN]["source"] == "evaluation_improved" and ev[EINDHOVEN]["weight"] > 1
    report = admin_client.get(f"/api/v1/solutions/{sol.id}/report.html?lang=en")
    assert report.status_code == 200 and "text/html" in report.headers["content-type"]
    html = report.text
    assert "<svg" in html and 'role="img"' in html and "<desc" in html and "<caption>" in html
    assert "Eindhoven" in html and "Tilburg" in html and "Without evaluation" in html
