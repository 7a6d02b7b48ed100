"""Experiment designs over the API: storage, authorization, and clear 422s for bad designs."""

import pytest

from stadslab.evidence import sensors
from stadslab.labs.models import Project
from tests.evidence.helpers import NO2_UNIT, build_experiment, make_project


@pytest.fixture
def exp(session):
    return build_experiment(session, days_pre=14, days_post=14)


def _put(client, exp, **over):
    return client.put(f"/api/v1/projects/{exp.project_id}/design", json=exp.design(**over))


def _fields(r) -> dict:
    return {e["field"]: e["msg"] for e in r.json().get("errors", [])}


def test_put_and_get_design_resolves_sites_per_kpi(admin_client, exp):
    r = _put(admin_client, exp)
    assert r.status_code == 200, r.text
    kpi = r.json()["resolved"]["kpis"][0]
    assert kpi["kpi"] == "no2_concentration" and kpi["observed_property"]["id"] == exp.op_id
    assert sorted(s["datastream_id"] for s in kpi["intervention"]) == sorted(exp.treated)
    assert sorted(s["datastream_id"] for s in kpi["control"]) == sorted(exp.control)
    got = admin_client.get(f"/api/v1/projects/{exp.project_id}/design").json()
    assert got["design"]["baseline"]["start"] == "2024-01-01" and got["problems"] == []
    assert got["resolved"]["baseline"][1].startswith("2024-03-25")  # end date inclusive -> next midnight


def test_sites_by_thing_and_by_area(admin_client, exp):
    treated_things, control_things = exp.things[:2], exp.things[2:]
    r = _put(admin_client, exp, intervention_sites=[{"thing_ids": treated_things}],
             control_sites=[{"area": {"type": "Polygon", "coordinates": [[[5.0, 52.05], [5.3, 52.05], [5.3, 52.2],
                                                                           [5.0, 52.2], [5.0, 52.05]]]}}])
    assert r.status_code == 200, r.text
    kpi = r.json()["resolved"]["kpis"][0]
    assert sorted(s["datastream_id"] for s in kpi["control"]) == sorted(exp.control)
    assert sorted(s["datastream_id"] for s in kpi["intervention"]) == sorted(exp.treated)


def test_design_needs_authorization(client, session, exp, editor):
    assert _put(client, exp).status_code == 401
    org_id, headers = editor
    r = client.put(f"/api/v1/projects/{exp.project_id}/design", json=exp.design(), headers=headers)
    assert r.status_code == 403  # project owned by no organisation: admin only
    session.get(Project, exp.project_id).owner_organisation_id = org_id
    session.commit()
    r = client.put(f"/api/v1/projects/{exp.project_id}/design", json=exp.design(), headers=headers)
    assert r.status_code == 200, r.text


def test_get_design_of_project_without_one_is_404(client, session):
    pid = make_project(session)
    r = client.get(f"/api/v1/projects/{pid}/design")
    assert r.status_code == 404 and "PUT" in r.json()["detail"]
    assert client.get("/api/v1/projects/999999/design").status_code == 404


