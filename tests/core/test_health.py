def test_health_reports_version_and_dialect(client, db):
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == db.dialect
    assert body["version"]


def test_unknown_path_is_problem_404(client):
    r = client.get("/api/v1/does-not-exist")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "/api/v1/does-not-exist" in r.json()["detail"]


def test_body_over_limit_is_413(client, settings):
    r = client.post("/api/v1/organisations", content=b"x" * (settings.max_body_bytes + 1),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]
