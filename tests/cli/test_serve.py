"""`stadslab serve` migrates an empty database and answers on the health endpoint."""

import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_migrates_and_serves(tmp_path):
    port = _free_port()
    db_path = tmp_path / "fresh.db"
    env = {"STADSLAB_DATABASE_URL": f"sqlite:///{db_path}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "stadslab.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                body = r.json()
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert body is not None, proc.stdout.read1().decode() if proc.poll() is not None else "no answer"
        assert body["database"] == "sqlite"
        # the schema was brought up to date on start: the registry answers
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/projects", timeout=5)
        assert r.status_code == 200 and r.json()["total"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert db_path.exists()


def test_every_command_has_help():
    from typer.testing import CliRunner

    from stadslab.cli import app

    runner = CliRunner()
    for cmd in ([], ["serve"], ["db", "upgrade"], ["seed"], ["demo"], ["search"], ["import"], ["export"]):
        r = runner.invoke(app, [*cmd, "--help"])
        assert r.exit_code == 0, (cmd, r.output)
        assert "Usage" in r.output
