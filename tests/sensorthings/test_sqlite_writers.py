"""Issue #18, SQLite only: concurrent writers wait for the write lock (``BEGIN IMMEDIATE`` with the
busy timeout) instead of failing with "database is locked" (a 503 before). A request that reads
before it writes (context, visibility, stream bounds) would otherwise find its snapshot stale
when another writer committed in between, and SQLite cannot upgrade it: it fails at once."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from stadslab.app import create_app
from stadslab.core.config import Settings
from tests.governance.factories import auth_headers, make_token, make_user

from .helpers import STA, new_thing

WRITERS = 6
ROUNDS = 12


def test_concurrent_writers_wait_instead_of_failing(sqlite_db):
    with sqlite_db.session() as s:
        headers = auth_headers(make_token(s, make_user(s, "admin")))
    # no group commit: every POST takes the general path that reads before it writes
    app = create_app(Settings(database_url=sqlite_db.url, sta_group_commit=False), db=sqlite_db)
    with TestClient(app, headers=headers) as client:
        ids = [new_thing(client, n_obs=0) for _ in range(WRITERS)]
        start = threading.Barrier(WRITERS, timeout=60)
        statuses: list[tuple[int, str]] = []
        lock = threading.Lock()

        def writer(n: int) -> None:
            start.wait()
            for k in range(ROUNDS):
                mine = ids[n]
                if k % 2:  # $batch: a savepoint opens the transaction, then reads, then writes
                    r = client.post(f"{STA}/$batch", json={"requests": [
                        {"id": "a", "method": "patch", "url": f"Things({mine['thing']})",
                         "body": {"description": f"round {k}"}},
                        {"id": "b", "method": "post", "url": f"Datastreams({mine['datastream']})/Observations",
                         "body": {"result": k, "phenomenonTime": f"2024-04-01T{k:02d}:00:00Z"}}]})
                    if r.status_code == 200:
                        for sub in r.json()["responses"]:
                            with lock:
                                statuses.append((sub["status"], str(sub.get("body"))[:200]))
                else:
                    r = client.post(f"{STA}/CreateObservations", json=[{
                        "Datastream": {"@iot.id": mine["datastream"]}, "components": ["phenomenonTime", "result"],
                        "dataArray": [[f"2024-03-01T{k:02d}:{m:02d}:00Z", m] for m in range(20)]}])
                with lock:
                    statuses.append((r.status_code, r.text[:200]))

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        failed = [s for s in statuses if s[0] >= 300]
        assert len(statuses) == WRITERS * ROUNDS // 2 * 4  # CreateObservations; $batch and its two
        assert not failed, failed[:3]
        for mine in ids:
            count = client.get(f"{STA}/Datastreams({mine['datastream']})/Observations",
                               params={"$count": "true", "$top": "0"}).json()["@iot.count"]
            assert count == ROUNDS // 2 * 21
