"""Real Stadslab nodes for federation tests: one uvicorn process per node, own SQLite file.

Each node's database is a copy of one migrated, reference-seeded template, with an
administrator and an API token created through the governance services before the
server starts. Processes run in their own process group and are always killed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import update

from stadslab.core.auth import SYSTEM
from stadslab.core.database import Database
from stadslab.core.migrate import upgrade
from stadslab.governance import service as governance
from stadslab.network.reference import load_reference
from tests.support.processes import free_port, kill_group, uvicorn_command, wait_for_http

STARTUP_DEADLINE = 60.0


def make_template(path: Path) -> Path:
    url = f"sqlite:///{path}"
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        load_reference(s)
    db.dispose()
    return path


class Node:
    def __init__(self, name: str, tmp: Path, template: Path, *, env: dict[str, str] | None = None):
        self.name = name
        self.db_path = tmp / f"{name}.db"
        shutil.copy(template, self.db_path)
        self.database_url = f"sqlite:///{self.db_path}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"{name}.log"
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        db = Database(self.database_url)
        with db.session() as s:
            user = governance.create_user(s, SYSTEM, email=f"admin@{name.lower()}.example.org", role="admin")
            _, self.token = governance.create_token(s, SYSTEM, name="federation tests", user_id=user.id,
                                                    scopes=["admin", "registry:write"])
        db.dispose()

    def env(self) -> dict[str, str]:
        return {**os.environ, "STADSLAB_DATABASE_URL": self.database_url, "STADSLAB_NODE_NAME": self.name,
                "STADSLAB_COOKIE_SECURE": "false", "STADSLAB_WRITE_RATE_PER_MINUTE": "0",
                "STADSLAB_SECRET_KEY": f"secret-of-{self.name}", **self.extra_env}

    def start(self) -> "Node":
        return self.launch().wait_ready()

    def launch(self) -> "Node":
        """Starts the process without waiting (start several nodes, then wait for each)."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(uvicorn_command(self.port), env=self.env(), stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def wait_ready(self) -> "Node":
        try:
            wait_for_http(f"{self.base_url}/api/v1/themes", self.proc, timeout=STARTUP_DEADLINE,
                          ready=lambda r: r.status_code == 200,
                          describe=lambda: f"node {self.name}: {self.log_path.read_text()[-2000:]}")
        except AssertionError as failed:
            self.kill()
            raise RuntimeError(str(failed)) from None
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: no graceful shutdown, like a crashed server."""
        kill_group(self.proc)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, timeout=15, **kwargs)

    def create(self, kind: str, body: dict) -> dict:
        r = self.request("POST", f"/api/v1/{kind}", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def patch(self, kind: str, item_id: int, body: dict) -> dict:
        r = self.request("PATCH", f"/api/v1/{kind}/{item_id}", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def set_updated_at(self, model, item_id: int, when: datetime) -> None:
        """Stamps an item as a peer with a wrong clock would (straight into its database)."""
        db = Database(self.database_url)
        with db.engine.begin() as conn:
            conn.execute(update(model.__table__).where(model.__table__.c.id == item_id).values(updated_at=when))
        db.dispose()
