"""Evaluations end to end: SQL aggregation on both dialects, stored results, honest messages."""

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import insert, select

from stadslab.evidence import aggregation, service
from stadslab.evidence.engine import bucket_index
from stadslab.evidence.models import Evaluation
from stadslab.governance.models import AuditEvent
from stadslab.sensorthings.model.tables import Observation
from tests.evidence.helpers import T0, build_experiment, make_project


def _evaluate(client, exp, **over):
    r = client.put(f"/api/v1/projects/{exp.project_id}/design", json=exp.design(**over))
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/projects/{exp.project_id}/evaluation")
    assert r.status_code == 201, r.text
    return r.json()


def test_planted_drop_is_found_and_stored_with_its_inputs(admin_client, session):
    exp = build_experiment(session, effect=-4.0)
    ev = _evaluate(admin_client, exp)
    k = ev["results"]["kpis"][0]
    assert k["status"] == "ok" and k["method"] == "difference_in_differences"
    assert k["verdict"] == "improved", (k["checks"], k["messages"])  # NO2: lower is better
    assert k["effect"]["low"] < -4.0 < k["effect"]["high"] or abs(k["effect"]["estimate"] + 4) < 1.5
    assert k["verdict_text"]["nl"].startswith("Verbeterd") and k["verdict_text"]["en"].startswith("Improved")
    assert "95%" in k["verdict_text"]["en"]
    fp = ev["fingerprint"]
    assert fp["observations_used"] > 15000 and fp["datastreams"] == 4 and len(fp["series_sha256"]) == 64
    assert fp["first_observation"].startswith("2024-01-01") and fp["last_observation"].startswith("2024-06-16")
    assert ev["code_version"].startswith("stadslab ") and ev["engine_version"]
    assert ev["design"]["input"]["kpis"][0]["kpi"] == "no2_concentration"
    row = session.get(Evaluation, ev["id"])
    assert row.results["kpis"][0]["effect"]["estimate"] == pytest.approx(k["effect"]["estimate"])
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "evaluate")).all()
    assert len(audit) == 1 and audit[0].entity_id == str(exp.project_id)


def test_same_data_same_result_and_history(admin_client, session):
    exp = build_experiment(session, effect=0.0, seed=5)
    first = _evaluate(admin_client, exp)
    second = admin_client.post(f"/api/v1/projects/{exp.project_id}/evaluation").json()
    assert second["fingerprint"]["series_sha256"] == first["fingerprint"]["series_sha256"]
    assert second["results"]["kpis"][0]["effect"] == first["results"]["kpis"][0]["effect"]
    got = admin_client.get(f"/api/v1/projects/{exp.project_id}/evaluation").json()
    assert got["latest"]["id"] == second["id"] and [h["id"] for h in got["history"]] == [second["id"], first["id"]]
    one = admin_client.get(f"/api/v1/projects/{exp.project_id}/evaluations/{first['id']}")
    assert one.status_code == 200 and one.json()["id"] == first["id"]
    assert admin_client.get(f"/api/v1/projects/{exp.project_id}/evaluations/999999").status_code == 404


def test_null_effect_gives_no_detectable_effect(admin_client, session):
    exp = build_experiment(session, effect=0.0, seed=3)
    k = _evaluate(admin_client, exp)["results"]["kpis"][0]
    assert k["verdict"] == "no_detectable_effect"
    assert k["effect"]["low"] <= 0 <= k["effect"]["high"]
    assert k["verdict_text"]["nl"].startswith("Geen aantoonbaar effect")


def test_rise_in_a_lower_is_better_kpi_is_worse(admin_client, session):
    exp = build_experiment(session, effect=5.0, seed=4)
    k = _evaluate(admin_client, exp)["results"]["kpis"][0]
    assert k["verdict"] == "worse" and k["effect"]["estimate"] > 0


def test_without_control_sites_it_says_before_after_only(admin_client, session):
    exp = build_experiment(session, effect=-6.0, n_control=0, seed=6)
    k = _evaluate(admin_client, exp)["results"]["kpis"][0]
    assert k["method"] == "before_after" and "control" not in k["means"]
    assert any("before/after comparison only" in m["en"] for m in k["messages"])
    assert any("alleen een voor-na-vergelijking" in m["nl"] for m in k["messages"])


def test_period_without_data_is_reported_not_estimated(admin_client, session):
    exp = build_experiment(session, days_pre=30, days_post=30)
    k = _evaluate(admin_client, exp, intervention={"start": "2024-09-01", "end": "2024-10-31"})["results"]["kpis"][0]
    assert k["status"] == "no_data" and k["effect"] is None and k["verdict"] is None
    assert any("No measurements from the intervention sites in the intervention period" in m["en"]
               for m in k["messages"])


