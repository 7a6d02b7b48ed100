"""`stadslab serve` migrates an empty database and answers on the health endpoint."""

import sys

import httpx

from tests.support.processes import free_port, running


def test_serve_migrates_and_serves(tmp_path):
    port = free_port()
    db_path = tmp_path / "fresh.db"
    env = {"STADSLAB_DATABASE_URL": f"sqlite:///{db_path}", "PATH": "/usr/bin:/bin"}
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log, \
            running([sys.executable, "-m", "stadslab.cli", "serve", "--port", str(port)], env,
                    f"http://127.0.0.1:{port}/api/v1/health", output=log, describe=log_path.read_text):
        body = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).json()
        assert body["database"] == "sqlite"
        # the schema was brought up to date on start: the registry answers
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/projects", timeout=5)
        assert r.status_code == 200 and r.json()["total"] == 0
    assert db_path.exists()


def test_every_command_has_help():
    from typer.testing import CliRunner

    from stadslab.cli import app

    runner = CliRunner()
    for cmd in ([], ["serve"], ["db", "upgrade"], ["seed"], ["demo"], ["search"], ["import"], ["export"]):
        r = runner.invoke(app, [*cmd, "--help"])
        assert r.exit_code == 0, (cmd, r.output)
        assert "Usage" in r.output


def test_demo_command_loads_everything_once(tmp_path, monkeypatch):
    """What `make demo` runs, minus serving: reference, registry, calendar, sensors and evaluations."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from stadslab.app import create_app
    from stadslab.cli import app as cli_app
    from stadslab.core.config import Settings, get_settings

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("STADSLAB_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(cli_app, ["demo", "--no-serve"])
        assert first.exit_code == 0, first.output
        assert "67 projects" in first.output.replace("\n", " ")
        # one account per role, with the development password, marked demo-only
        for email in ("beheer@demo.stadslab.example", "redacteur@utrecht.demo.stadslab.example",
                      "redacteur@voorbeeld-mobility.demo.stadslab.example", "loket@ienw.demo.stadslab.example",
                      "lid@utrecht.demo.stadslab.example"):
            assert email in first.output
        assert "DEMO ONLY" in first.output and "stadslab-demo-wachtwoord" in first.output
        again = runner.invoke(cli_app, ["demo", "--no-serve"])
        assert again.exit_code == 0 and "already present" in again.output
        with TestClient(create_app(Settings(database_url=url))) as client:
            assert client.get("/api/v1/municipalities").json()["total"] == 342
            projects = client.get("/api/v1/projects", params={"limit": 200}).json()
            assert projects["total"] >= 55 and all(p["is_demo"] for p in projects["items"])
            assert client.get("/sta/v1.1/Things", params={"$count": "true"}).json()["@iot.count"] > 0
            assert client.get("/api/v1/events").json()["total"] > 0
    finally:
        get_settings.cache_clear()
