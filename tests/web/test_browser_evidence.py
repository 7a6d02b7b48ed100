"""In Chromium: a project whose own results contradict its evaluation, and an inconclusive verdict,
pass axe-core in both languages."""

from __future__ import annotations

import pytest

from tests.web.conftest import run_axe, screenshot

pytestmark = pytest.mark.browser


def _contradicted_project(session) -> int:
    from stadslab.evidence import service as evidence
    from stadslab.evidence.schemas import DesignIn
    from tests.evidence.helpers import build_experiment, make_project

    pid = make_project(session, status="scaled", kpis=[{"name": "NO2 in winkelstraten", "unit": "µg/m³",
                                                        "direction": "lower", "baseline": 34, "measured": 29}])
    exp = build_experiment(session, effect=0.0, seed=22, project_id=pid)
    from stadslab.labs.service import get_project

    kpi_id = get_project(session, pid).kpis[0].id
    design = exp.design()
    design["kpis"] = [{"kpi": "no2_concentration", "project_kpi_id": kpi_id}]
    evidence.put_design(session, pid, DesignIn.model_validate(design))
    evidence.run_evaluation(session, pid)
    return pid


def test_contradiction_flag_passes_axe_in_both_languages(new_page, browser_session, axe_source):
    pid = _contradicted_project(browser_session)
    page = new_page(bypass_csp=True)
    failures = {}
    for lang in ("nl", "en"):
        response = page.goto(f"/projecten/{pid}?lang={lang}")
        assert response.status == 200
        assert page.locator("#contradictions").count() == 1 and page.locator("h1").count() == 1
        screenshot(page, f"project-contradiction-{lang}")
        violations = run_axe(page, axe_source)
        if violations:
            failures[lang] = violations
        response = page.goto(f"/api/v1/projects/{pid}/report.html?lang={lang}")
        assert response.status == 200 and page.locator("#contradictions").count() == 1
        violations = run_axe(page, axe_source)
        if violations:
            failures[f"report-{lang}"] = violations
    assert not failures, failures
