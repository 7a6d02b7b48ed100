"""Bad input gets a clear 4xx that names the problem, and nothing is written."""

import pytest

from tests.factories import lab_payload, project_payload


def _count(admin_client, path):
    return admin_client.get(f"/api/v1/{path}").json()["total"]


def test_malformed_json(admin_client):
    r = admin_client.post("/api/v1/projects", content=b'{"title": "x", ', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "JSON" in r.json()["detail"]
    assert _count(admin_client, "projects") == 0


@pytest.mark.parametrize("override,field", [
    ({"budget_eur": "veel"}, "budget_eur"),
    ({"title": 12}, "title"),
    ({"start_date": "31-12-2024"}, "start_date"),
    ({"unexpected": True}, "unexpected"),
    ({"status": "finished"}, "status"),
    ({"city": "Amsterdam"}, "city"),
    ({"kpis": [{"name": "x"}]}, "kpis.0.unit"),
])
def test_wrong_types_and_unknown_fields_name_the_field(admin_client, override, field):
    r = admin_client.post("/api/v1/projects", json=project_payload(**override))
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert any(f.endswith(field) for f in fields), fields
    assert _count(admin_client, "projects") == 0


def test_unknown_city_and_theme_are_422_and_nothing_written(admin_client):
    r = admin_client.post("/api/v1/projects", json=project_payload(city="GM9999"))
    assert r.status_code == 422 and "GM9999" in r.json()["detail"]
    r = admin_client.post("/api/v1/projects", json=project_payload(themes=["mobility", "teleportation"]))
    assert r.status_code == 422 and "teleportation" in r.json()["detail"]
    r = admin_client.post("/api/v1/projects", json=project_payload(living_lab_id=4242))
    assert r.status_code == 422 and "living_lab_id" in r.json()["detail"]
    assert _count(admin_client, "projects") == 0


def test_invalid_geometry_is_rejected(admin_client):
    bad = [{"type": "Point", "coordinates": [500, 91]}, {"type": "Circle", "coordinates": [5, 52]},
           {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}]
    for geom in bad:
        r = admin_client.post("/api/v1/living-labs", json=lab_payload(geometry=geom))
        assert r.status_code == 422, geom
        assert r.json()["errors"][0]["field"].endswith("geometry")
    assert _count(admin_client, "living-labs") == 0


def test_end_before_start(admin_client):
    r = admin_client.post("/api/v1/projects", json=project_payload(start_date="2025-01-01", end_date="2024-01-01"))
    assert r.status_code == 422 and "end_date" in r.json()["detail"]


def test_failed_update_leaves_row_unchanged(admin_client):
    p = admin_client.post("/api/v1/projects", json=project_payload()).json()
    r = admin_client.patch(f"/api/v1/projects/{p['id']}", json={"title": "Nieuwe titel", "themes": ["bogus"]})
    assert r.status_code == 422
    assert admin_client.get(f"/api/v1/projects/{p['id']}").json()["title"] == p["title"]


def test_oversized_body_is_413(admin_client, settings):
    big = project_payload(summary="x" * (settings.max_body_bytes + 10))
    r = admin_client.post("/api/v1/projects", json=big)
    assert r.status_code == 413
