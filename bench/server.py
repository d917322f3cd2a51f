"""Run the benchmark app under the production Gunicorn settings, pinned to chosen CPUs.

The server is ``gunicorn -c service/gunicorn.conf.py "bench.wsgi:create_bench_app()"``:
the production configuration file, with the app that adds ``/bench/ceiling``;
or ``gunicorn -c bench/bare_gunicorn.conf.py``, the bare Flask reference under
the same worker settings (``BARE``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.bare import BARE_ROUTE

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
SERVICE_CONFIG = "service/gunicorn.conf.py"
BENCH_APP = "bench.wsgi:create_bench_app()"
READY_PATH = "/ready"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class ServerError(RuntimeError):
    """Gunicorn did not come up; the message carries the end of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def busy_s(cores: list[int]) -> float:
    """Seconds the kernel counts ``cores`` as busy since boot, whoever ran: user, nice,
    system, interrupts, and steal (time the hypervisor gave to another machine)."""
    per_cpu = psutil.cpu_times(percpu=True)
    return sum(
        t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)
        for t in (per_cpu[core] for core in cores)
    )


@dataclass
class Server:
    """A running Gunicorn: its URL, master process, and the cores it may run on."""

    url: str
    process: subprocess.Popen
    log_path: Path
    cores: list[int]

    def processes(self) -> list[psutil.Process]:
        """The master and its workers."""
        master = psutil.Process(self.process.pid)
        return [master, *master.children(recursive=True)]

    def cpu_s(self) -> float:
        """CPU seconds (user + system) used so far by the master and its workers."""
        total = 0.0
        for process in self.processes():
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def announcement(self) -> str | None:
        """How Gunicorn runs the service, from its ``/ready``: e.g. ``1 gthread worker(s) x 1 thread(s)``;
        None when the app does not say (the bare app has no ``/ready``)."""
        try:
            with urllib.request.urlopen(f"{self.url}{READY_PATH}", timeout=5) as response:
                settings = json.loads(response.read())["gunicorn"]
        except (OSError, ValueError, KeyError):
            return None
        return f"{settings['workers']} {settings['worker_class']} worker(s) x {settings['threads']} thread(s)"

    def log_size(self) -> int:
        """Bytes Gunicorn has written to its log so far: where the next run's lines will start."""
        return self.log_path.stat().st_size

    def access_latencies_ms(self, path: str, since: int) -> list[float]:
        """``latency_ms`` of each access-log line for ``path`` written after byte ``since``.

        Gunicorn's own measure, from the request parsed to the response sent
        (its ``D`` atom, service/logs.py), so it leaves out the network, the
        client, and any wait before the worker picked the request up.
        """
        with self.log_path.open("rb") as log:
            log.seek(since)
            lines = log.read().splitlines()
        latencies = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("path") == path and isinstance(entry.get("latency_ms"), (int, float)):
                latencies.append(float(entry["latency_ms"]))
        return latencies

    def pss_bytes(self) -> int:
        """Proportional set size of master plus workers: pages shared after the fork count once in all."""
        return sum(process.memory_full_info().pss for process in self.processes())


@dataclass(frozen=True)
class App:
    """What Gunicorn serves: its configuration file, the app (None: the file's
    ``wsgi_app``) and the path that answers a GET with 200 once it is ready."""

    config: str
    app: str | None
    ready_path: str


SERVICE = App(SERVICE_CONFIG, BENCH_APP, READY_PATH)
BARE = App("bench/bare_gunicorn.conf.py", None, BARE_ROUTE)


def ready(url: str, workers: int, process: subprocess.Popen, path: str = READY_PATH) -> bool:
    """Whether Gunicorn runs ``workers`` workers under ``process`` and ``path`` answers a GET with 200."""
    if len(psutil.Process(process.pid).children()) != workers:
        return False
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def gunicorn(
    log_path: Path, *, cpus: str | None, workers: int, worker_class: str | None = None, threads: int | None = None,
    model_dir: Path | None = None, app: App = SERVICE,
) -> Iterator[Server]:
    """Start Gunicorn serving ``app`` on a free 127.0.0.1 port, on the CPUs ``cpus``
    (``taskset -c`` syntax; None: anywhere), wait until every worker runs and its
    ready path answers 200, yield it, then stop it (SIGTERM, SIGKILL after 15 s).
    ``worker_class`` and ``threads`` left None keep the configuration file's defaults.

    Raises ``ServerError`` with the log's tail when it is not ready within 60 s.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    metrics_dir = tempfile.mkdtemp(prefix="bench-metrics-")
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
    }
    for variable in ("GUNICORN_WORKER_CLASS", "GUNICORN_THREADS"):
        env.pop(variable, None)
    if worker_class is not None:
        env["GUNICORN_WORKER_CLASS"] = worker_class
    if threads is not None:
        env["GUNICORN_THREADS"] = str(threads)
    if model_dir is not None:
        env["MODEL_DIR"] = str(model_dir)
    command = [str(GUNICORN), "-c", app.config, *([app.app] if app.app else [])]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready(url, workers, process, app.ready_path):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text().splitlines()[-15:])
                raise ServerError(f"Gunicorn ({worker_class or 'default class'}, {workers} worker(s)) did not become ready:\n{tail}")
            time.sleep(0.2)
        cores = sorted(psutil.Process(process.pid).cpu_affinity())
        yield Server(url=url, process=process, log_path=log_path, cores=cores)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for name in os.listdir(metrics_dir):
            os.remove(os.path.join(metrics_dir, name))
        os.rmdir(metrics_dir)
