"""Run the benchmark app under the production Gunicorn settings, pinned to chosen CPUs.

The server is ``gunicorn -c service/gunicorn.conf.py "bench.wsgi:create_bench_app()"``:
the production configuration file, with the app that adds ``/bench/ceiling``;
or ``gunicorn -c bench/bare_gunicorn.conf.py``, the bare Flask reference under
the same worker settings (``BARE``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.bare import BARE_ROUTE
from stack.wait import wait_until

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
    metrics_dir: Path  # PROMETHEUS_MULTIPROC_DIR, removed when the server stops

    def log_lines(self) -> list[str]:
        """Everything Gunicorn and the app have logged so far."""
        return self.log_path.read_text().splitlines()

    def worker_pids(self) -> set[int]:
        """The master's worker processes."""
        return {child.pid for child in psutil.Process(self.process.pid).children()}

    def gunicorn_settings(self) -> dict[str, Any] | None:
        """How Gunicorn runs the service, from its ``/ready`` (``workers``, ``worker_class``, ``threads``);
        None while it is not ready, or for an app without ``/ready``."""
        try:
            with urllib.request.urlopen(f"{self.url}{READY_PATH}", timeout=5) as response:
                return json.loads(response.read()).get("gunicorn")
        except (OSError, ValueError):
            return None

    def ready(self, path: str, workers: int | None = None) -> bool:
        """Whether ``path`` answers a GET with 200 and every worker runs: ``workers`` of them, or as many as
        ``/ready`` says when None."""
        if workers is None:
            settings = self.gunicorn_settings()
            if settings is None:
                return False
            workers = settings["workers"]
        if len(self.worker_pids()) != workers:
            return False
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

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
        settings = self.gunicorn_settings()
        if settings is None:
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
# The service exactly as deployed: the configuration file's own app, service:create_app().
PRODUCTION = App(SERVICE_CONFIG, None, READY_PATH)
BARE = App("bench/bare_gunicorn.conf.py", None, BARE_ROUTE)


@contextmanager
def gunicorn(
    log_path: Path, *, cpus: str | None = None, workers: int | None = None, worker_class: str | None = None,
    threads: int | None = None, model_dir: Path | None = None, app: App = SERVICE, env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Start Gunicorn serving ``app`` on a free 127.0.0.1 port, on the CPUs ``cpus``
    (``taskset -c`` syntax; None: anywhere), wait until every worker runs and its
    ready path answers 200, yield it, then stop it (SIGTERM, SIGKILL after 15 s).

    ``workers`` None lets the service size itself from the CPUs it may use (an app
    with ``/ready`` only: its answer says how many workers to wait for);
    ``worker_class`` and ``threads`` left None keep the configuration file's
    defaults. ``env`` adds environment variables (e.g. ``MAX_BATCH_SIZE``); the
    caller's own Gunicorn settings never leak in. Raises ``ServerError`` with the
    log's tail when Gunicorn exits or is not ready within 60 s.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    metrics_dir = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    environment = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    for variable in ("WEB_CONCURRENCY", "GUNICORN_WORKER_CLASS", "GUNICORN_THREADS"):
        environment.pop(variable, None)
    for variable, value in (("WEB_CONCURRENCY", workers), ("GUNICORN_WORKER_CLASS", worker_class),
                            ("GUNICORN_THREADS", threads), ("MODEL_DIR", model_dir)):
        if value is not None:
            environment[variable] = str(value)
    environment.update(env or {})
    command = [str(GUNICORN), "-c", app.config, *([app.app] if app.app else [])]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    server = Server(url=url, process=process, log_path=log_path, cores=[], metrics_dir=metrics_dir)

    def up() -> bool:
        if process.poll() is not None:
            raise ServerError(f"Gunicorn exited with {process.returncode}:\n{_tail(log_path)}")
        return server.ready(app.ready_path, workers)

    try:
        if not wait_until(up, START_TIMEOUT_S):
            raise ServerError(f"Gunicorn ({worker_class or 'default class'}, {workers or 'default'} worker(s)) "
                              f"did not become ready within {START_TIMEOUT_S:g} s:\n{_tail(log_path)}")
        server.cores.extend(sorted(psutil.Process(process.pid).cpu_affinity()))
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _tail(log_path: Path, lines: int = 15) -> str:
    return "\n".join(log_path.read_text().splitlines()[-lines:])
