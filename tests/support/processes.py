"""Real processes for tests and benchmarks: free loopback ports, server processes, brokers.

The ops, federation, MQTT and durability tests and the benchmarks all start a server or a
Mosquitto of their own; they find a port, start the process, wait until it answers and stop
it the same way, here. Every wait has an upper bound that only guards against hanging: no
test asserts on how long a process took.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

#: Mosquitto's dynamic-security plugin as Debian installs it.
DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


def free_port() -> int:
    """A loopback port nothing listens on right now (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], object], timeout: float = 60.0, interval: float = 0.1):
    """Polls ``check()`` until it returns something truthy, and returns that (or the last falsy value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def stop(proc: subprocess.Popen | None, timeout: float = 20.0, *, group: bool = False) -> None:
    """SIGTERM, and SIGKILL (the whole process group with ``group``) if it has not ended within ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()


def kill_group(proc: subprocess.Popen | None) -> None:
    """SIGKILL a process started with ``start_new_session``, with its children: a crash, no shutdown."""
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


# --- the server ---------------------------------------------------------------------------------

def stadslab_command(port: int, *, workers: int | None = None) -> list[str]:
    """``stadslab serve`` on ``port`` (the console script next to this interpreter)."""
    cmd = [str(Path(sys.executable).with_name("stadslab")), "serve", "--port", str(port)]
    return cmd + ["--workers", str(workers)] if workers is not None else cmd


def uvicorn_command(port: int, *, workers: int = 1, access_log: bool = True) -> list[str]:
    """The app factory under uvicorn directly (no migration at start, unlike ``stadslab serve``)."""
    return [sys.executable, "-m", "uvicorn", "stadslab.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--log-level", "warning",
            *([] if access_log else ["--no-access-log"])]


def server_env(database_url: str, **settings) -> dict[str, str]:
    """This process's environment with the database and ``STADSLAB_<NAME>`` for each setting.

    A ``PROMETHEUS_MULTIPROC_DIR`` of the caller is dropped (a test that wants one passes it).
    """
    env = {**os.environ, "STADSLAB_DATABASE_URL": database_url}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update({f"STADSLAB_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def wait_for_http(url: str, proc: subprocess.Popen | None = None, *, timeout: float = 60.0,
                  ready: Callable[[httpx.Response], bool] = lambda r: r.status_code < 500,
                  describe: Callable[[], str] = lambda: "") -> None:
    """Polls ``url`` until ``ready`` holds; AssertionError when ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}: {describe()}")
        try:
            if ready(httpx.get(url, timeout=2)):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not come up: {describe()}")
        time.sleep(0.1)


@contextmanager
def running(cmd: Sequence[str], env: dict[str, str], ready_url: str, *, output: IO | int = subprocess.DEVNULL,
            timeout: float = 60.0, ready: Callable[[httpx.Response], bool] = lambda r: r.status_code < 500,
            describe: Callable[[], str] = lambda: "", **popen):
    """A process that is up (``ready_url`` answers as ``ready`` wants) inside the block and stopped after it.

    ``popen`` goes to ``subprocess.Popen`` (``cwd``, ``start_new_session``).
    """
    proc = subprocess.Popen(list(cmd), env=env, stdout=output, stderr=subprocess.STDOUT, **popen)
    try:
        wait_for_http(ready_url, proc, timeout=timeout, ready=ready, describe=describe)
        yield proc
    finally:
        stop(proc)


@contextmanager
def served(database_url: str, log_path: Path, workers: int = 1, *, ready_path: str = "/api/v1/health/live",
           timeout: float = 60.0, **settings):
    """Yields the base URL of ``stadslab serve`` with ``STADSLAB_<NAME>=value`` for each setting.

    The server's output goes to ``log_path`` (tests read its log lines from there).
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings.setdefault("log_level", "INFO")
    with open(log_path, "ab") as log, \
            running(stadslab_command(port, workers=workers), server_env(database_url, **settings),
                    base + ready_path, output=log, timeout=timeout,
                    describe=lambda: log_path.read_text(errors="replace")[-2000:]):
        yield base


# --- Mosquitto ----------------------------------------------------------------------------------

def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    return found if os.path.exists(found) else None


def dynamic_security_available() -> bool:
    return bool(mosquitto_binary() and shutil.which("mosquitto_ctrl") and os.path.exists(DYNSEC_PLUGIN))


def init_dynamic_security(directory: Path, admin: str, password: str) -> str:
    """``mosquitto_ctrl dynsec init`` in ``directory`` with an admin account; returns the broker config lines.

    Mosquitto started as root runs as the ``mosquitto`` user and rewrites the file on every
    change, so the directory and the file are opened up to it.
    """
    dynsec = directory / "dynamic-security.json"
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(dynsec), admin, password], check=True,
                   capture_output=True)
    os.chmod(directory, 0o777)
    os.chmod(dynsec, 0o666)
    return f"plugin {DYNSEC_PLUGIN}\nplugin_opt_config_file {dynsec}\n"


