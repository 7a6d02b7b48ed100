"""English versions of content: optional fields through the API, shown on English pages, and an
honest fallback to Dutch that the page announces."""

from __future__ import annotations

from tests.factories import project_payload, solution_payload
from tests.web.conftest import HTML


def test_english_fields_round_trip_and_show_on_english_pages(admin_client):
    body = project_payload(title="Slimme fietsenstalling Jaarbeursplein", title_en="Smart bicycle parking Jaarbeursplein",
                           summary="Sensoren tellen fietsen.", summary_en="Sensors count bicycles.",
                           lessons=["Betrek fietsers vroeg.", "Meet vanaf dag één."], lessons_en=["Involve cyclists early."],
                           kpis=[{"name": "Bezetting", "name_en": "Occupancy", "unit": "%", "direction": "higher"}])
    r = admin_client.post("/api/v1/projects", json=body)
    assert r.status_code == 201, r.text
    p = r.json()
    assert (p["title_en"], p["summary_en"]) == ("Smart bicycle parking Jaarbeursplein", "Sensors count bicycles.")
    assert p["lessons"] == ["Betrek fietsers vroeg.", "Meet vanaf dag één."]
    assert p["lessons_en"] == ["Involve cyclists early.", None]
    assert p["kpis"][0]["name_en"] == "Occupancy" and p["kpis"][0]["unit_en"] is None
    # A patch of the Dutch lessons keeps the English ones by position.
    r = admin_client.patch(f"/api/v1/projects/{p['id']}", json={"lessons": ["Betrek fietsers heel vroeg.", "Meet."]})
    assert r.status_code == 200 and r.json()["lessons_en"] == ["Involve cyclists early.", None]

    en = admin_client.get(f"/projecten/{p['id']}?lang=en", headers=HTML).text
    assert "<h1 class=\"utrecht-heading-1\">Smart bicycle parking Jaarbeursplein</h1>" in en
    assert "Sensors count bicycles." in en and "Involve cyclists early." in en and "Occupancy" in en
    assert 'id="dutch-only"' in en and "available in Dutch only" in en  # the second lesson has no English
    assert '<li class="utrecht-unordered-list__item" id="les-' in en and 'lang="nl">Meet.</li>' in en
    nl = admin_client.get(f"/projecten/{p['id']}?lang=nl", headers=HTML).text
    assert "Slimme fietsenstalling Jaarbeursplein</h1>" in nl and "Sensoren tellen fietsen." in nl
    assert 'id="dutch-only"' not in nl

    admin_client.patch(f"/api/v1/projects/{p['id']}", json={"lessons_en": ["Involve cyclists early.", "Measure."]})
    en = admin_client.get(f"/projecten/{p['id']}?lang=en", headers=HTML).text
    assert 'id="dutch-only"' not in en and "Measure." in en


def test_a_solution_without_english_falls_back_and_says_so(admin_client):
    plain = admin_client.post("/api/v1/solutions", json=solution_payload(name="Deelhub", description="Een hub.")).json()
    en = admin_client.get(f"/oplossingen/{plain['id']}?lang=en", headers=HTML).text
    assert "Deelhub</h1>" in en and 'id="dutch-only"' in en and 'lang="nl">Een hub.</p>' in en
    both = admin_client.post("/api/v1/solutions", json=solution_payload(
        name="Buurthub", name_en="Neighbourhood hub", description="Een hub.", description_en="A hub.")).json()
    assert both["name_en"] == "Neighbourhood hub"
    en = admin_client.get(f"/oplossingen/{both['id']}?lang=en", headers=HTML).text
    assert "Neighbourhood hub</h1>" in en and "A hub." in en and 'id="dutch-only"' not in en
