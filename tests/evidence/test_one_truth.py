"""One truth about effects, checked on the whole demo: no page, report or API answer says that a
solution worked in a city where that city's evaluation says it did not, and every project whose own
results contradict its evaluation carries a visible flag, on the page, in the report and in the API."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from stadslab.evidence.advice import evaluation_outcome
from stadslab.evidence.demo import load_evidence_demo
from stadslab.evidence.models import Evaluation
from stadslab.labs.demo_loader import load_demo
from stadslab.labs.models import Project, Solution
from tests.web.conftest import HTML

#: "Resembles X, where the solution worked" in either language, as the advice explains itself.
WORKED = re.compile(r"(?:Resembles|Lijkt op) (.+?), (?:where the solution worked|waar de oplossing werkte)")


@pytest.fixture
def demo(session):
    load_demo(session)
    load_evidence_demo(session)
    return session


def _did_not_work(session) -> dict[int, set[str]]:
    """Per solution, the city names whose latest evaluation says it did not improve."""
    out: dict[int, set[str]] = {}
    for s in session.scalars(select(Solution)):
        projects = [(a.project_id, a.municipality.name) for a in s.adoptions if a.project_id]
        if s.origin_project is not None:
            projects.append((s.origin_project.id, s.origin_project.municipality.name))
        for pid, city in projects:
            found = evaluation_outcome(session, pid)
            if found is not None and found[1] is not True:
                out.setdefault(s.id, set()).add(city)
    return out


def _text(body: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_nothing_says_a_solution_worked_where_the_evaluation_says_it_did_not(client, demo):
    not_worked = _did_not_work(demo)
    assert "Utrecht" in next(v for v in not_worked.values() if "Utrecht" in v)  # the demo has such a case
    checked = 0
    for sid, cities in not_worked.items():
        for lang in ("nl", "en"):
            advice = client.get(f"/api/v1/solutions/{sid}/advice?lang={lang}&limit=50").json()
            assert not [e for e in advice["evidence"] if e["municipality"]["name"] in cities and e["worked"]]
            for r in advice["recommendations"]:
                assert (r["most_similar_success"] or {}).get("municipality", {}).get("name") not in cities
                assert not set(WORKED.findall(r["explanation"])) & cities, r["explanation"]
            for url in (f"/oplossingen/{sid}?lang={lang}", f"/api/v1/solutions/{sid}/report.html?lang={lang}"):
                page = client.get(url, headers=HTML)
                assert page.status_code == 200
                said = set(WORKED.findall(_text(page.text)))
                assert not said & cities, (url, said & cities)
                checked += 1
    # A city's opportunities explain themselves the same way.
    codes = {code for (code,) in demo.execute(select(Project.municipality_code).distinct())}
    names = {n for v in not_worked.values() for n in v}
    for code in sorted(codes):
        for o in client.get(f"/api/v1/municipalities/{code}/opportunities?lang=en&limit=50").json()["opportunities"]:
            bad = not_worked.get(o["solution"]["id"], set())
            assert not set(WORKED.findall(o["explanation"])) & bad, o["explanation"]
            assert (o["most_similar_success"] or {}).get("municipality", {}).get("name") not in bad
    assert checked >= 4 and names


def test_contradictions_are_flagged_on_the_page_in_the_report_and_in_the_api(client, demo):
    utrecht = demo.scalars(select(Project).where(Project.title == "Zero-emissie bevoorrading binnenstad Utrecht")).one()
    api = client.get(f"/api/v1/projects/{utrecht.id}/evaluation").json()["consistency"]
    kinds = {f["kind"] for f in api["flags"]}
    assert api["consistent"] is False and kinds == {"kpi_disagrees", "scaled_without_effect"}
    kpi = next(f for f in api["flags"] if f["kind"] == "kpi_disagrees")
    assert kpi["self_reported"]["claim"] == "improved" and kpi["evaluation"]["verdict"] == "no_detectable_effect"
    assert (kpi["self_reported"]["baseline"], kpi["self_reported"]["measured"]) == (34, 29)
    listed = client.get("/api/v1/evidence/contradictions").json()
    assert utrecht.id in [p["project"]["id"] for p in listed["value"]]
    # Every evaluated demo project whose flags the API reports shows them on its page and in its report.
    for item in listed["value"]:
        pid = item["project"]["id"]
        for lang, head, word in (("nl", "spreken elkaar tegen", "Tegenstrijdig"),
                                 ("en", "disagree", "Contradiction")):
            page = client.get(f"/projecten/{pid}?lang={lang}", headers=HTML).text
            assert 'id="contradictions"' in page and head in _text(page), (pid, lang)
            assert word in _text(page)
            report = client.get(f"/api/v1/projects/{pid}/report.html?lang={lang}").text
            assert 'id="contradictions"' in report and word in _text(report)
    page = _text(client.get(f"/projecten/{utrecht.id}?lang=en", headers=HTML).text)
    assert "Scaled up without a shown effect" in page and "34 → 29 µg/m³ (improved)" in page
    assert re.search(r"no detectable effect, \+0\.3\d+ µg/m³", page)
    # A project whose own table agrees with its evaluation is not flagged.
    flagged = {p["project"]["id"] for p in listed["value"]}
    agreeing = [pid for pid in demo.scalars(select(Evaluation.project_id)) if pid not in flagged]
    assert agreeing
    for pid in agreeing:
        assert 'id="contradictions"' not in client.get(f"/projecten/{pid}", headers=HTML).text


def test_an_evaluation_that_fails_its_own_checks_says_inconclusive_everywhere(client, demo):
    school = demo.scalars(select(Project).where(Project.title == "Gezonde schoolroutes")).one()
    body = client.get(f"/api/v1/projects/{school.id}/evaluation").json()
    k = body["latest"]["results"]["kpis"][0]
    assert k["verdict"] == "inconclusive" and k["estimate_verdict"] == "improved"
    assert k["checks"]["inconclusive_reasons"] == ["pretrend"] and not k["checks"]["passed"]
    assert k["verdict_text"]["en"].startswith("Inconclusive") and "not moving in parallel" in k["verdict_text"]["en"]
    assert body["latest"]["results"]["summary"]["inconclusive"] == 1
    assert [f["kind"] for f in body["consistency"]["flags"]] == ["kpi_disagrees"]  # its own table says 31 → 27
    page = _text(client.get(f"/projecten/{school.id}?lang=en", headers=HTML).text)
    assert "Inconclusive" in page and "Assumption fails" in page and "not moving in parallel" in page
    nl = _text(client.get(f"/projecten/{school.id}?lang=nl", headers=HTML).text)
    assert "Onbeslist" in nl and "liepen vóór de interventie al niet gelijk op" in nl
    report = _text(client.get(f"/api/v1/projects/{school.id}/report.html?lang=en").text)
    assert "Inconclusive" in report and "Placebo halfway through the baseline" in report and "failed" in report
