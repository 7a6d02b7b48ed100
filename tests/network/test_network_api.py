from tests.factories import AMSTERDAM, UTRECHT, create, organisation_payload


def test_municipalities_cover_2025_with_g4_and_g40(admin_client):
    r = admin_client.get("/api/v1/municipalities", params={"limit": 500})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 342
    g4 = admin_client.get("/api/v1/municipalities", params={"network": "G4", "limit": 50}).json()
    assert sorted(m["name"] for m in g4["items"]) == ["Amsterdam", "Den Haag", "Rotterdam", "Utrecht"]
    g40 = admin_client.get("/api/v1/municipalities", params={"network": "G40", "limit": 100}).json()
    assert g40["total"] == 41
    assert "Amstelveen" in {m["name"] for m in g40["items"]}


def test_municipality_filter_by_province_and_detail(admin_client):
    r = admin_client.get("/api/v1/municipalities", params={"province": "Utrecht", "limit": 100}).json()
    assert r["total"] > 20
    assert all(m["province"] == "Utrecht" for m in r["items"])
    d = admin_client.get(f"/api/v1/municipalities/{UTRECHT}").json()
    assert d["name"] == "Utrecht"
    assert d["outline"]["type"] in ("Polygon", "MultiPolygon")
    themes = {s["theme"] for s in d["specialisations"]}
    assert "healthy-urban-living" in themes
    amersfoort = admin_client.get("/api/v1/municipalities/GM0307").json()
    assert "healthy-urban-living" in {s["theme"] for s in amersfoort["specialisations"]}


def test_unknown_municipality_is_404(admin_client):
    assert admin_client.get("/api/v1/municipalities/GM9999").status_code == 404


def test_themes_are_bilingual(admin_client):
    themes = admin_client.get("/api/v1/themes").json()
    codes = {t["code"] for t in themes}
    assert {"mobility", "healthy-urban-living", "safety-cyber-security", "data-ai"} <= codes
    assert len(themes) == 11
    assert all(t["name_nl"] and t["name_en"] for t in themes)


def test_organisation_crud_and_conflict(admin_client):
    org = create(admin_client, "organisations", organisation_payload(name="Gemeente Testdam", kind="municipality"))
    assert org["city"] == AMSTERDAM
    dup = admin_client.post("/api/v1/organisations", json=organisation_payload(name="Gemeente Testdam"))
    assert dup.status_code == 409
    r = admin_client.patch(f"/api/v1/organisations/{org['id']}", json={"website": "https://testdam.example.org"})
    assert r.status_code == 200 and r.json()["website"] == "https://testdam.example.org"
    assert admin_client.delete(f"/api/v1/organisations/{org['id']}").status_code == 204
    assert admin_client.get(f"/api/v1/organisations/{org['id']}").status_code == 404


def test_coalition_with_members_and_filters(admin_client):
    org = create(admin_client, "organisations", organisation_payload())
    c = create(admin_client, "coalitions", {"title": "Hitte in de stad", "question": "Hoe houden we wijken koel?",
                                      "lead_city": "GM0599", "cities": [AMSTERDAM], "organisations": [org["id"]],
                                      "themes": ["resilience-climate-adaptation"]})
    assert {x["code"] for x in c["cities"]} == {"GM0599", AMSTERDAM}  # lead city is always a member
    assert admin_client.get("/api/v1/coalitions", params={"city": "Amsterdam"}).json()["total"] == 1
    assert admin_client.get("/api/v1/coalitions", params={"city": UTRECHT}).json()["total"] == 0
    assert admin_client.get("/api/v1/coalitions", params={"theme": "mobility"}).json()["total"] == 0


def test_coalition_unknown_references_are_422_naming_field(admin_client):
    r = admin_client.post("/api/v1/coalitions", json={"title": "X y z", "lead_city": "GM0001", "themes": ["nope"]})
    assert r.status_code == 422
    assert "lead_city" in r.json()["detail"]
    r = admin_client.post("/api/v1/coalitions", json={"title": "X y z", "lead_city": AMSTERDAM, "themes": ["nope"]})
    assert r.status_code == 422
    assert "nope" in r.json()["detail"]
    assert admin_client.get("/api/v1/coalitions").json()["total"] == 0
