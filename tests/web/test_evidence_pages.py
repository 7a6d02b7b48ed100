"""Evidence on the profile pages: evaluation results of a project, replication and advice of a solution."""

from __future__ import annotations

import re

import pytest

from stadslab.evidence import service as evidence
from stadslab.evidence.schemas import DesignIn
from stadslab.labs.schemas import AdoptionIn, SolutionIn
from stadslab.labs.service import create_adoption, create_solution
from tests.evidence.helpers import build_experiment, make_project
from tests.web.conftest import HTML

EINDHOVEN, TILBURG, HELMOND, ALMERE, BREDA = "GM0772", "GM0855", "GM0794", "GM0034", "GM0758"


def test_project_page_shows_effects_with_intervals_verdict_and_report_link(client, session):
    exp = build_experiment(session, effect=-4.0)
    evidence.put_design(session, exp.project_id, DesignIn.model_validate(exp.design()))
    ev = evidence.run_evaluation(session, exp.project_id)
    kpi = ev.results["kpis"][0]
    assert kpi["status"] == "ok" and kpi["verdict"] == "improved"
    r = client.get(f"/projecten/{exp.project_id}", headers=HTML)
    assert r.status_code == 200
    section = r.text[r.text.index('id="evaluation-title"'):]
    row = section[section.index('id="effects-table"'):section.index("</table>")]
    estimate = f"{kpi['effect']['estimate']:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    low = f"{kpi['effect']['low']:.2f}".replace(".", ",")
    high = f"{kpi['effect']['high']:.2f}".replace(".", ",")
    assert estimate.replace("-", "−") in row or estimate in row
    assert re.search(rf"{re.escape(low)}\s+tot\s+{re.escape(high)}", row.replace("−", "-").replace("-", "-"))
    assert "Verbeterd" in row and "Verschil-in-verschillen met controlelocaties" in row
    assert kpi["verdict_text"]["nl"].replace("'", "&#39;") in section
    assert f'href="/api/v1/projects/{exp.project_id}/report.html?lang=nl"' in section
    # The interval picture draws the estimate inside its interval, and zero outside it (an improvement).
    svg = re.search(r'<svg class="stadslab-interval".*?</svg>', section, re.S).group(0)
    zero = float(re.search(r'<line x1="([\d.]+)" y1="2"', svg).group(1))
    lo, hi = (float(x) for x in re.search(r'<line x1="([\d.]+)" y1="14" x2="([\d.]+)"', svg).groups())
    dot = float(re.search(r'<circle cx="([\d.]+)"', svg).group(1))
    assert lo <= dot <= hi and not lo <= zero <= hi
    en = client.get(f"/projecten/{exp.project_id}?lang=en", headers=HTML).text
    assert "Evaluation with sensor data" in en and kpi["verdict_text"]["en"].replace("'", "&#39;") in en
    report = client.get(f"/api/v1/projects/{exp.project_id}/report.html?lang=nl")
    assert report.status_code == 200


def test_project_without_evaluation_has_no_results_section(client, session):
    project_id = make_project(session)
    r = client.get(f"/projecten/{project_id}", headers=HTML)
    assert r.status_code == 200 and 'id="evaluation-title"' not in r.text


@pytest.fixture
def spread(session):
    origin = make_project(session, city=EINDHOVEN, status="evaluated", start_date="2020-01-01",
                          title="Slimme fietslichten Eindhoven", themes=["mobility"])
    sol = create_solution(session, SolutionIn(name="Slimme fietslichten", themes=["mobility"],
                                              origin_project_id=origin))
    tilburg_project = make_project(session, city=TILBURG, title="Fietslichten Spoorzone", status="pilot")
    for city, on, status, project in [(TILBURG, "2020-07-01", "adopted", tilburg_project),
                                      (HELMOND, "2021-01-01", "piloting", None),
                                      (ALMERE, "2021-06-01", "abandoned", None), (BREDA, None, "planned", None)]:
        create_adoption(session, AdoptionIn(solution_id=sol.id, city=city, adopted_on=on, status=status,
                                            project_id=project, outcome="Minder wachttijd" if city == TILBURG else ""))
    return {"solution": sol.id, "origin": origin, "tilburg_project": tilburg_project}


def test_solution_page_draws_the_replication_graph_and_lists_it(client, spread):
    r = client.get(f"/oplossingen/{spread['solution']}", headers=HTML)
    assert r.status_code == 200
    section = r.text[r.text.index('id="graph-title"'):]
    svg = re.search(r'<svg viewBox="0 0 760 (\d+)" role="img" aria-labelledby="graph-svg-title graph-svg-desc".*?</svg>',
                    section, re.S)
    assert svg, "the graph is an SVG image with a title and a description"
    drawing = svg.group(0)
    assert drawing.count("<path ") == 4  # one curve per adoption
    assert 'stroke="#1e6b35"' in drawing and 'stroke="#b3261e"' in drawing  # adopted and stopped differ
    desc = re.search(r'<desc id="graph-svg-desc">(.*?)</desc>', drawing, re.S).group(1)
    assert "Van Eindhoven naar:" in desc and "Tilburg (Overgenomen)" in desc and "Almere (Gestopt)" in desc
    tree = section[section.index('class="stadslab-tree"'):]
    tree = tree[:tree.index("</ol>")]
    assert f'href="/projecten/{spread["origin"]}">Slimme fietslichten Eindhoven</a>' in tree
    assert "Tilburg</a>: Overgenomen sinds 1 jul 2020, in het project" in tree
    assert f'href="/projecten/{spread["tilburg_project"]}">Fietslichten Spoorzone</a>' in tree
    assert "Resultaat: Minder wachttijd" in tree
    assert "bereikte de oplossing 2 andere steden" in section  # adopted + piloting count as reach


def test_solution_page_links_where_to_scale_next(client, spread):
    r = client.get(f"/oplossingen/{spread['solution']}", headers=HTML)
    advice = r.text[r.text.index('id="advice-title"'):]
    items = re.findall(r'<li><a class="utrecht-link utrecht-link--html-a" href="/steden/(GM\d{4})">', advice)
    assert len(items) == 5 and not {EINDHOVEN, TILBURG, HELMOND, ALMERE, BREDA} & set(items)
    assert "Lijkt op" in advice
    assert f'href="/api/v1/solutions/{spread["solution"]}/report.html?lang=nl"' in advice
    en = client.get(f"/oplossingen/{spread['solution']}?lang=en", headers=HTML).text
    assert "Where to scale next" in en and "Resembles" in en


def test_solution_without_adoptions_or_evidence(client, session):
    sol = create_solution(session, SolutionIn(name="Nog nergens", origin_project_id=make_project(session, status="pilot")))
    r = client.get(f"/oplossingen/{sol.id}", headers=HTML)
    assert r.status_code == 200 and 'id="graph-title"' not in r.text
    assert "daarom geen advies" in r.text
