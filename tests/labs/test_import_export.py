"""Import and export of the registry: round trip, all-or-nothing, CLI."""

import io
import json

import pytest
from typer.testing import CliRunner

from stadslab.cli import app as cli_app
from stadslab.core.config import get_settings
from stadslab.labs.transfer import ImportFailed, import_file, write_export
from tests.factories import create, lab_payload, organisation_payload, project_payload, solution_payload


def _write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n")
    return path


def test_export_then_import_round_trip(admin_client, db, tmp_path):
    lab = create(admin_client, "living-labs", lab_payload())
    org = create(admin_client, "organisations", organisation_payload())
    p = create(admin_client, "projects", project_payload(living_lab_id=lab["id"],
                                                   partners=[{"organisation_id": org["id"], "role": "lead"}]))
    s = create(admin_client, "solutions", solution_payload(origin_project_id=p["id"]))
    create(admin_client, "adoptions", {"solution_id": s["id"], "city": "GM0363", "project_id": p["id"]})
    buf = io.StringIO()
    with db.session() as session:
        n = write_export(session, buf)
    assert n == 5
    records = [json.loads(line) for line in buf.getvalue().splitlines()]
    # rename the unique names so the same file imports next to the originals
    for r in records:
        for key in ("name", "title"):
            if key in r:
                r[key] += " (kopie)"
    path = _write(tmp_path, "export.jsonl", records)
    with db.session() as session:
        report = import_file(session, path)
    # the copied adoption repeats (solution copy, Amsterdam): a new pair, so it imports too
    assert report.counts == {"organisation": 1, "living_lab": 1, "project": 1, "solution": 1, "adoption": 1,
                             "coalition": 0}
    copy = admin_client.get("/api/v1/projects", params={"q": "(kopie)"}).json()["items"][0]
    # references inside the file point at the imported copies, not the originals
    assert copy["living_lab"]["name"] == lab["name"] + " (kopie)"
    assert copy["partners"][0]["organisation"]["name"] == org["name"] + " (kopie)"
    assert copy["kpis"] == [{**k, "id": copy["kpis"][0]["id"]} for k in p["kpis"]]


def test_import_is_all_or_nothing_with_line_numbers(db, tmp_path, admin_client):
    good = {"type": "project", **project_payload()}
    path = _write(tmp_path, "bad.jsonl", [good, {"type": "project", **project_payload(city="GM9999")},
                                          '{"type": "project", "title": ', {"type": "spaceship"}])
    with db.session() as session, pytest.raises(ImportFailed) as exc:
        import_file(session, path)
    errors = exc.value.report.errors
    assert any(e.startswith("line 3: malformed JSON") for e in errors), errors
    assert any(e.startswith("line 4: unknown type") for e in errors), errors
    assert admin_client.get("/api/v1/projects").json()["total"] == 0
    # the semantic check (unknown city) runs once the syntax is fine
    path = _write(tmp_path, "bad2.jsonl", [good, {"type": "project", **project_payload(city="GM9999")}])
    with db.session() as session, pytest.raises(ImportFailed) as exc:
        import_file(session, path)
    assert exc.value.report.errors == ["line 2: city: unknown municipality code 'GM9999'"]
    assert admin_client.get("/api/v1/projects").json()["total"] == 0


def test_csv_import(db, tmp_path, admin_client):
    path = tmp_path / "projects.csv"
    path.write_text("title,summary,city,themes,status,lessons\n"
                    "Slimme lantaarnpalen,Dimmen op aanwezigheid,GM0772,energy-transition;digital-infrastructure,"
                    "pilot,Meet vooraf;Betrek bewoners\n", encoding="utf-8")
    with db.session() as session:
        report = import_file(session, path)
    assert report.counts["project"] == 1
    p = admin_client.get("/api/v1/projects").json()["items"][0]
    assert {t["code"] for t in p["themes"]} == {"energy-transition", "digital-infrastructure"}
    assert p["lessons"] == ["Meet vooraf", "Betrek bewoners"]


def test_cli_import_export(db, tmp_path, monkeypatch):
    monkeypatch.setenv("STADSLAB_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        path = _write(tmp_path, "in.jsonl", [{"type": "project", **project_payload(title="CLI-project")}])
        r = runner.invoke(cli_app, ["import", str(path)])
        assert r.exit_code == 0, r.output
        out = tmp_path / "out.csv"
        r = runner.invoke(cli_app, ["export", "--format", "csv", "--type", "project", "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert "CLI-project" in out.read_text()
        bad = _write(tmp_path, "bad.jsonl", ['{"type": "project"'])
        r = runner.invoke(cli_app, ["import", str(bad)])
        assert r.exit_code == 1
        assert "Nothing was imported" in r.output
        r = runner.invoke(cli_app, ["export", "--format", "xml"])
        assert r.exit_code == 2
    finally:
        get_settings.cache_clear()