def test_too_short_series_gets_no_interval(admin_client, session):
    exp = build_experiment(session, days_pre=14, days_post=14)
    k = _evaluate(admin_client, exp, baseline={"start": "2024-01-01", "end": "2024-01-06"},
                  intervention={"start": "2024-01-15", "end": "2024-01-28"})["results"]["kpis"][0]
    assert k["status"] == "insufficient_data" and k["effect"] is None
    assert any("baseline period has 6 usable buckets" in m["en"] for m in k["messages"])


def test_evaluation_without_design_is_409_and_needs_authorization(client, admin_client, session):
    pid = make_project(session)
    r = admin_client.post(f"/api/v1/projects/{pid}/evaluation")
    assert r.status_code == 409 and "design" in r.json()["detail"]
    assert client.post(f"/api/v1/projects/{pid}/evaluation").status_code == 401
    assert admin_client.post("/api/v1/projects/999999/evaluation").status_code == 404
    empty = client.get(f"/api/v1/projects/{pid}/evaluation").json()
    assert empty["latest"] is None and empty["history"] == []


def test_deleted_datastream_after_design_gives_422_not_500(admin_client, session):
    exp = build_experiment(session, days_pre=14, days_post=14)
    admin_client.put(f"/api/v1/projects/{exp.project_id}/design", json=exp.design())
    r = admin_client.delete(f"/sta/v1.1/Datastreams({exp.control[0]})")
    assert r.status_code in (200, 204), r.text
    r = admin_client.post(f"/api/v1/projects/{exp.project_id}/evaluation")
    assert r.status_code == 422 and f"unknown Datastream id(s): {exp.control[0]}" in r.text
    got = admin_client.get(f"/api/v1/projects/{exp.project_id}/design").json()
    assert got["problems"] and session.scalar(select(Evaluation.id)) is None


def test_outliers_and_implausible_values_are_left_out_and_reported(admin_client, session):
    exp = build_experiment(session, days_pre=42, days_post=42, effect=-3.0)
    ds = exp.treated[0]
    foi = session.scalar(select(Observation.feature_of_interest_id).where(Observation.datastream_id == ds).limit(1))
    day = T0 + timedelta(days=10)
    # A sensor fault: one day reads ~300 µg/m³ (plausible range, but an outlier); plus impossible values.
    session.execute(insert(Observation), [
        {"datastream_id": ds, "feature_of_interest_id": foi, "phenomenon_time_start": day + timedelta(minutes=30 + 60 * h),
         "result": 300.0, "result_number": 300.0} for h in range(24)] + [
        {"datastream_id": ds, "feature_of_interest_id": foi, "phenomenon_time_start": day + timedelta(minutes=45),
         "result": 99999.0, "result_number": 99999.0},
        {"datastream_id": ds, "feature_of_interest_id": foi, "phenomenon_time_start": day + timedelta(minutes=50),
         "result": "error", "result_string": "error"}])
    session.commit()
    ev = _evaluate(admin_client, exp, baseline={"start": "2024-01-01", "end": "2024-02-11"},
                   intervention={"start": "2024-02-12", "end": "2024-03-24"})
    k = ev["results"]["kpis"][0]
    assert k["outlier_count"] >= 1
    assert any(o["bucket"] == "2024-01-11" and o["robust_z"] > 5 for o in k["outliers"])
    assert k["excluded_observations"]["out_of_range"] >= 1 and k["excluded_observations"]["non_numeric"] == 1
    assert ev["fingerprint"]["observations_non_numeric"] == 1
    assert any("outliers" in m["en"] for m in k["messages"])
    assert k["verdict"] == "improved"


def test_coverage_and_gaps_are_reported(admin_client, session):
    exp = build_experiment(session, days_pre=28, days_post=28, effect=0.0)
    session.execute(Observation.__table__.delete().where(
        Observation.datastream_id.in_(exp.treated),
        Observation.phenomenon_time_start >= T0 + timedelta(days=3),
        Observation.phenomenon_time_start < T0 + timedelta(days=6)))
    session.commit()
    k = _evaluate(admin_client, exp, baseline={"start": "2024-01-01", "end": "2024-01-28"},
                  intervention={"start": "2024-01-29", "end": "2024-02-25"})["results"]["kpis"][0]
    cov = k["coverage"]["intervention"]["baseline"]
    assert cov["buckets_with_data"] == 25 and cov["expected_buckets"] == 28
    assert cov["gaps"] == [["2024-01-04", "2024-01-06"]] and cov["longest_gap_buckets"] == 3
    assert k["coverage"]["control"]["baseline"]["coverage"] == 1.0


def test_sql_bucket_means_match_numpy_on_ten_minute_data(session):
    exp = build_experiment(session, days_pre=10, days_post=10, n_control=0, step_minutes=10)
    ds = exp.treated[0]
    start, end = T0, T0 + timedelta(days=20)
    rows = aggregation.bucketed_means(session, [ds], [(start, end)], "day")
    values = np.array(session.scalars(select(Observation.result_number).where(Observation.datastream_id == ds)
                                      .order_by(Observation.phenomenon_time_start)).all())
    daily = values.reshape(20, 144).mean(axis=1)
    assert [r.bucket for r in rows] == [bucket_index(T0, "day") + i for i in range(20)]
    assert np.allclose([r.mean for r in rows], daily)
    assert all(r.used == 144 for r in rows)
    hourly = aggregation.bucketed_means(session, [ds], [(start, start + timedelta(hours=5))], "hour")
    assert [r.used for r in hourly] == [6] * 5
    assert np.allclose([r.mean for r in hourly], values[:30].reshape(5, 6).mean(axis=1))


