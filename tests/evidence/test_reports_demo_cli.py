"""Reports (HTML, accessible, print CSS), the evidence demo, and the command line."""

import os
import subprocess
import sys

from sqlalchemy import select

from stadslab.evidence.demo import CASES, load_evidence_demo
from stadslab.evidence.models import Evaluation
from stadslab.labs.demo_loader import load_demo
from stadslab.labs.models import Solution
from tests.evidence.helpers import build_experiment, make_project


def test_project_report_with_results_is_accessible_and_printable(admin_client, session):
    exp = build_experiment(session, effect=-4.0, days_pre=28, days_post=28)
    admin_client.put(f"/api/v1/projects/{exp.project_id}/design", json=exp.design(
        baseline={"start": "2024-01-01", "end": "2024-01-28"}, intervention={"start": "2024-01-29", "end": "2024-02-25"}))
    admin_client.post(f"/api/v1/projects/{exp.project_id}/evaluation")
    r = admin_client.get(f"/api/v1/projects/{exp.project_id}/report.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="nl">' in html and "<h1>" in html and "<h2>" in html and "<h3" in html
    assert html.count("<svg") == 1 and 'role="img"' in html and "<title id=" in html and "<desc id=" in html
    assert "<caption>" in html and 'scope="row"' in html
    assert "@media print" in html and "Verbeterd" in html and "interventie" in html
    en = admin_client.get(f"/api/v1/projects/{exp.project_id}/report.html?lang=en").text
    assert '<html lang="en">' in en and "Improved" in en


def test_report_says_what_is_missing_instead_of_an_empty_chart(client, session):
    pid = make_project(session)
    html = client.get(f"/api/v1/projects/{pid}/report.html").text
    assert "<svg" not in html
    assert "geen experimentopzet" in html and "nog geen evaluatie" in html.lower()
    exp = build_experiment(session, days_pre=14, days_post=14)
    from stadslab.evidence import service
    from stadslab.evidence.schemas import DesignIn

    service.put_design(session, exp.project_id, DesignIn(**exp.design(
        intervention={"start": "2024-09-01", "end": "2024-10-01"})))
    service.run_evaluation(session, exp.project_id)
    html = client.get(f"/api/v1/projects/{exp.project_id}/report.html?lang=en").text
    assert "No effect computed" in html and "No measurements from the intervention sites" in html
    assert client.get("/api/v1/projects/999999/report.html").status_code == 404


def test_evidence_demo_shows_all_three_verdicts(client, session):
    load_demo(session)
    counts = load_evidence_demo(session)
    assert counts["evaluations"] == len(CASES) and counts["observations"] > 50_000
    assert load_evidence_demo(session) == {}  # idempotent
    verdicts = {ev.results["kpis"][0]["verdict"] for ev in session.scalars(select(Evaluation))}
    assert {"improved", "no_detectable_effect", "worse"} <= verdicts
    fietsgroen = session.scalars(select(Solution).where(Solution.name.like("Fietsgroen%"))).one()
    cmp = client.get(f"/api/v1/solutions/{fietsgroen.id}/comparison").json()
    assert cmp["kpis"][0]["comparable_cities"] == 2
    html = client.get(f"/api/v1/solutions/{fietsgroen.id}/report.html").text
    assert "Eindhoven" in html and "Tilburg" in html and "<svg" in html
    mult = client.get("/api/v1/multiplier").json()
    assert mult["by_spread"]["spreading"] >= 5


def test_cli_evaluate_and_advise(db, session):
    exp = build_experiment(session, effect=-4.0, days_pre=21, days_post=21)
    from stadslab.evidence import service
    from stadslab.evidence.schemas import DesignIn

    service.put_design(session, exp.project_id, DesignIn(**exp.design(
        baseline={"start": "2024-01-01", "end": "2024-01-21"}, intervention={"start": "2024-01-22", "end": "2024-02-11"})))
    env = {**os.environ, "STADSLAB_DATABASE_URL": db.url, "COLUMNS": "200"}
    run = subprocess.run([sys.executable, "-m", "stadslab.cli", "evaluate", str(exp.project_id), "--lang", "en"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Improved" in run.stdout
    assert session.scalar(select(Evaluation.project_id)) == exp.project_id
    bad = subprocess.run([sys.executable, "-m", "stadslab.cli", "evaluate", "999999"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "No project" in bad.stderr
    no_design = subprocess.run([sys.executable, "-m", "stadslab.cli", "evaluate", str(make_project(session))],
                               env=env, capture_output=True, text=True, timeout=120)
    assert no_design.returncode == 1 and "no experiment design" in no_design.stderr
    from stadslab.labs.schemas import AdoptionIn, SolutionIn
    from stadslab.labs.service import create_adoption, create_solution

    sol = create_solution(session, SolutionIn(name="CLI-oplossing"))
    create_adoption(session, AdoptionIn(solution_id=sol.id, city="GM0855", status="adopted"))
    adv = subprocess.run([sys.executable, "-m", "stadslab.cli", "advise", "CLI-oplossing", "--limit", "3"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert adv.returncode == 0, adv.stderr
    assert "Tilburg" in adv.stdout and adv.stdout.count("│ 1 ") + adv.stdout.count("│ 2 ") >= 2


def test_demo_reads_knmi_temperature_from_shared(shared_dir, monkeypatch):
    from datetime import datetime, timezone

    from stadslab.evidence import demo

    monkeypatch.setenv("STADSLAB_SHARED_DIR", str(shared_dir))
    t = demo.knmi_temperature(datetime(2022, 1, 1, tzinfo=timezone.utc), 48)
    assert t is not None and t[0] == 10.2 and t[1] == 11.1  # uurgeg_215_2022: T=102, 111 (0.1 °C)


def test_demo_generates_temperature_on_a_fresh_clone(tmp_path, monkeypatch):
    import numpy as np

    from stadslab.evidence import demo

    monkeypatch.setenv("STADSLAB_SHARED_DIR", str(tmp_path))
    case = next(c for c in demo.CASES if c.kind == "temperature")
    assert demo.knmi_temperature(case.start, 24) is None
    treated, control = demo._series(case)
    assert treated.shape == control.shape and np.isfinite(treated).all()
    half = treated.shape[1] // 2
    # The planted cooling: the treated-minus-control gap shrinks after the intervention.
    gap = treated.mean(axis=0) - control.mean(axis=0)
    assert gap[half:].mean() < gap[:half].mean() - 0.3


def test_report_style_is_allowed_by_hash_not_unsafe_inline(client, session):
    import base64
    import hashlib
    import re

    pid = make_project(session)
    r = client.get(f"/api/v1/projects/{pid}/report.html")
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "script-src" not in csp and "default-src 'none'" in csp
    css = re.search(r"<style>(.*?)</style>", r.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
