"""Load and soak of one node: the national-scale ingest rate plus reads, then a stepped ramp to the ceiling.

Setup, all as an operator would do it: a fresh PostgreSQL database (dropped at the end),
``stadslab db upgrade``, ``stadslab demo --no-serve`` (reference + demo content), an admin account
and an API token through ``stadslab user add`` / ``stadslab token create``, then
``stadslab serve --workers 2`` as a real process with Mosquitto (``STADSLAB_MQTT_URL``), so that
every committed Observation is published as in production. ``--things`` Things with
``--streams`` Datastreams each are created over the STA API, and ``--history`` Observations per
Datastream (one a minute, up to now) are loaded with COPY so dashboards read real pages.

Baseline in the same run: the same kind of CreateObservations bodies (50..200 rows over many
Datastreams) posted one after another by one client vs COPY of the very same rows in the same
batches, one transaction each.

Soak: locust (``locustfile.py``) at a constant arrival rate of 1,700 Observations/s plus reads
(``plan.py``) for ``--duration`` s; every ``--interval`` s CPU and RSS of the server processes,
our PostgreSQL backends, locust and mosquitto, and the load average. Ramp: ``--step`` s at 1x, 2x,
4x, ... the whole mix until a step does not hold (stored obs/s < 95 % of the target, errors
>= 1 %, or a request type's p95 > ``--p95-limit`` ms), then one step halfway between.

    .venv/bin/python -m benchmarks.soak.run_soak --duration 600

Several nodes (issue #19): ``--nodes 2`` starts two ``stadslab serve`` nodes (``--workers`` each,
their own MQTT client ids and slot files) behind an nginx of the run's own; ``--standby`` makes a
hot standby of ``--pg`` with ``pg_basebackup`` that serves the anonymous reads. CPU is summed
over the nodes' process trees. The single-node and two-node figures side by side:

    .venv/bin/python -m benchmarks.soak.run_soak --duration 600 --out /tmp/soak-1
    .venv/bin/python -m benchmarks.soak.run_soak --duration 600 --nodes 2 --standby --out /tmp/soak-2
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.common import machine
from benchmarks.soak import plan
from benchmarks.soak.measure import NotificationCounter, Sampler
from benchmarks.soak.report import ramp_held, report_baseline, report_ramp_step, report_soak, report_sizes
from benchmarks.sta_common import STA, thing_body
from stadslab.core.database import normalise_url
from stadslab.sensorthings.write.bulk import encode
from tests.support.processes import free_port, postgres_standby, running, stadslab_command, stop, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLUMNS = ("datastream_id", "feature_of_interest_id", "phenomenon_time_start", "result", "result_number")


def cli(env: dict, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run([str(BIN / "stadslab"), *args], env=env, cwd=ROOT, input=stdin, capture_output=True,
                         text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"stadslab {' '.join(args)} failed: {out.stderr[-2000:]}")
    return out.stdout


@contextmanager
def database(admin_url: str, name: str):
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(admin_url)).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def serve(env: dict, workers: int, log_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w", encoding="utf-8") as log, \
            running(stadslab_command(port, workers=workers), env, f"{base}/api/v1/health/ready", output=log,
                    timeout=120, ready=lambda r: r.status_code == 200, cwd=ROOT,
                    describe=lambda: f"see {log_path}") as proc:
        yield base, proc


@contextmanager
def cluster(env: dict, args, out: Path, db_name: str):
    """``--nodes N`` nodes behind nginx (N > 1), with ``--standby`` a hot standby for anonymous reads:
    yields (base URL, the nodes' pids). One node without a standby is ``serve`` as before."""
    with ExitStack() as stack:
        if args.standby:
            standby = stack.enter_context(postgres_standby())
            env = {**env, "STADSLAB_DATABASE_READ_URLS": standby.url(db_name)}
            print(f"setup: hot standby on port {standby.port}", flush=True)
        nodes = []
        for n in range(args.nodes):
            node_env = {**env, "STADSLAB_MQTT_CLIENT_ID_BASE": f"soak-node-{n}",
                        "STADSLAB_MQTT_SLOT_DIR": str(out / f"slots-{n}")}
            nodes.append(stack.enter_context(serve(node_env, args.workers, out / f"server-{n}.log")))
        if args.nodes == 1:
            yield nodes[0][0], [nodes[0][1].pid]
            return
        port = free_port()
        upstream = "\n".join(f"server {base.split('://', 1)[1]} max_fails=3 fail_timeout=10s;" for base, _ in nodes)
        conf = out / "nginx.conf"
        conf.write_text(f"""
{'user root;' if os.geteuid() == 0 else ''}
worker_processes 1;
pid {out}/nginx.pid;
error_log {out}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {out}/body; proxy_temp_path {out}/proxy;
    fastcgi_temp_path {out}/fcgi; uwsgi_temp_path {out}/uwsgi; scgi_temp_path {out}/scgi;
    upstream stadslab {{ least_conn; {upstream} keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 60m;
        location / {{ proxy_pass http://stadslab; proxy_http_version 1.1; proxy_set_header Connection "";
                     proxy_set_header Host $http_host; }}
    }}
}}
""")
        nginx = subprocess.Popen(["/usr/sbin/nginx", "-c", str(conf), "-p", str(out), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(stop, nginx)
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/api/v1/health/live", nginx)
        print(f"setup: {args.nodes} nodes behind nginx at {base}", flush=True)
        yield base, [proc.pid for _, proc in nodes]


def make_things(http: httpx.Client, things: int, streams: int) -> list[int]:
    """Things spread over the Netherlands, ``streams`` Datastreams each; returns all Datastream ids."""
    for i in range(things):
        lon, lat = 3.4 + (i * 0.618 % 1) * 3.6, 50.8 + (i * 0.377 % 1) * 2.6
        r = http.post(f"{STA}/Things", json=thing_body(f"soak-{i}", lon, lat, streams))
        r.raise_for_status()
    ids: list[int] = []
    url = f"{STA}/Datastreams?$select=id&$top=1000&$filter=startswith(Thing/name,'soak-')"
    for _ in range(things * streams):  # bounded paging
        page = http.get(url).raise_for_status().json()
        ids += [d["@iot.id"] for d in page["value"]]
        url = page.get("@iot.nextLink")
        if not url:
            break
    return sorted(ids)


def copy_rows(engine, rows: list[tuple], batch: int) -> float:
    encoded = encode(rows, COLUMNS, "postgresql")
    cols = ", ".join(COLUMNS)
    start = time.perf_counter()
    for i in range(0, len(encoded), batch):
        with engine.begin() as conn:
            with conn.connection.driver_connection.cursor() as cur:
                with cur.copy(f"COPY sta_observations ({cols}) FROM STDIN") as copy:
                    for row in encoded[i:i + batch]:
                        copy.write_row(row)
    return time.perf_counter() - start


def seed_history(engine, fois: dict[int, int], per_stream: int) -> tuple[int, float]:
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    rows = [(ds, foi, now - timedelta(minutes=per_stream - j), v, v)
            for ds, foi in fois.items() for j in range(per_stream) for v in (15.0 + (j % 50) / 5,)]
    return len(rows), copy_rows(engine, rows, 10_000)


def baseline(http: httpx.Client, engine, datastreams: list[int], fois: dict[int, int], requests: int) -> dict:
    """Sequential CreateObservations of ``requests`` soak-like bodies vs COPY of the same rows, same batches."""
    bodies = [plan.bulk_items(datastreams) for _ in range(requests)]
    encoded = [orjson.dumps(b) for b in bodies]
    rows = sum(len(i["dataArray"]) for b in bodies for i in b)
    start = time.perf_counter()
    for body in encoded:
        r = http.post(f"{STA}/CreateObservations", content=body, headers={"content-type": "application/json"})
        r.raise_for_status()
        if b'"error"' in r.content:
            raise RuntimeError(f"rows rejected: {r.text[:300]}")
    http_s = time.perf_counter() - start
    copy_s = 0.0
    for b in bodies:
        batch = [(i["Datastream"]["@iot.id"], fois[i["Datastream"]["@iot.id"]],
                  datetime.fromisoformat(t.replace("Z", "+00:00")) - timedelta(days=400), v, v)
                 for i in b for t, v in i["dataArray"]]
        copy_s += copy_rows(engine, batch, len(batch))
    return {"rows": rows, "requests": requests, "http_obs_s": rows / http_s, "copy_obs_s": rows / copy_s}


def run_locust(base: str, cfg: dict, seconds: int, csv_prefix: Path, on_start=None) -> tuple[float, float, int]:
    """One headless locust run; returns (start, end) monotonic times and the locust pid."""
    cfg_path = csv_prefix.with_suffix(".json")
    cfg_path.write_text(json.dumps(cfg), encoding="utf-8")
    classes, total = [], 0
    for kind, rate in cfg["rates"].items():
        n, _ = plan.users(rate)
        if n:
            classes.append(plan.CLASSES[kind])
            total += n
    env = {**os.environ, "SOAK_CONFIG": str(cfg_path),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [str(BIN / "locust"), "-f", str(ROOT / "benchmarks/soak/locustfile.py"), "--headless", "-H", base,
           "-u", str(total), "-r", str(total), "-t", f"{seconds}s", "--csv", str(csv_prefix), "--only-summary",
           "--stop-timeout", "10", "--loglevel", "WARNING", *classes]
    with open(f"{csv_prefix}.log", "w", encoding="utf-8") as log:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        if on_start:
            on_start(proc.pid)
        try:
            proc.wait(timeout=seconds + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return start, time.monotonic(), proc.pid


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM sta_observations")).scalar_one()


def wal_lsn(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("STADSLAB_TEST_POSTGRES_URL",
                                                       "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--mqtt", default=os.environ.get("STADSLAB_TEST_MQTT_URL", "mqtt://127.0.0.1:1883"))
    parser.add_argument("--no-mqtt", action="store_true", help="serve without a broker (a comparison run)")
    parser.add_argument("--db", default="stadslab_soak")
    parser.add_argument("--duration", type=int, default=600, help="soak seconds")
    parser.add_argument("--interval", type=float, default=10.0, help="sampling interval, s")
    parser.add_argument("--things", type=int, default=500)
    parser.add_argument("--streams", type=int, default=2, help="Datastreams per Thing")
    parser.add_argument("--history", type=int, default=1000, help="seeded Observations per Datastream")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per node")
    parser.add_argument("--nodes", type=int, default=1, help="stadslab serve nodes (behind nginx when > 1)")
    parser.add_argument("--standby", action="store_true",
                        help="a hot standby of --pg (pg_basebackup) serves the anonymous reads")
    parser.add_argument("--step", type=int, default=60, help="seconds per ramp step; 0 = no ramp")
    parser.add_argument("--max-multiplier", type=float, default=32)
    parser.add_argument("--p95-limit", type=float, default=1000.0, help="ms; a ramp step fails above it")
    parser.add_argument("--unordered", action="store_true",
                        help="CreateObservations items in random Datastream order (deadlocks on PostgreSQL today)")
    parser.add_argument("--baseline-requests", type=int, default=100)
    parser.add_argument("--out", default=None, help="folder for locust CSVs, logs and results.json")
    args = parser.parse_args()
    args.duration = max(10, min(args.duration, 7200))
    out = Path(args.out or tempfile.mkdtemp(prefix="stadslab-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    import stadslab
    src = Path(stadslab.__file__).resolve().parents[1]
    # the server code measured: a snapshot (``git archive <commit> src`` on PYTHONPATH) names its commit
    # in SOAK_SOURCE_COMMIT; otherwise the work tree's HEAD (uncommitted edits there are measured too)
    commit = os.environ.get("SOAK_SOURCE_COMMIT") or subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    result: dict = {"machine": machine(), "commit": commit, "source": str(src), "nodes": args.nodes,
        "workers_per_node": args.workers, "standby": args.standby,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "load_before": os.getloadavg()}
    print(f"{result['machine']}; commit {result['commit']} (code in {src}); load average before "
          f"{' '.join(f'{x:.2f}' for x in result['load_before'])}; output in {out}", flush=True)

    with database(args.pg, args.db) as url:
        env = {**os.environ, "STADSLAB_DATABASE_URL": url, "STADSLAB_MQTT_URL": args.mqtt,
               "STADSLAB_SECRET_KEY": secrets.token_hex(16), "STADSLAB_MAX_BODY_BYTES": "50000000",
               # the whole load comes from one address; the per-client write limit is for real clients
               "STADSLAB_WRITE_RATE_PER_MINUTE": "0"}
        if args.no_mqtt:
            env.pop("STADSLAB_MQTT_URL")
        t = time.perf_counter()
        cli(env, "db", "upgrade")
        cli(env, "demo", "--no-serve")
        email = f"soak-{secrets.token_hex(3)}@example.org"
        cli(env, "user", "add", email, "--role", "admin", "--name", "Soak", "--no-password")
        token = cli(env, "token", "create", "--name", "soak", "--scope", "sta:write", "--user", email,
                    "--days", "1").strip().splitlines()[-1].strip()
        print(f"setup: upgrade + demo + account/token in {time.perf_counter() - t:.0f} s", flush=True)
        engine = create_engine(normalise_url(url), pool_size=2)
        with engine.connect() as conn:
            lab_ids = list(conn.execute(text("SELECT id FROM living_labs ORDER BY id LIMIT 50")).scalars())
        counter = NotificationCounter(args.mqtt)
        with cluster(env, args, out, args.db) as (base, pids), \
                httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as http:
            t = time.perf_counter()
            datastreams = make_things(http, args.things, args.streams)
            r = http.post(f"{STA}/CreateObservations", content=orjson.dumps(
                [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
                  "dataArray": [[plan.iso(datetime.now(timezone.utc) - timedelta(days=800)), 0.0]]}
                 for ds in datastreams]), headers={"content-type": "application/json"})
            r.raise_for_status()
            with engine.connect() as conn:
                fois = dict(conn.execute(text("SELECT datastream_id, min(feature_of_interest_id) "
                                              "FROM sta_observations GROUP BY datastream_id")).all())
            print(f"setup: {args.things} Things, {len(datastreams)} Datastreams in "
                  f"{time.perf_counter() - t:.0f} s", flush=True)
            if args.history > 0:
                n, copy_s = seed_history(engine, fois, args.history)
                result["history"] = {"rows": n, "copy_obs_s": n / copy_s}
                print(f"setup: {n:,} history rows by COPY (10,000 per transaction): {n / copy_s:,.0f} obs/s",
                      flush=True)
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
            if args.baseline_requests > 0:
                result["baseline"] = baseline(http, engine, datastreams, fois, args.baseline_requests)
                report_baseline(result["baseline"])

            cfg = {"token": token, "datastreams": datastreams, "lab_ids": lab_ids or [1], "ordered": not args.unordered}
            # --- soak
            sampler = Sampler(engine, pids, args.db, args.interval, counter)
            before, lsn0, notes0 = stored(engine), wal_lsn(engine), counter.count
            sampler.start()
            _start, _end, _ = run_locust(base, {**cfg, "rates": plan.rates(1)}, args.duration, out / "soak",
                                       on_start=lambda pid: setattr(sampler, "locust_pid", pid))
            samples = sampler.stop()
            after, lsn1 = stored(engine), wal_lsn(engine)
            settle = time.monotonic()
            for _ in range(120):  # notifications still queued in the server: wait until they stop coming
                seen = counter.count
                time.sleep(1)
                if counter.count == seen:
                    break
            result["notification_tail_s"] = round(time.monotonic() - settle, 1)
            result["soak"] = report_soak(out / "soak", samples, after - before, args.duration, lsn1 - lsn0,
                                         counter.count - notes0, plan.rates(1))
            print(f"  notifications kept arriving for {result['notification_tail_s']} s after the load stopped",
                  flush=True)
            # --- ramp
            steps: list[dict] = []
            if args.step > 0:
                m, held, broke = 1.0, None, None
                while 1 / 16 <= m <= args.max_multiplier:  # doubling from 1x; halving if 1x does not hold
                    steps.append(ramp_step(base, cfg, engine, pids, args, m, out))
                    if ramp_held(steps[-1], args.p95_limit):
                        held = m
                        if broke:
                            break
                        m *= 2
                    else:
                        broke = m
                        if held:
                            break
                        m /= 2
                if held and broke and broke / held > 1.3:
                    m = (held + broke) / 2
                    steps.append(ramp_step(base, cfg, engine, pids, args, m, out))
                    if ramp_held(steps[-1], args.p95_limit):
                        held = m
                result["ramp"] = {"steps": steps, "highest_held": held}
                print(f"ramp: highest multiplier that held: {held}x "
                      f"({(held or 0) * plan.OBS_RATE:,.0f} obs/s target)", flush=True)
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE sta_observations"))
                result["sizes"] = report_sizes(conn)
        counter.stop()
        engine.dispose()
    result["load_after"] = os.getloadavg()
    (out / "results.json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    print(f"load average after {' '.join(f'{x:.2f}' for x in result['load_after'])}; results in "
          f"{out / 'results.json'}", flush=True)


def ramp_step(base: str, cfg: dict, engine, server_pid: int | list[int], args, m: float, out: Path) -> dict:
    sampler = Sampler(engine, server_pid, args.db, min(args.interval, 10.0))
    before = stored(engine)
    sampler.start()
    run_locust(base, {**cfg, "rates": plan.rates(m)}, args.step, out / f"ramp_{m:g}x",
                               on_start=lambda pid: setattr(sampler, "locust_pid", pid))
    samples = sampler.stop()
    return report_ramp_step(out / f"ramp_{m:g}x", m, stored(engine) - before, args.step, samples)


if __name__ == "__main__":
    main()
