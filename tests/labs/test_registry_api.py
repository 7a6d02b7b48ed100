from tests.factories import AMSTERDAM, ROTTERDAM, UTRECHT, create, lab_payload, organisation_payload, \
    project_payload, solution_payload


def test_project_full_roundtrip(admin_client):
    lab = create(admin_client, "living-labs", lab_payload())
    org = create(admin_client, "organisations", organisation_payload())
    p = create(admin_client, "projects", project_payload(living_lab_id=lab["id"],
                                                   partners=[{"organisation_id": org["id"], "role": "lead"}],
                                                   funding_sources=[{"name": "EFRO", "amount_eur": 100000}]))
    got = admin_client.get(f"/api/v1/projects/{p['id']}").json()
    assert got["living_lab"]["id"] == lab["id"]
    assert got["partners"][0]["organisation"]["name"] == org["name"]
    assert got["kpis"][0]["target"] == 85
    assert got["lessons"] == ["Betrek fietsers vroeg bij het ontwerp."]
    assert got["city"]["name"] == "Utrecht"


def test_project_lifecycle_transitions(admin_client):
    p = create(admin_client, "projects", project_payload(status="idea"))
    assert admin_client.patch(f"/api/v1/projects/{p['id']}", json={"status": "pilot"}).status_code == 200
    r = admin_client.patch(f"/api/v1/projects/{p['id']}", json={"status": "idea"})
    assert r.status_code == 409
    assert "cannot move" in r.json()["detail"]
    assert admin_client.patch(f"/api/v1/projects/{p['id']}", json={"status": "evaluated"}).status_code == 200
    assert admin_client.patch(f"/api/v1/projects/{p['id']}", json={"status": "scaled"}).status_code == 200
    assert admin_client.get(f"/api/v1/projects/{p['id']}").json()["status"] == "scaled"


def test_list_filters_sort_and_stable_paging(admin_client):
    for i in range(7):
        create(admin_client, "projects", project_payload(title=f"Proj {i:02d}", city=AMSTERDAM if i % 2 else ROTTERDAM,
                                                   themes=["mobility"] if i < 3 else ["energy-transition"],
                                                   status="pilot"))
    r = admin_client.get("/api/v1/projects", params={"city": "GM0363"}).json()
    assert r["total"] == 3
    r = admin_client.get("/api/v1/projects", params={"theme": "energy-transition", "city": "rotterdam"}).json()
    assert {p["title"] for p in r["items"]} == {"Proj 04", "Proj 06"}
    seen = []
    url = "/api/v1/projects?limit=3&sort=-title"
    while url:
        page = admin_client.get(url).json()
        assert page["total"] == 7
        seen += [p["title"] for p in page["items"]]
        url = page["next"]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 7
    assert admin_client.get("/api/v1/projects", params={"q": "proj 0"}).json()["total"] == 7
    assert admin_client.get("/api/v1/projects", params={"q": "100%"}).json()["total"] == 0


def test_list_bad_filters_are_clear(admin_client):
    r = admin_client.get("/api/v1/projects", params={"sort": "password"})
    assert r.status_code == 400 and "sort" in r.json()["detail"]
    r = admin_client.get("/api/v1/projects", params={"city": "Atlantis"})
    assert r.status_code == 422 and "Atlantis" in r.json()["detail"]
    r = admin_client.get("/api/v1/projects", params={"status": "finished"})
    assert r.status_code == 422 and "finished" in r.json()["detail"]
    r = admin_client.get("/api/v1/projects", params={"limit": 100000})
    assert r.status_code == 400


def test_solution_adoptions_form_replication_graph(admin_client):
    origin = create(admin_client, "projects", project_payload(city=UTRECHT))
    sol = create(admin_client, "solutions", solution_payload(origin_project_id=origin["id"]))
    for city in (AMSTERDAM, ROTTERDAM):
        create(admin_client, "adoptions", {"solution_id": sol["id"], "city": city, "project_id": origin["id"],
                                     "adopted_on": "2025-03-01", "status": "adopted", "outcome": "Werkt goed"})
    dup = admin_client.post("/api/v1/adoptions", json={"solution_id": sol["id"], "city": AMSTERDAM})
    assert dup.status_code == 409
    got = admin_client.get(f"/api/v1/solutions/{sol['id']}").json()
    assert got["adoption_count"] == 2
    assert got["origin_project"]["id"] == origin["id"]
    assert admin_client.get("/api/v1/adoptions", params={"solution": sol["id"]}).json()["total"] == 2
    assert admin_client.get("/api/v1/solutions", params={"city": AMSTERDAM}).json()["total"] == 1
    # a solution with adoptions cannot silently disappear
    assert admin_client.delete(f"/api/v1/solutions/{sol['id']}").status_code == 409


def test_living_lab_filters(admin_client):
    create(admin_client, "living-labs", lab_payload(infrastructure=["5g"], open_to_external=False))
    create(admin_client, "living-labs", lab_payload(infrastructure=["lorawan", "fibre"]))
    assert admin_client.get("/api/v1/living-labs", params={"infrastructure": "lorawan"}).json()["total"] == 1
    assert admin_client.get("/api/v1/living-labs", params={"open_to_external": "false"}).json()["total"] == 1
    assert admin_client.get("/api/v1/living-labs", params={"city": "Eindhoven"}).json()["total"] == 2


def test_unknown_ids_are_404(admin_client):
    for path in ("projects", "living-labs", "solutions", "adoptions", "coalitions", "organisations"):
        r = admin_client.get(f"/api/v1/{path}/987654")
        assert r.status_code == 404, path
        assert "987654" in r.json()["detail"]
        assert admin_client.patch(f"/api/v1/{path}/987654", json={}).status_code == 404
        assert admin_client.delete(f"/api/v1/{path}/987654").status_code == 404


def test_adoption_makes_solution_findable_by_city(admin_client):
    sol = create(admin_client, "solutions", solution_payload(name="Slimme afvalbak"))

    def found():  # the adopting cities are part of a solution's searchable text
        r = admin_client.get("/api/v1/search", params={"q": "afvalbak rotterdam"}).json()
        return [i["id"] for i in r["items"] if i["type"] == "solution"]

    assert found() == []
    a = create(admin_client, "adoptions", {"solution_id": sol["id"], "city": ROTTERDAM})
    assert found() == [sol["id"]]
    assert admin_client.delete(f"/api/v1/adoptions/{a['id']}").status_code == 204
    assert found() == []
