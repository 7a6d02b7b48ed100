"""Moderated contributions: another organisation's attachment waits for the owner's editors,
and nothing of it is public until they accept (API, pages, search, exports)."""

from __future__ import annotations

import pytest

from tests.factories import UTRECHT, lab_payload, project_payload, solution_payload
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user


@pytest.fixture
def parties(db):
    """Utrecht (owner of a lab and a solution) and a company; editors and a member; an outsider."""
    with db.session() as s:
        utrecht = make_organisation(s, "Gemeente Utrecht", municipality_code=UTRECHT)
        company = make_organisation(s, "Sensorbedrijf BV", kind="company")
        outsider = make_organisation(s, "Derde partij BV", kind="company")
        h = {"utrecht": auth_headers(make_token(s, make_user(s, "editor", utrecht))),
             "utrecht-member": auth_headers(make_token(s, make_user(s, "member", utrecht))),
             "company": auth_headers(make_token(s, make_user(s, "editor", company))),
             "outsider": auth_headers(make_token(s, make_user(s, "editor", outsider))),
             "admin": auth_headers(make_token(s, make_user(s, "admin")))}
        return {"utrecht": utrecht.id, "company": company.id, "h": h}


def _post(client, path, body, headers, status=201):
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


def test_project_linked_to_another_organisations_lab_waits_for_its_editors(client, parties):
    h = parties["h"]
    lab = _post(client, "/api/v1/living-labs", lab_payload(name="Leidsche Rijn", city=UTRECHT), h["utrecht"])
    project = _post(client, "/api/v1/projects", project_payload(title="Slimme lantaarnpalen Leidsche Rijn",
                                                                living_lab_id=lab["id"]), h["company"])
    assert project["living_lab"] is None  # not linked yet
    # hidden from the public on every door
    assert client.get(f"/api/v1/projects?living_lab={lab['id']}").json()["total"] == 0
    assert client.get(f"/api/v1/projects/{project['id']}").json()["living_lab"] is None
    assert "Slimme lantaarnpalen" not in client.get(f"/labs/{lab['id']}").text
    export = client.get(f"/api/v1/projects.csv?living_lab={lab['id']}")
    assert export.status_code == 200 and "Slimme lantaarnpalen" not in export.text
    geojson = client.get("/api/v1/projects.geojson").json()
    assert all(f["properties"].get("living_lab_id") != lab["id"] for f in geojson["features"])
    assert client.get("/api/v1/contributions").status_code == 401
    # both parties see it; the outsider does not
    incoming = client.get("/api/v1/contributions?direction=incoming&status=pending", headers=h["utrecht"]).json()
    assert [c["kind"] for c in incoming["items"]] == ["project_to_lab"]
    cid = incoming["items"][0]["id"]
    outgoing = client.get("/api/v1/contributions?direction=outgoing", headers=h["company"]).json()
    assert [c["id"] for c in outgoing["items"]] == [cid]
    assert client.get("/api/v1/contributions", headers=h["outsider"]).json()["total"] == 0
    assert client.get(f"/api/v1/contributions/{cid}", headers=h["outsider"]).status_code == 404
    # the company cannot accept its own contribution, nor can Utrecht's member; the outsider sees nothing
    assert client.post(f"/api/v1/contributions/{cid}/accept", headers=h["company"]).status_code == 403
    assert client.post(f"/api/v1/contributions/{cid}/accept", headers=h["utrecht-member"]).status_code == 403
    assert client.post(f"/api/v1/contributions/{cid}/accept", headers=h["outsider"]).status_code == 404
    # saving the project again does not file a second proposal
    r = client.patch(f"/api/v1/projects/{project['id']}", json={"living_lab_id": lab["id"]}, headers=h["company"])
    assert r.status_code == 200 and r.json()["living_lab"] is None
    assert client.get("/api/v1/contributions?status=pending", headers=h["utrecht"]).json()["total"] == 1
    accepted = _post(client, f"/api/v1/contributions/{cid}/accept", {"note": "Welkom"}, h["utrecht"], 200)
    assert accepted["status"] == "accepted" and accepted["decision_note"] == "Welkom"
    assert client.get(f"/api/v1/projects/{project['id']}").json()["living_lab"]["id"] == lab["id"]
    assert "Slimme lantaarnpalen" in client.get(f"/labs/{lab['id']}").text
    assert "Slimme lantaarnpalen" in client.get(f"/api/v1/projects.csv?living_lab={lab['id']}").text
    assert client.post(f"/api/v1/contributions/{cid}/decline", headers=h["utrecht"]).status_code == 409


def test_own_lab_links_at_once(client, parties):
    h = parties["h"]
    lab = _post(client, "/api/v1/living-labs", lab_payload(city=UTRECHT), h["utrecht"])
    project = _post(client, "/api/v1/projects", project_payload(living_lab_id=lab["id"]), h["utrecht"])
    assert project["living_lab"]["id"] == lab["id"]
    assert client.get("/api/v1/contributions", headers=h["utrecht"]).json()["total"] == 0


