"""Single Observation POSTs from concurrent clients against a real server (``--workers`` processes).

Each request is ``POST /sta/v1.1/Datastreams(<id>)/Observations`` with a small
JSON body, rotating over ``--streams`` Datastreams (one Thing each). The load
generator runs in its own process: ``wrk`` (Debian package ``wrk``) with a Lua
script when it is installed, otherwise Python threads (one httpx client each)
in a child process. Baselines measured in the same run:

* ``raw``: the same number of client threads inserting one row per transaction
  straight through the driver (the database's own ceiling for single-row commits);
* ``root``: ``GET /sta/v1.1`` on the same server (the framework's ceiling,
  no database work);
* ``alone``: the same POSTs to a server with ``STADSLAB_STA_GROUP_COMMIT=false``,
  each stored in its own transaction (what the group commit gains).

    .venv/bin/python -m benchmarks.sta_post --seconds 20 --connections 8 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

import httpx
from sqlalchemy import text

from benchmarks.common import fresh_database, machine
from benchmarks.sta_common import STA, bench_token, server, thing_body

LUA = """
local ids = {%(ids)s}
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "%(auth)s"
wrk.body = '{"result": 21.5}'
request = function()
  n = n + 1
  return wrk.format(nil, "%(sta)s/Datastreams(" .. ids[(n %% #ids) + 1] .. ")/Observations")
end
"""


def make_streams(base: str, auth: dict, n: int) -> list[int]:
    ids = []
    with httpx.Client(base_url=base, timeout=60, headers=auth) as http:
        for i in range(n):
            r = http.post(f"{STA}/Things", json=thing_body(name=f"post bench {i}", lon=4 + i * 0.01))
            r.raise_for_status()
            ds = http.get(f"{STA}/Things({r.json()['@iot.id']})/Datastreams").json()["value"][0]["@iot.id"]
            ids.append(ds)
    return ids


def parse_wrk(out: str) -> dict:
    def seconds(value: str, unit: str) -> float:
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    lat_s = {k: seconds(*re.match(r"([\d.]+)(\w+)", v).groups()) for k, v in lat.items()}
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rate": rate, "total": total, "bad": int(non2xx.group(1)) if non2xx else 0,
            "p50": lat_s.get("50"), "p99": lat_s.get("99"), "socket_errors": errors.group(1) if errors else ""}


def run_wrk(base: str, auth: dict, path_ids: list[int] | None, seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        if path_ids is not None:
            f.write(LUA % {"ids": ", ".join(map(str, path_ids)), "sta": STA, "auth": auth["Authorization"]})
        script = f.name
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s"]
    if path_ids is not None:
        cmd += ["-s", script]
    else:
        cmd += ["-H", f"Authorization: {auth['Authorization']}"]
    out = subprocess.run([*cmd, base + (STA if path_ids is None else "")], capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    os.unlink(script)
    return parse_wrk(out)


PY_CLIENT = r"""
import json, sys, threading, time, httpx
base, ids, seconds, conns, mode, token = (sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]),
                                          sys.argv[5], sys.argv[6])
lat, bad, lock = [], [0], threading.Lock()
deadline = time.monotonic() + seconds
def work(k):
    with httpx.Client(base_url=base, timeout=10, headers={"Authorization": token}) as c:
        n = k
        while time.monotonic() < deadline:
            t = time.perf_counter()
            if mode == "post":
                r = c.post(f"/sta/v1.1/Datastreams({ids[n % len(ids)]})/Observations", content=b'{"result": 21.5}',
                           headers={"content-type": "application/json"})
            else:
                r = c.get("/sta/v1.1")
            d = time.perf_counter() - t
            with lock:
                lat.append(d)
                bad[0] += r.status_code >= 300
            n += 1
threads = [threading.Thread(target=work, args=(k,)) for k in range(conns)]
start = time.monotonic()
[t.start() for t in threads]; [t.join() for t in threads]
el = time.monotonic() - start
lat.sort()
print(json.dumps({"rate": len(lat) / el, "total": len(lat), "bad": bad[0], "p50": lat[len(lat) // 2],
                  "p99": lat[int(len(lat) * 0.99)], "socket_errors": ""}))
"""


def run_python(base: str, auth: dict, path_ids: list[int] | None, seconds: int, connections: int) -> dict:
    out = subprocess.run([sys.executable, "-c", PY_CLIENT, base, json.dumps(path_ids or []), str(seconds),
                          str(connections), "post" if path_ids is not None else "get", auth["Authorization"]],
                         capture_output=True, text=True, timeout=seconds + 60)
    return json.loads(out.stdout)


def raw_inserts(db, ds: int, foi: int, seconds: int, connections: int) -> float:
    """``connections`` threads, one single-row INSERT + COMMIT after the other, through the driver."""
    done = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    now = datetime.now(timezone.utc)
    stamp = now if db.dialect == "postgresql" else now.replace(tzinfo=None).isoformat(" ", "microseconds")
    mark = "%s" if db.dialect == "postgresql" else "?"
    sql = (f"INSERT INTO sta_observations (datastream_id, feature_of_interest_id, phenomenon_time_start, result, "
           f"result_number) VALUES ({mark}, {mark}, {mark}, '21.5', 21.5)")

    def work():
        n = 0
        with db.engine.connect() as conn:
            raw = conn.connection.driver_connection
            while time.monotonic() < deadline:
                cur = raw.cursor()
                cur.execute(sql, (ds, foi, stamp))
                raw.commit()
                n += 1
        with lock:
            done[0] += n

    threads = [threading.Thread(target=work) for _ in range(connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / (time.monotonic() - start)


def run(dialect: str, seconds: int, connections: int, workers: int, streams: int) -> None:
    load = run_wrk if shutil.which("wrk") else run_python
    tool = "wrk" if load is run_wrk else "python threads"
    with fresh_database(dialect, "stadslab_bench_post") as db:
        auth = bench_token(db)
        with server(db.url, workers=workers) as (base, _proc):
            ids = make_streams(base, auth, streams)
            load(base, auth, ids, 2, connections)  # warm-up: every worker has its connections and caches
            with db.engine.connect() as conn:
                before = conn.execute(text("SELECT count(*) FROM sta_observations")).scalar()
            post = load(base, auth, ids, seconds, connections)
            with db.engine.connect() as conn:
                stored = conn.execute(text("SELECT count(*) FROM sta_observations")).scalar() - before
                foi = conn.execute(text("SELECT min(feature_of_interest_id) FROM sta_observations")).scalar()
            root = load(base, auth, None, max(5, seconds // 2), connections)
        with server(db.url, workers=workers, STADSLAB_STA_GROUP_COMMIT="false") as (base, _proc):
            load(base, auth, ids, 2, connections)
            alone = load(base, auth, ids, seconds, connections)
        raw = raw_inserts(db, ids[0], foi, max(5, seconds // 2), connections)
        good = post["total"] - post["bad"]
        print(f"{dialect:10s} {connections} clients ({tool}), {workers} workers: POST Observation "
              f"{post['rate']:7.0f} req/s (p50 {post['p50'] * 1000:.1f} ms, p99 {post['p99'] * 1000:.1f} ms, "
              f"non-2xx {post['bad']}, {good} answered in the window, {stored} stored) | GET service root {root['rate']:7.0f} req/s"
              f" | each POST its own transaction (STADSLAB_STA_GROUP_COMMIT=false) {alone['rate']:7.0f} req/s "
              f"(p50 {alone['p50'] * 1000:.1f} ms, non-2xx {alone['bad']})"
              f" | raw single-row INSERT+COMMIT ({connections} threads) {raw:7.0f} rows/s | ratio POST/raw "
              f"{post['rate'] / raw:.2f}, POST/root {post['rate'] / root['rate']:.2f}, "
              f"group commit/alone {post['rate'] / alone['rate']:.2f}", flush=True)
        if post["socket_errors"]:
            print(f"  socket errors: {post['socket_errors']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--pg", default=os.environ.get("STADSLAB_TEST_POSTGRES_URL"))
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    seconds = max(3, min(args.seconds, 300))
    connections = max(1, min(args.connections, 64))
    workers = max(1, min(args.workers, 8))
    streams = max(1, min(args.streams, 64))
    print(machine())
    if args.dialect in ("sqlite", "both"):
        run("sqlite", seconds, connections, workers, streams)
    if args.dialect in ("postgresql", "both"):
        if not args.pg:
            print("postgresql skipped (set STADSLAB_TEST_POSTGRES_URL or --pg)")
            return
        import benchmarks.common as common
        common.PG_ADMIN = args.pg
        run("postgresql", seconds, connections, workers, streams)


if __name__ == "__main__":
    main()
