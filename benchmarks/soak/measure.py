"""What the soak runner measures around the load: CPU and memory of the processes, the broker, the database.

Samples are taken with psutil from outside the server, so the server runs exactly as
deployed. CPU % is per process (100 % = one core busy), summed over the group.
"""

from __future__ import annotations

import csv
import os
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
import psutil
from sqlalchemy import text


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class CpuGroup:
    """CPU % of a changing set of processes between two calls of ``sample``."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def sample(self, pids: list[int]) -> float:
        total = 0.0
        for pid in pids:
            proc = self._procs.get(pid)
            try:
                if proc is None:
                    proc = self._procs[pid] = psutil.Process(pid)
                    proc.cpu_percent(None)  # first call primes the counter
                    continue
                total += proc.cpu_percent(None)
            except psutil.NoSuchProcess:
                self._procs.pop(pid, None)
        return total


def rss_mib(procs: list[psutil.Process]) -> float:
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


@dataclass
class Sample:
    t: float
    server_cpu: float
    server_rss: float
    worker_rss: list[float]
    pg_cpu: float
    locust_cpu: float
    broker_cpu: float
    system_cpu: float
    load1: float
    max_id: int
    notifications: int


@dataclass
class Sampler:
    """Every ``interval`` s until stopped: CPU/RSS of the server tree, our PostgreSQL backends,
    locust and mosquitto, system CPU, load average, the highest Observation id."""

    engine: object
    #: the server's pid, or the pids of several nodes (their trees are summed)
    server_pid: int | list[int]
    database: str
    interval: float = 10.0
    counter: "NotificationCounter | None" = None
    locust_pid: int | None = None
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._cpu = {k: CpuGroup() for k in ("server", "pg", "locust", "broker")}
        self._broker = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "mosquitto"]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.monotonic()

    def _pg_pids(self, conn) -> list[int]:
        return list(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                                 {"d": self.database}).scalars())

    def _take(self, conn, prime: bool = False) -> None:
        pids = self.server_pid if isinstance(self.server_pid, list) else [self.server_pid]
        procs = [p for pid in pids for p in tree(pid)]
        server_cpu = self._cpu["server"].sample([p.pid for p in procs])
        pg_cpu = self._cpu["pg"].sample(self._pg_pids(conn))
        locust_cpu = self._cpu["locust"].sample([p.pid for p in tree(self.locust_pid)] if self.locust_pid else [])
        broker_cpu = self._cpu["broker"].sample(self._broker)
        system = psutil.cpu_percent(None)
        if prime:
            return
        max_id = conn.execute(text("SELECT coalesce(max(id), 0) FROM sta_observations")).scalar_one()
        self.samples.append(Sample(round(time.monotonic() - self.t0, 1), server_cpu, rss_mib(procs),
                                   [round(rss_mib([p]), 1) for p in procs[1:]], pg_cpu, locust_cpu, broker_cpu,
                                   system * psutil.cpu_count(), os.getloadavg()[0], max_id,
                                   self.counter.count if self.counter else 0))

    def _run(self) -> None:
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            self._take(conn, prime=True)
            while not self._stop.wait(self.interval):
                self._take(conn)

    def start(self) -> "Sampler":
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join(30)
        return self.samples


class NotificationCounter:
    """Counts the Observation notifications the server publishes (``<prefix>/Observations``)."""

    def __init__(self, url: str, prefix: str = "v1.1") -> None:
        host, _, port = url.split("://", 1)[1].partition(":")
        self.count = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"soak-{os.getpid()}")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/Observations", qos=0)
        self.client.connect(host, int(port or 1883))
        self.client.loop_start()

    def _on_message(self, *_):
        self.count += 1

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def read_locust_stats(prefix: str) -> dict[str, dict]:
    """``<prefix>_stats.csv`` → {name: {count, failures, rps, p50, p95, p99, mean}} (ms)."""
    out = {}
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            def num(key: str) -> float:
                value = row.get(key) or "0"
                return float(value) if value not in ("N/A", "") else 0.0
            out[row["Name"]] = {"count": int(num("Request Count")), "failures": int(num("Failure Count")),
                                "rps": num("Requests/s"), "p50": num("50%"), "p95": num("95%"),
                                "p99": num("99%"), "mean": num("Average Response Time")}
    return out


def failures(prefix: str) -> list[str]:
    try:
        with open(f"{prefix}_failures.csv", newline="", encoding="utf-8") as f:
            return [f"{r['Name']}: {r['Occurrences']}x {r['Error'][:160]}" for r in csv.DictReader(f)]
    except OSError:
        return []


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y)."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (y - my) for t, y in points) / den if den else 0.0


def sizes(conn) -> dict[str, float]:
    """Bytes on disk of the Observations table (heap, TOAST, indexes) and per stored row."""
    rows = conn.execute(text("SELECT count(*) FROM sta_observations")).scalar_one()
    # Partitioned since migration 0012: the parent holds nothing, its partitions everything.
    parts = "SELECT relid FROM pg_partition_tree('sta_observations') WHERE isleaf"
    total, heap, indexes, db = (int(v) for v in conn.execute(text(
        f"SELECT coalesce(sum(pg_total_relation_size(relid)), 0), coalesce(sum(pg_relation_size(relid)), 0), "
        f"coalesce(sum(pg_indexes_size(relid)), 0), pg_database_size(current_database()) FROM ({parts}) p")).one())
    index_list = conn.execute(text(
        "SELECT coalesce(pi.inhparent::regclass::text, i.indexrelid::regclass::text), sum(pg_relation_size(i.indexrelid)) "
        f"FROM pg_index i LEFT JOIN pg_inherits pi ON pi.inhrelid = i.indexrelid WHERE i.indrelid IN ({parts}) "
        "GROUP BY 1 ORDER BY 2 DESC")).all()
    return {"rows": rows, "total": total, "heap": heap, "indexes": indexes, "database": db,
            "bytes_per_row": total / rows if rows else 0.0,
            "index_sizes": {name: int(size) for name, size in index_list}}