def test_adoption_of_another_organisations_solution_is_pending_then_declined(client, parties):
    h = parties["h"]
    solution = _post(client, "/api/v1/solutions", solution_payload(), h["utrecht"])
    body = {"solution_id": solution["id"], "city": UTRECHT, "status": "piloting", "outcome": "Loopt"}
    r = client.post("/api/v1/adoptions", json=body, headers=h["company"])
    assert r.status_code == 202, r.text
    cid = r.json()["id"]
    assert r.headers["location"] == f"/api/v1/contributions/{cid}" and r.json()["status"] == "pending"
    assert client.get(f"/api/v1/adoptions?solution={solution['id']}").json()["total"] == 0
    assert client.get(f"/api/v1/solutions/{solution['id']}").json()["adoption_count"] == 0
    export = client.get(f"/api/v1/adoptions.csv?solution={solution['id']}")
    assert export.status_code == 200 and "Loopt" not in export.text
    assert "Loopt" not in client.get(f"/oplossingen/{solution['id']}").text
    declined = _post(client, f"/api/v1/contributions/{cid}/decline", {}, h["utrecht"], 200)
    assert declined["status"] == "declined"
    assert client.get(f"/api/v1/adoptions?solution={solution['id']}").json()["total"] == 0
    # a second try, accepted: the adoption exists now, owned by the company
    cid2 = _post(client, "/api/v1/adoptions", body, h["company"], 202)["id"]
    _post(client, f"/api/v1/contributions/{cid2}/accept", {}, h["utrecht"], 200)
    adoptions = client.get(f"/api/v1/adoptions?solution={solution['id']}").json()["items"]
    assert [(a["status"], a["owner_organisation_id"]) for a in adoptions] == [("piloting", parties["company"])]


def test_lesson_for_another_organisations_project(client, parties):
    h = parties["h"]
    project = _post(client, "/api/v1/projects", project_payload(lessons=[]), h["utrecht"])
    pending = _post(client, f"/api/v1/projects/{project['id']}/lessons", {"text": "Meet eerst een nulmeting."},
                    h["company"], 202)
    assert client.get(f"/api/v1/projects/{project['id']}").json()["lessons"] == []
    own = _post(client, f"/api/v1/projects/{project['id']}/lessons", {"text": "Plan de winter in."}, h["utrecht"])
    assert own["lessons"] == ["Plan de winter in."]
    _post(client, f"/api/v1/contributions/{pending['id']}/accept", {}, h["utrecht"], 200)
    assert client.get(f"/api/v1/projects/{project['id']}").json()["lessons"] == ["Plan de winter in.",
                                                                               "Meet eerst een nulmeting."]


def test_apply_to_test_lands_in_the_owners_inbox(client, parties):
    h = parties["h"]
    lab = _post(client, "/api/v1/living-labs", lab_payload(city=UTRECHT), h["utrecht"])
    body = {"contact_name": "Sam Sensor", "contact_email": "sam@sensor.example", "what": "Luchtkwaliteitssensoren",
            "start_date": "2027-03-01", "end_date": "2027-06-30"}
    assert client.post(f"/api/v1/living-labs/{lab['id']}/applications", json=body).status_code == 401
    bad = client.post(f"/api/v1/living-labs/{lab['id']}/applications", json={**body, "end_date": "2027-01-01"},
                      headers=h["company"])
    assert bad.status_code == 422
    app = _post(client, f"/api/v1/living-labs/{lab['id']}/applications", body, h["company"])
    assert app["kind"] == "test_application" and app["status"] == "pending"
    assert app["contributor_organisation"]["id"] == parties["company"]
    inbox = client.get("/api/v1/contributions?direction=incoming", headers=h["utrecht"]).json()["items"]
    assert [c["id"] for c in inbox] == [app["id"]]
    _post(client, f"/api/v1/contributions/{app['id']}/accept", {}, h["utrecht"], 200)
    followed = client.get(f"/api/v1/contributions/{app['id']}", headers=h["company"]).json()
    assert followed["status"] == "accepted"


@pytest.mark.parametrize("query,field", [
    ("infrastructure=warp-drive", "infrastructure"), ("theme=nope", "theme"), ("province=Atlantis", "province"),
    ("city=Gotham", "city"), ("open_to_external=misschien", "open_to_external"), ("status=dreaming", "status"),
])
def test_lab_directory_refuses_unknown_filter_values(client, parties, query, field):
    r = client.get(f"/api/v1/living-labs?{query}")
    assert r.status_code == 400, r.text
    problem = r.json()
    assert field in problem["detail"] and "allowed" in problem["detail"]
    if field == "infrastructure":
        assert "lorawan" in problem["detail"] and "smart-lighting" in problem["detail"]


def test_lab_directory_filters(client, parties):
    h = parties["h"]
    _post(client, "/api/v1/living-labs", lab_payload(name="Utrechts lab", city=UTRECHT, infrastructure=["5g"],
                                                      open_to_external=False), h["admin"])
    _post(client, "/api/v1/living-labs", lab_payload(name="Eindhovens lab", infrastructure=["lorawan"]), h["admin"])

    def names(q):
        r = client.get(f"/api/v1/living-labs?{q}")
        assert r.status_code == 200, r.text
        return sorted(x["name"] for x in r.json()["items"])

    assert names("infrastructure=5g") == ["Utrechts lab"]
    assert names("province=Noord-Brabant") == ["Eindhovens lab"]
    assert names("province=utrecht") == ["Utrechts lab"]
    assert names("open_to_external=true") == ["Eindhovens lab"]
    assert names("city=Utrecht&open_to_external=false") == ["Utrechts lab"]
    assert names("theme=mobility") == ["Eindhovens lab", "Utrechts lab"]