@pytest.mark.parametrize("over, field, words", [
    ({"baseline": {"start": "2024-01-01", "end": "2024-03-30"}}, "body.intervention.start", "overlap"),
    ({"baseline": {"start": "2024-03-01", "end": "2024-01-01"}}, "body.baseline.end", "reversed"),
    ({"baseline": {"start": "2024-07-01", "end": "2024-08-01"}}, "body.baseline", "before the intervention"),
    ({"baseline": {"start": "2024-13-01", "end": "2024-03-24"}}, "body.baseline", "not a valid date-time"),
    ({"confidence_level": 0.93}, "body.confidence_level", "must be one of"),
    ({"kpis": [{"kpi": "no_such_kpi"}]}, "body.kpis.0.kpi", "unknown KPI"),
    ({"kpis": [{"kpi": "pm25_concentration"}]}, "body.kpis.0.observed_property_id", "no linked ObservedProperty"),
    ({"kpis": [{"kpi": "open_datasets"}]}, "body.kpis.0.observed_property_id", "no linked ObservedProperty"),
    ({"kpis": [{"kpi": "noise_level", "observed_property_id": None}]}, "body.kpis.0.observed_property_id",
     "no linked ObservedProperty"),
    ({"kpis": [{"kpi": "no2_concentration", "observed_property_id": 987654}]}, "body.kpis.0.observed_property_id",
     "unknown ObservedProperty"),
    ({"kpis": [{"kpi": "noise_level", "observed_property_id": "OP"}]}, "body.kpis.0.kpi", "not compatible"),
    ({"kpis": [{"project_kpi_id": 424242, "observed_property_id": "OP"}]}, "body.kpis.0.project_kpi_id",
     "has no KPI"),
    ({"intervention_sites": [{"datastream_ids": [123456, 123457]}]}, "body.intervention_sites.0.datastream_ids",
     "unknown Datastream id(s): 123456, 123457"),
    ({"intervention_sites": [{"thing_ids": [99999]}]}, "body.intervention_sites.0.thing_ids", "unknown Thing"),
    ({"intervention_sites": [{"area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]},
     "body.intervention_sites.0.area", "no Thing"),
    ({"control_sites": [{"datastream_ids": "TREATED"}]}, "body.control_sites", "both intervention and control"),
])
def test_bad_designs_get_clear_422s(admin_client, exp, over, field, words):
    for kpi in over.get("kpis", []):
        if kpi.get("observed_property_id") == "OP":
            kpi["observed_property_id"] = exp.op_id
    for site in over.get("control_sites", []):
        if site.get("datastream_ids") == "TREATED":
            site["datastream_ids"] = exp.treated
    r = _put(admin_client, exp, **over)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["status"] == 422 and "trace" not in r.text.lower()
    errors = _fields(r)
    assert field in errors, errors
    assert words in errors[field], errors


def test_site_needs_exactly_one_kind(admin_client, exp):
    r = _put(admin_client, exp, intervention_sites=[{"datastream_ids": exp.treated, "thing_ids": [1]}])
    assert r.status_code == 422 and "exactly one" in r.text
    r = _put(admin_client, exp, kpis=[{}])
    assert r.status_code == 422 and "library kpi code" in r.text


def test_mixed_units_across_sites_are_refused(admin_client, session):
    ppb = {"name": "parts per billion", "symbol": "ppb", "definition": ""}
    exp = build_experiment(session, days_pre=14, days_post=14, control_unit=ppb)
    r = _put(admin_client, exp)
    assert r.status_code == 422
    msg = _fields(r)["body.kpis.0"]
    assert "mixed units" in msg and "ppb" in msg and "µg/m³" in msg


def test_project_kpi_unit_must_match_when_no_library_kpi(admin_client, session):
    pid = make_project(session, kpis=[{"name": "NO2 op het schoolplein", "unit": "ppb", "direction": "lower"}])
    exp = build_experiment(session, days_pre=14, days_post=14, project_id=pid)
    kpi_id = session.get(Project, pid).kpis[0].id
    r = _put(admin_client, exp, kpis=[{"project_kpi_id": kpi_id, "observed_property_id": exp.op_id}])
    assert r.status_code == 422 and "differs from the project KPI's unit 'ppb'" in r.text
    session.get(Project, pid).kpis[0].unit = "µg/m³"
    session.commit()
    r = _put(admin_client, exp, kpis=[{"project_kpi_id": kpi_id, "observed_property_id": exp.op_id}])
    assert r.status_code == 200, r.text
    assert r.json()["resolved"]["kpis"][0]["direction"] == "lower"


def test_ambiguous_observed_property_must_be_chosen(admin_client, session, exp):
    other = sensors.observed_property(session, "Nitrogen dioxide", "urn:other:no2")
    thing, foi, ids = sensors.sensor_site(session, "extra", 5.1, 52.0, [(other, NO2_UNIT, "NO2 b")])
    session.commit()
    r = _put(admin_client, exp, intervention_sites=[{"datastream_ids": exp.treated},
                                                    {"datastream_ids": [ids[other]]}])
    assert r.status_code == 422 and "matches several ObservedProperties" in r.text


def test_only_open_data_can_feed_public_evaluations(admin_client, session, exp):
    from stadslab.sensorthings.model.tables import Thing

    thing = session.get(Thing, exp.things[0])
    thing.access_class = "restricted"
    session.commit()
    r = _put(admin_client, exp)
    assert r.status_code == 422
    msg = _fields(r)["body.intervention_sites.0.datastream_ids"]
    assert "only open data" in msg and f"Datastream {exp.treated[0]} is 'restricted'" in msg
    # Found through an area, a closed Thing is simply not used.
    area = {"type": "Polygon", "coordinates": [[[5.0, 51.95], [5.3, 51.95], [5.3, 52.05], [5.0, 52.05], [5.0, 51.95]]]}
    r = _put(admin_client, exp, intervention_sites=[{"area": area}])
    assert r.status_code == 200, r.text
    assert [s["datastream_id"] for s in r.json()["resolved"]["kpis"][0]["intervention"]] == [exp.treated[1]]
