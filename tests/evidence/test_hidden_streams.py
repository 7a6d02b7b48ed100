"""Evidence and hidden Datastreams: designs answer a Datastream the caller may not see exactly like an
unknown one, and stored evaluations follow the *current* access class of the Datastreams they used.
"""

from __future__ import annotations

from stadslab.labs.models import Project
from stadslab.sensorthings.model.tables import Datastream, Thing
from tests.evidence.helpers import build_experiment
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user

UNKNOWN = 987654


def _editor_of_project(session, exp) -> dict[str, str]:
    org = make_organisation(session)
    session.get(Project, exp.project_id).owner_organisation_id = org.id
    session.commit()
    return auth_headers(make_token(session, make_user(session, "editor", org, password=None)))


def _close(session, exp, *, thing: int | None = None, stream: int | None = None, cls: str = "restricted") -> None:
    owner = make_organisation(session)
    if thing is not None:
        t = session.get(Thing, thing)
        t.access_class, t.owner_organisation_id = cls, owner.id
    if stream is not None:
        session.get(Datastream, stream).access_class = cls
    session.commit()


def _problem(r) -> tuple[int, str, list]:
    body = r.json()
    return r.status_code, body["detail"], body.get("errors")


def test_design_answers_a_hidden_datastream_like_an_unknown_id(client, session):
    exp = build_experiment(session, days_pre=14, days_post=14)
    headers = _editor_of_project(session, exp)
    hidden_thing_stream, hidden_own_class = exp.treated[0], exp.control[0]
    _close(session, exp, thing=exp.things[0])              # another organisation's restricted Thing
    _close(session, exp, stream=hidden_own_class)          # a restricted Datastream of an open Thing
    url = f"/api/v1/projects/{exp.project_id}/design"
    for hidden in (hidden_thing_stream, hidden_own_class):
        site = {"name": "Hoofdstraat", "datastream_ids": [exp.treated[1], hidden]}
        a = client.put(url, json=exp.design(intervention_sites=[site], control_sites=[]), headers=headers)
        site = {"name": "Hoofdstraat", "datastream_ids": [exp.treated[1], UNKNOWN]}
        b = client.put(url, json=exp.design(intervention_sites=[site], control_sites=[]), headers=headers)
        assert a.status_code == b.status_code == 422, a.text
        assert "restricted" not in a.text
        sa, sb = (str(_problem(x)).replace(str(i), "N") for x, i in ((a, hidden), (b, UNKNOWN)))
        assert sa == sb
    # the same for Things: a hidden Thing is an unknown Thing
    a = client.put(url, json=exp.design(intervention_sites=[{"thing_ids": [exp.things[0]]}], control_sites=[]),
                   headers=headers)
    b = client.put(url, json=exp.design(intervention_sites=[{"thing_ids": [UNKNOWN]}], control_sites=[]),
                   headers=headers)
    assert a.status_code == b.status_code == 422
    assert str(_problem(a)).replace(str(exp.things[0]), "N") == str(_problem(b)).replace(str(UNKNOWN), "N")


def test_a_site_found_by_area_does_not_reveal_hidden_things(client, session):
    exp = build_experiment(session, days_pre=14, days_post=14, n_treat=1, n_control=1)
    headers = _editor_of_project(session, exp)
    _close(session, exp, thing=exp.things[0])
    url = f"/api/v1/projects/{exp.project_id}/design"
    around_hidden = {"type": "Polygon", "coordinates": [[[5.05, 51.95], [5.15, 51.95], [5.15, 52.05],
                                                         [5.05, 52.05], [5.05, 51.95]]]}
    empty = {"type": "Polygon", "coordinates": [[[7.0, 53.0], [7.1, 53.0], [7.1, 53.1], [7.0, 53.1], [7.0, 53.0]]]}
    a = client.put(url, json=exp.design(intervention_sites=[{"area": around_hidden}], control_sites=[]),
                   headers=headers)
    b = client.put(url, json=exp.design(intervention_sites=[{"area": empty}], control_sites=[]), headers=headers)
    assert a.status_code == b.status_code == 422
    assert _problem(a) == _problem(b)


