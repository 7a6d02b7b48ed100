"""The demo content loads through the services on both databases, marked as demo, and is searchable."""

from stadslab.labs.demo_loader import demo_data, load_demo


def test_demo_loads_marked_and_idempotent(db, admin_client):
    data = demo_data()
    with db.session() as s:
        counts = load_demo(s)
        assert counts["projects"] == len(data["projects"])
        assert load_demo(s) == {}  # second run is a no-op
    projects = admin_client.get("/api/v1/projects", params={"limit": 500}).json()
    assert projects["total"] == len(data["projects"])
    assert all(p["is_demo"] for p in projects["items"])
    g5 = {"GM0363", "GM0599", "GM0518", "GM0344", "GM0772"}
    assert g5 <= {p["city"]["code"] for p in projects["items"]}
    multi = [s for s in admin_client.get("/api/v1/solutions", params={"sort": "-adoptions"}).json()["items"]
             if s["adoption_count"] >= 2]
    assert len(multi) >= 3


def test_demo_search_is_bilingual(db, admin_client):
    with db.session() as s:
        load_demo(s)
    fiets = admin_client.get("/api/v1/search", params={"q": "fietsers"}).json()
    assert fiets["total"] > 0
    cycl = admin_client.get("/api/v1/search", params={"q": "cyclists"}).json()
    assert cycl["total"] > 0
    titles = " ".join(i["title"].lower() + i["snippet"].lower() for i in cycl["items"])
    assert "cycl" in titles or "fiets" in titles