def test_hourly_resolution_evaluates(admin_client, session):
    exp = build_experiment(session, days_pre=21, days_post=21, effect=-5.0, seed=8)
    k = _evaluate(admin_client, exp, resolution="hour", baseline={"start": "2024-01-01", "end": "2024-01-21"},
                  intervention={"start": "2024-01-22", "end": "2024-02-11"})["results"]["kpis"][0]
    assert k["status"] == "ok" and k["effect"]["buckets_baseline"] == 21 * 24
    assert k["verdict"] == "improved"
    assert len(k["series"]["buckets"]) == 42  # charts get daily points


def test_service_layer_directly(session):
    exp = build_experiment(session, days_pre=14, days_post=14)
    from stadslab.evidence.schemas import DesignIn

    service.put_design(session, exp.project_id, DesignIn(**exp.design(
        baseline={"start": "2024-01-01", "end": "2024-01-14"}, intervention={"start": "2024-01-15", "end": "2024-01-28"})))
    ev = service.run_evaluation(session, exp.project_id)
    assert service.latest_evaluation(session, exp.project_id).id == ev.id


def test_numbers_sent_as_text_are_counted_in_the_messages(admin_client, session):
    exp = build_experiment(session, days_pre=42, days_post=42, effect=-3.0)
    ds = exp.treated[0]
    foi = session.scalar(select(Observation.feature_of_interest_id).where(Observation.datastream_id == ds).limit(1))
    session.execute(insert(Observation), [
        {"datastream_id": ds, "feature_of_interest_id": foi, "result": text, "result_string": text,
         "phenomenon_time_start": T0 + timedelta(days=5, minutes=7 + i)}
        for i, text in enumerate(["12.5", " 31 ", "7,1", "n/a"])])
    session.commit()
    k = _evaluate(admin_client, exp, baseline={"start": "2024-01-01", "end": "2024-02-11"},
                  intervention={"start": "2024-02-12", "end": "2024-03-24"})["results"]["kpis"][0]
    assert k["excluded_observations"]["non_numeric"] == 4 and k["excluded_observations"]["numbers_as_text"] == 3
    said = [m for m in k["messages"] if "without a numeric result" in m["en"]]
    assert said and "4 observations" in said[0]["en"] and "3 of them numbers sent as text" in said[0]["en"]
    assert "3 getallen die als tekst" in said[0]["nl"]


def test_a_datastream_of_numbers_as_text_is_not_called_empty(admin_client, session):
    exp = build_experiment(session, days_pre=21, days_post=21, effect=0.0)
    obs = Observation.__table__
    rows = session.execute(select(obs.c.id, obs.c.result_number).where(obs.c.datastream_id.in_(exp.treated))).all()
    session.execute(obs.update().where(obs.c.datastream_id.in_(exp.treated))
                    .values(result_number=None, result_string="17.25", result="17.25"))
    session.commit()
    assert rows
    k = _evaluate(admin_client, exp, baseline={"start": "2024-01-01", "end": "2024-01-21"},
                  intervention={"start": "2024-01-22", "end": "2024-02-11"})["results"]["kpis"][0]
    assert k["status"] == "no_data"
    texts = " ".join(m["en"] for m in k["messages"])
    assert "No measurements from the intervention sites" not in texts
    assert "No usable measurements from the intervention sites in the baseline period" in texts
    assert "numbers sent as text" in texts and str(len(rows)) in texts.replace(",", "")


def test_an_episode_that_moves_every_site_is_not_called_outliers(admin_client, session):
    exp = build_experiment(session, days_pre=42, days_post=42, effect=-3.0)
    obs = Observation.__table__
    day = T0 + timedelta(days=20)
    session.execute(obs.update().where(obs.c.datastream_id.in_(exp.treated + exp.control),
                                       obs.c.phenomenon_time_start >= day,
                                       obs.c.phenomenon_time_start < day + timedelta(days=1))
                    .values(result_number=obs.c.result_number + 80))
    session.commit()
    k = _evaluate(admin_client, exp, baseline={"start": "2024-01-01", "end": "2024-02-11"},
                  intervention={"start": "2024-02-12", "end": "2024-03-24"})["results"]["kpis"][0]
    assert k["episodes"] == ["2024-01-21"]
    assert not [o for o in k["outliers"] if o["bucket"] == "2024-01-21"]
    assert any("city-wide episode" in m["en"] and "2024-01-21" in m["en"] for m in k["messages"])
    assert not any("outliers (robust" in m["en"] for m in k["messages"] if "2024-01-21" in m["en"])