class Mosquitto:
    """A Mosquitto of our own on a free loopback port, anonymous clients allowed, no persistence.

    ``extra`` holds further config lines (log destinations, queue sizes, the dynamic-security plugin).
    """

    def __init__(self, workdir: Path, extra: str = ""):
        self.binary = mosquitto_binary() or "/usr/sbin/mosquitto"
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n" + extra)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        assert wait_until(lambda: listening(self.port), timeout), "mosquitto did not start"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


# --- a PostgreSQL hot standby -------------------------------------------------------------------

class PostgresStandby:
    """A hot standby of the local PostgreSQL in streaming replication, in a temporary directory.

    Made with ``pg_basebackup -R`` from the primary (which must allow replication connections
    from 127.0.0.1: ``.ci/run`` arranges it) and run as the ``postgres`` user on a free port.
    ``url(database)`` names a database on it; ``stop()``/``start()`` take it away and back.
    """

    def __init__(self, directory: Path, port: int, bin_dir: Path):
        self.directory = directory
        self.data = directory / "data"
        self.port = port
        self.bin = bin_dir

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D", str(self.data),
                               *args], capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        self._pg_ctl("-l", str(self.directory / "postgres.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "stop", check=False)

    def log(self) -> str:
        path = self.directory / "postgres.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def replay_lsn(self) -> str | None:
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-Atc",
                              "SELECT pg_last_wal_replay_lsn()"], capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or None


def _primary_setting(name: str, host: str, port: int) -> str:
    out = subprocess.run(["psql", "-h", host, "-p", str(port), "-U", "postgres", "-Atc", f"SHOW {name}"],
                         capture_output=True, text=True, check=True, timeout=30)
    return out.stdout.strip()


@contextmanager
def postgres_standby(primary_host: str = "127.0.0.1", primary_port: int = 5432):
    """Yields a running ``PostgresStandby`` of the primary; stopped and removed afterwards."""
    import tempfile

    version = _primary_setting("server_version_num", primary_host, primary_port)[:2]
    bin_dir = Path(f"/usr/lib/postgresql/{version}/bin")
    directory = Path(tempfile.mkdtemp(prefix="stadslab-standby-"))
    shutil.chown(directory, "postgres", "postgres")
    directory.chmod(0o700)
    standby = PostgresStandby(directory, free_port(), bin_dir)
    try:
        subprocess.run(["runuser", "-u", "postgres", "--", str(bin_dir / "pg_basebackup"), "-h", primary_host,
                        "-p", str(primary_port), "-U", "postgres", "-D", str(standby.data), "-R", "-X", "stream",
                        "-c", "fast"], capture_output=True, text=True, check=True, timeout=300)
        # Debian keeps the primary's configuration outside its data directory: the standby gets its own.
        # Settings a hot standby must not have below the primary's are copied from the primary.
        same = {name: _primary_setting(name, primary_host, primary_port)
                for name in ("max_connections", "max_worker_processes", "max_wal_senders",
                             "max_prepared_transactions", "max_locks_per_transaction")}
        conf = [f"port = {standby.port}", "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{directory}'", "hot_standby = on", "hot_standby_feedback = on",
                "shared_buffers = 32MB", "fsync = off", "wal_receiver_status_interval = 1s",
                *(f"{k} = {v}" for k, v in same.items())]
        (standby.data / "postgresql.conf").write_text("\n".join(conf) + "\n")
        (standby.data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        for path in (standby.data / "postgresql.conf", standby.data / "pg_hba.conf"):
            shutil.chown(path, "postgres", "postgres")
        standby.start()
        yield standby
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"the standby did not start: {exc.cmd[4:6]} {exc.stderr}\n{standby.log()}") from exc
    finally:
        standby.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