def test_stored_design_shows_anonymous_callers_no_hidden_datastream(client, admin_client, session):
    exp = build_experiment(session, days_pre=14, days_post=14)
    assert admin_client.put(f"/api/v1/projects/{exp.project_id}/design", json=exp.design()).status_code == 200
    _close(session, exp, thing=exp.things[0])
    got = client.get(f"/api/v1/projects/{exp.project_id}/design").json()
    text = str(got)
    assert "restricted" not in text
    assert f"Datastream {exp.treated[0]}" not in text.replace("Datastream(s)", "")
    kpis = (got["resolved"] or {}).get("kpis", [])
    assert all(s["datastream_id"] != exp.treated[0] for k in kpis for s in k["intervention"])


def _series_ids(ev: dict) -> set[int]:
    return {s["datastream_id"] for k in ev["design"]["resolved"]["kpis"] for g in ("intervention", "control")
            for s in k[g]}


def test_stored_evaluation_follows_the_current_access_class(client, admin_client, session):
    exp = build_experiment(session, days_pre=14, days_post=14)
    assert admin_client.put(f"/api/v1/projects/{exp.project_id}/design", json=exp.design()).status_code == 200
    r = admin_client.post(f"/api/v1/projects/{exp.project_id}/evaluation")
    assert r.status_code == 201, r.text
    ev_id = r.json()["id"]
    before = client.get(f"/api/v1/projects/{exp.project_id}/evaluations/{ev_id}").json()
    assert before["results"]["kpis"][0]["series"]["intervention"]  # public while the data is open
    assert exp.treated[0] in _series_ids(before)

    report_before = client.get(f"/api/v1/projects/{exp.project_id}/report.html").text
    assert 'id="ts0-t"' in report_before
    _close(session, exp, stream=exp.treated[0])
    views = []
    for url in (f"/api/v1/projects/{exp.project_id}/evaluations/{ev_id}",
                f"/api/v1/projects/{exp.project_id}/evaluation"):
        got = client.get(url).json()
        ev = got.get("latest") or got
        [kpi] = ev["results"]["kpis"]
        assert kpi["status"] == "withheld" and "series" not in kpi and kpi["effect"] is None
        assert exp.treated[0] not in _series_ids(ev)
        assert ev["results"]["summary"]["not_evaluable"] == 1
        views.append(ev)
    assert 'id="ts0-t"' not in client.get(f"/api/v1/projects/{exp.project_id}/report.html").text
    # admins (who may read the restricted Datastream) still see everything
    full = admin_client.get(f"/api/v1/projects/{exp.project_id}/evaluations/{ev_id}").json()
    assert full["results"]["kpis"][0]["series"] == before["results"]["kpis"][0]["series"]
    # a deleted Datastream is withheld just the same: hidden looks exactly like nonexistent
    session.delete(session.get(Datastream, exp.treated[0]))
    session.commit()
    gone = client.get(f"/api/v1/projects/{exp.project_id}/evaluations/{ev_id}").json()
    assert gone == views[0]


def test_solution_comparison_withholds_effects_of_streams_made_restricted(client, admin_client, session):
    from stadslab.labs.schemas import SolutionIn
    from stadslab.labs.service import create_solution

    exp = build_experiment(session, days_pre=14, days_post=14)
    sol = create_solution(session, SolutionIn(name="Schone lucht", origin_project_id=exp.project_id)).id
    assert admin_client.put(f"/api/v1/projects/{exp.project_id}/design", json=exp.design()).status_code == 200
    assert admin_client.post(f"/api/v1/projects/{exp.project_id}/evaluation").status_code == 201
    [city] = client.get(f"/api/v1/solutions/{sol}/comparison").json()["kpis"][0]["cities"]
    assert city["status"] != "withheld"
    _close(session, exp, stream=exp.control[0])
    [city] = client.get(f"/api/v1/solutions/{sol}/comparison").json()["kpis"][0]["cities"]
    assert city["status"] == "withheld" and city["estimate"] is None and city["low"] is None
