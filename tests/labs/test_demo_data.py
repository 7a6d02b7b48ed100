"""Internal consistency of the shipped demo content (src/stadslab/labs/demo/demo.json).

The demo file is loaded as-is into every fresh installation, so a dangling
reference or an impossible date would surface as a loader crash or as a
nonsensical page in front of a city audience. These checks read only package
files, so they need no database and run anywhere the package is installed.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from datetime import date
from functools import cache
from importlib import resources

import pytest
from shapely.geometry import shape

THEMES_FILE = ("stadslab.network", "reference/themes.json")

ORG_KINDS = {"municipality", "company", "knowledge_institution", "government", "other"}
LAB_STATUSES = {"planned", "active", "closed"}
PROJECT_STATUSES = {"idea", "pilot", "evaluated", "scaled", "stopped"}
ADOPTION_STATUSES = {"planned", "piloting", "adopted", "abandoned"}
MATURITIES = {"pilot", "proven", "mature"}
COALITION_STATUSES = {"active", "closed"}
INFRASTRUCTURE = {"fibre", "lorawan", "5g", "4g", "wifi", "nb-iot", "edge-computing", "open-data-platform",
                  "smart-lighting", "ev-charging", "sensor-network", "digital-twin"}
G5 = ("Amsterdam", "Rotterdam", "Den Haag", "Utrecht", "Eindhoven")

FIELDS = {
    "organisations": {"name", "kind", "city", "website", "description"},
    "living_labs": {"name", "city", "description", "geometry", "themes", "infrastructure", "open_to_external",
                    "regulatory_exemptions", "contact_name", "contact_email", "status", "website"},
    "projects": {"key", "title", "summary", "city", "living_lab", "themes", "status", "start_date", "end_date",
                 "budget_eur", "funding_sources", "partners", "kpis", "lessons", "links"},
    "solutions": {"name", "description", "themes", "origin_project", "provider", "maturity", "preconditions"},
    "adoptions": {"solution", "city", "project", "adopted_on", "status", "outcome"},
    "coalitions": {"title", "question", "description", "lead_city", "cities", "organisations", "themes",
                   "status"},
}
KPI_FIELDS = {"name", "unit", "direction", "baseline", "target", "measured"}
#: Bounding box of the European Netherlands; catches swapped [lat, lon] pairs.
NL_LON, NL_LAT = (3.3, 7.3), (50.7, 53.6)
MAX_KM_FROM_CENTROID = 15.0


def _package_text(package: str, path: str) -> str:
    return (resources.files(package) / path).read_text(encoding="utf-8")


@cache
def demo() -> dict:
    return json.loads(_package_text("stadslab.labs.demo", "demo.json"))


@cache
def municipalities() -> dict[str, dict]:
    rows = csv.DictReader(_package_text("stadslab.network", "reference/municipalities.csv").splitlines())
    return {row["name"]: row for row in rows}


@cache
def outlines() -> dict:
    return json.loads(_package_text("stadslab.network", "reference/outlines.json"))


@cache
def theme_codes() -> set[str]:
    return {t["code"] for t in json.loads(_package_text(*THEMES_FILE))}


@cache
def networks() -> dict:
    return json.loads(_package_text("stadslab.network", "reference/networks.json"))


def _date(value: str | None, where: str) -> date | None:
    if value is None:
        return None
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), f"{where}: {value!r} is not YYYY-MM-DD"
    return date.fromisoformat(value)


def _projects() -> dict[str, dict]:
    return {p["key"]: p for p in demo()["projects"]}


def _km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine) in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


# ------------------------------------------------------------------ shape

def test_top_level_shape_and_demo_notice():
    data = demo()
    assert set(data) == {"_notice", *FIELDS}
    assert "demo" in data["_notice"].lower() and "fictional" in data["_notice"].lower()


@pytest.mark.parametrize("section", sorted(FIELDS))
def test_every_record_has_exactly_the_documented_fields(section):
    for i, record in enumerate(demo()[section]):
        assert set(record) == FIELDS[section], f"{section}[{i}]: fields {sorted(set(record) ^ FIELDS[section])}"
    for p in demo()["projects"]:
        for k in p["kpis"]:
            assert set(k) == KPI_FIELDS, f"project {p['key']}: KPI fields {sorted(k)}"
        for f in p["funding_sources"]:
            assert set(f) == {"name", "amount_eur"}, p["key"]
        for partner in p["partners"]:
            assert set(partner) == {"organisation", "role"}, p["key"]
        for link in p["links"]:
            assert set(link) == {"title", "url"}, p["key"]


@pytest.mark.parametrize("section,key", [
    ("organisations", "name"), ("living_labs", "name"), ("projects", "key"), ("projects", "title"),
    ("solutions", "name"), ("coalitions", "title"),
])
def test_identifiers_are_unique(section, key):
    counts = Counter(r[key] for r in demo()[section])
    assert not [v for v, n in counts.items() if n > 1], f"duplicate {section}.{key}"


def test_one_adoption_per_solution_and_city():
    counts = Counter((a["solution"], a["city"]) for a in demo()["adoptions"])
    assert not [pair for pair, n in counts.items() if n > 1]


def test_project_keys_are_slugs():
    for p in demo()["projects"]:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", p["key"]), p["key"]


# ------------------------------------------------------------------ enums

def test_enum_values():
    data = demo()
    for o in data["organisations"]:
        assert o["kind"] in ORG_KINDS, o["name"]
    for lab in data["living_labs"]:
        assert lab["status"] in LAB_STATUSES, lab["name"]
        assert set(lab["infrastructure"]) <= INFRASTRUCTURE, (lab["name"], lab["infrastructure"])
        assert isinstance(lab["open_to_external"], bool), lab["name"]
    for p in data["projects"]:
        assert p["status"] in PROJECT_STATUSES, p["key"]
        for k in p["kpis"]:
            assert k["direction"] in {"higher", "lower"}, (p["key"], k["name"])
    for s in data["solutions"]:
        assert s["maturity"] in MATURITIES, s["name"]
    for a in data["adoptions"]:
        assert a["status"] in ADOPTION_STATUSES, (a["solution"], a["city"])
    for c in data["coalitions"]:
        assert c["status"] in COALITION_STATUSES, c["title"]


def test_theme_codes_exist_and_are_not_repeated():
    known = theme_codes()
    for section in ("living_labs", "projects", "solutions", "coalitions"):
        for r in demo()[section]:
            label = r.get("key") or r.get("name") or r.get("title")
            assert r["themes"], f"{section} {label}: no themes"
            assert set(r["themes"]) <= known, f"{section} {label}: unknown {set(r['themes']) - known}"
            assert len(set(r["themes"])) == len(r["themes"]), f"{section} {label}: repeated theme"


# ------------------------------------------------------------------ references

def test_cities_exist_in_reference_municipalities():
    names = set(municipalities())
    data = demo()
    used = [(f"organisation {o['name']}", o["city"]) for o in data["organisations"] if o["city"] is not None]
    used += [(f"lab {x['name']}", x["city"]) for x in data["living_labs"]]
    used += [(f"project {x['key']}", x["city"]) for x in data["projects"]]
    used += [(f"adoption {x['solution']}", x["city"]) for x in data["adoptions"]]
    used += [(f"coalition {c['title']}", city) for c in data["coalitions"] for city in c["cities"]]
    used += [(f"coalition {c['title']} lead", c["lead_city"]) for c in data["coalitions"]]
    unknown = [(where, city) for where, city in used if city not in names]
    assert not unknown


def test_organisation_references_resolve():
    orgs = {o["name"] for o in demo()["organisations"]}
    for p in demo()["projects"]:
        partner_names = [x["organisation"] for x in p["partners"]]
        assert set(partner_names) <= orgs, (p["key"], set(partner_names) - orgs)
        assert len(set(partner_names)) == len(partner_names), f"{p['key']}: organisation listed twice"
        for x in p["partners"]:
            assert x["role"].strip() and len(x["role"]) <= 60, (p["key"], x["role"])
    for s in demo()["solutions"]:
        assert s["provider"] is None or s["provider"] in orgs, s["name"]
    for c in demo()["coalitions"]:
        assert set(c["organisations"]) <= orgs, (c["title"], set(c["organisations"]) - orgs)


def test_every_organisation_is_used_somewhere():
    data = demo()
    used = {x["organisation"] for p in data["projects"] for x in p["partners"]}
    used |= {s["provider"] for s in data["solutions"] if s["provider"]}
    used |= {o for c in data["coalitions"] for o in c["organisations"]}
    assert not {o["name"] for o in data["organisations"]} - used


def test_project_lab_exists_and_is_in_the_same_city():
    labs = {lab["name"]: lab for lab in demo()["living_labs"]}
    for p in demo()["projects"]:
        if p["living_lab"] is not None:
            assert p["living_lab"] in labs, p["key"]
            assert labs[p["living_lab"]]["city"] == p["city"], p["key"]


def test_solution_and_adoption_references_resolve():
    projects = _projects()
    solutions = {s["name"]: s for s in demo()["solutions"]}
    for s in solutions.values():
        assert s["origin_project"] is None or s["origin_project"] in projects, s["name"]
    for a in demo()["adoptions"]:
        label = (a["solution"], a["city"])
        assert a["solution"] in solutions, label
        if a["project"] is not None:
            assert a["project"] in projects, label
            assert projects[a["project"]]["city"] == a["city"], f"{label}: project is in another city"


def test_adoptions_are_by_other_cities_than_the_origin():
    projects = _projects()
    solutions = {s["name"]: s for s in demo()["solutions"]}
    for a in demo()["adoptions"]:
        origin = solutions[a["solution"]]["origin_project"]
        if origin is not None:
            assert projects[origin]["city"] != a["city"], (a["solution"], a["city"])


def test_coalitions_include_their_lead_city_once():
    for c in demo()["coalitions"]:
        assert c["lead_city"] in c["cities"], c["title"]
        assert len(set(c["cities"])) == len(c["cities"]) >= 2, c["title"]
        assert len(set(c["organisations"])) == len(c["organisations"]), c["title"]
        assert c["question"].strip().endswith("?"), c["title"]


# ------------------------------------------------------------------ dates and lifecycle

def test_project_dates_are_ordered():
    for p in demo()["projects"]:
        start = _date(p["start_date"], f"{p['key']}.start_date")
        end = _date(p["end_date"], f"{p['key']}.end_date")
        if end is not None:
            assert start is not None, f"{p['key']}: end without start"
            assert end >= start, f"{p['key']}: ends before it starts"


def test_project_status_is_consistent_with_dates_and_kpis():
    for p in demo()["projects"]:
        measured = [k["measured"] for k in p["kpis"]]
        if p["status"] == "idea":
            assert all(m is None for m in measured), f"{p['key']}: an idea has measured KPIs"
        else:
            assert p["start_date"] is not None, f"{p['key']}: {p['status']} without start date"
        if p["status"] in {"evaluated", "scaled", "stopped"}:
            assert p["end_date"] is not None, f"{p['key']}: {p['status']} without end date"
            assert p["lessons"], f"{p['key']}: {p['status']} without lessons"
        if p["status"] in {"evaluated", "scaled"}:
            assert p["kpis"], f"{p['key']}: {p['status']} without KPIs"
            assert all(m is not None for m in measured), f"{p['key']}: {p['status']} with unmeasured KPIs"


def test_adoption_dates():
    projects = _projects()
    solutions = {s["name"]: s for s in demo()["solutions"]}
    for a in demo()["adoptions"]:
        label = (a["solution"], a["city"])
        on = _date(a["adopted_on"], f"adoption {label}")
        if a["status"] == "planned":
            assert on is None, f"{label}: a planned adoption has no date yet"
            continue
        assert on is not None, f"{label}: {a['status']} without date"
        origin = solutions[a["solution"]]["origin_project"]
        if origin is not None:
            assert on > _date(projects[origin]["start_date"], origin), f"{label}: adopted before origin started"
        if a["project"] is not None:
            assert on >= _date(projects[a["project"]]["start_date"], a["project"]), \
                f"{label}: adopted before the adopting project started"
        assert a["outcome"].strip(), f"{label}: no outcome"


def test_solution_maturity_matches_origin_project():
    projects = _projects()
    for s in demo()["solutions"]:
        if s["origin_project"] is None:
            continue
        origin_status = projects[s["origin_project"]]["status"]
        if s["maturity"] in {"proven", "mature"}:
            assert origin_status in {"evaluated", "scaled"}, f"{s['name']}: {s['maturity']} from {origin_status}"
        assert origin_status not in {"idea", "stopped"}, s["name"]


# ------------------------------------------------------------------ numbers and text

def test_budgets_funding_and_kpis_are_sane():
    for p in demo()["projects"]:
        amounts = [f["amount_eur"] for f in p["funding_sources"]]
        assert all(isinstance(x, (int, float)) and x > 0 for x in amounts), p["key"]
        if p["budget_eur"] is not None:
            assert p["budget_eur"] > 0, p["key"]
            assert sum(amounts) <= p["budget_eur"], f"{p['key']}: funding exceeds budget"
        for k in p["kpis"]:
            assert k["name"].strip() and k["unit"].strip() and len(k["unit"]) <= 40, (p["key"], k)
            for field in ("baseline", "target", "measured"):
                assert k[field] is None or isinstance(k[field], (int, float)), (p["key"], k["name"], field)
            if k["baseline"] is not None and k["target"] is not None:
                better = k["target"] > k["baseline"] if k["direction"] == "higher" else k["target"] < k["baseline"]
                assert better, f"{p['key']}: KPI {k['name']!r} target is not an improvement"


def test_summaries_have_two_to_four_sentences():
    for p in demo()["projects"]:
        sentences = re.findall(r"[.!?](?=\s+[A-Z'\"]|\s*$)", p["summary"])
        assert 2 <= len(sentences) <= 4, f"{p['key']}: {len(sentences)} sentences"


def test_most_projects_have_kpis_and_lessons():
    projects = demo()["projects"]
    assert sum(bool(p["kpis"]) for p in projects) >= 0.8 * len(projects)
    assert sum(bool(p["lessons"]) for p in projects) >= 0.8 * len(projects)


def test_contacts_and_links_use_example_domains():
    for lab in demo()["living_labs"]:
        assert re.fullmatch(r"[a-z0-9.\-]+@example\.org", lab["contact_email"]), lab["contact_email"]
        assert lab["contact_name"].strip(), lab["name"]
        assert lab["website"] is None or lab["website"].startswith("https://example.org/"), lab["name"]
    for p in demo()["projects"]:
        for link in p["links"]:
            assert link["url"].startswith("https://example.org/"), (p["key"], link["url"])
    for o in demo()["organisations"]:
        assert o["website"] is None or o["website"].startswith("https://"), o["name"]


def test_companies_are_visibly_fictional():
    """Real companies must never appear as partners of invented projects."""
    for o in demo()["organisations"]:
        if o["kind"] == "company":
            assert "Voorbeeld" in o["name"], o["name"]
            assert "fictie" in o["description"].lower() or "fictional" in o["description"].lower(), o["name"]


def test_texts_exercise_bilingual_search():
    data = demo()
    corpus = " ".join(
        [p["title"] + " " + p["summary"] + " " + " ".join(p["lessons"]) for p in data["projects"]]
        + [x["description"] for section in ("living_labs", "solutions", "coalitions") for x in data[section]]
    ).lower()
    for word in ("fiets", "fietsers", "fietsenstalling", "cycling", "cyclists", "luchtkwaliteit",
                 "air quality", "hittestress", "heat stress", "privacy", "cyber"):
        assert word in corpus, word


# ------------------------------------------------------------------ geography

def test_lab_geometries_are_valid_and_inside_their_municipality():
    ref, shapes = municipalities(), outlines()
    for lab in demo()["living_labs"]:
        geom = lab["geometry"]
        assert geom["type"] in {"Point", "Polygon"}, lab["name"]
        g = shape(geom)
        assert g.is_valid and not g.is_empty, lab["name"]
        if geom["type"] == "Polygon":
            ring = geom["coordinates"][0]
            assert ring[0] == ring[-1] and len(ring) >= 4, f"{lab['name']}: ring not closed"
        minx, miny, maxx, maxy = g.bounds
        assert NL_LON[0] <= minx <= maxx <= NL_LON[1], f"{lab['name']}: longitude outside NL (lat/lon swapped?)"
        assert NL_LAT[0] <= miny <= maxy <= NL_LAT[1], f"{lab['name']}: latitude outside NL (lat/lon swapped?)"
        row = ref[lab["city"]]
        c = g.centroid
        km = _km(c.x, c.y, float(row["centroid_lon"]), float(row["centroid_lat"]))
        assert km <= MAX_KM_FROM_CENTROID, f"{lab['name']}: {km:.1f} km from the {lab['city']} centroid"
        assert shape(shapes[row["code"]]).contains(c), f"{lab['name']}: not inside {lab['city']}"


# ------------------------------------------------------------------ coverage

def test_counts():
    data = demo()
    assert len(data["projects"]) >= 55
    assert len(data["organisations"]) >= 25
    assert len(data["living_labs"]) >= 12
    assert len(data["solutions"]) >= 10
    assert 5 <= len(data["coalitions"]) <= 6


def test_g5_and_g40_coverage():
    per_city = Counter(p["city"] for p in demo()["projects"])
    for city in G5:
        assert per_city[city] >= 5, f"{city}: {per_city[city]} projects"
    g40 = set(networks()["G40"])
    assert len(g40 & set(per_city)) >= 10
    orgs = demo()["organisations"]
    municipal = {o["city"] for o in orgs if o["kind"] == "municipality"}
    assert set(G5) <= municipal and len(municipal & g40) >= 3
    assert any(o["kind"] == "government" and "Binnenlandse Zaken" in o["name"] for o in orgs)
    assert any(o["kind"] == "knowledge_institution" for o in orgs)


def test_projects_reflect_city_specialisations():
    """Each lead role from the 2017 strategy has at least one project on that theme in that city."""
    specs = json.loads(_package_text("stadslab.network", "reference/specialisations.json"))
    themes_by_city: dict[str, set] = {}
    for p in demo()["projects"]:
        themes_by_city.setdefault(p["city"], set()).update(p["themes"])
    for s in specs:
        assert s["theme"] in themes_by_city.get(s["city"], set()), (s["city"], s["theme"])
        for partner in s["partners"]:
            assert partner in themes_by_city, f"{partner} shares {s['city']}'s specialisation but has no projects"


def test_replication_graph_has_multipliers_and_failures():
    data = demo()
    per_solution = Counter(a["solution"] for a in data["adoptions"])
    assert sum(1 for n in per_solution.values() if n >= 2) >= 3
    assert any(3 <= n <= 6 for n in per_solution.values())
    assert any(per_solution[s["name"]] <= 1 for s in data["solutions"]), "no single-city solution"
    abandoned = [a for a in data["adoptions"] if a["status"] == "abandoned"]
    assert len(abandoned) >= 2
    statuses = Counter(p["status"] for p in data["projects"])
    assert set(statuses) == PROJECT_STATUSES, statuses


# ------------------------------------------------------------------ preconditions and city facts

def test_city_facts_name_real_municipalities_and_known_facts():
    from stadslab.network.models import CITY_FACTS

    facts = json.loads(_package_text("stadslab.network", "reference/city_facts.json"))["facts"]
    names = {row["name"] for row in csv.DictReader(
        _package_text("stadslab.network", "reference/municipalities.csv").splitlines())}
    assert set(facts) == set(CITY_FACTS)
    for fact, cities in facts.items():
        assert set(cities) <= names, (fact, set(cities) - names)
        assert len(cities) == len(set(cities)), fact


def test_demo_solutions_are_only_where_their_preconditions_hold():
    """Origin and every adopting city of a solution have what it needs (the shore-power kiosk: an inland port)."""
    from stadslab.network.models import CITY_FACTS

    facts = json.loads(_package_text("stadslab.network", "reference/city_facts.json"))["facts"]
    has = {fact: set(cities) for fact, cities in facts.items()}
    data = demo()
    city_of = {p["key"]: p["city"] for p in data["projects"]}
    solutions = {s["name"]: s for s in data["solutions"]}
    assert solutions["Walstroomkast voor binnenvaart"]["preconditions"] == ["inland_port"]
    for s in data["solutions"]:
        assert set(s["preconditions"]) <= set(CITY_FACTS), s["name"]
        cities = {city_of[s["origin_project"]]} | {a["city"] for a in data["adoptions"] if a["solution"] == s["name"]}
        for need in s["preconditions"]:
            assert cities <= has[need], (s["name"], need, cities - has[need])
