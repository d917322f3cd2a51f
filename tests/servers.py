"""Start a real Gunicorn running the service on a free localhost port, for tests."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests

from bench.server import GUNICORN, ROOT, free_port

START_TIMEOUT_S = 30.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path
    metrics_dir: Path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()

    def gunicorn_settings(self) -> dict[str, Any] | None:
        """How Gunicorn runs the app, from ``/ready`` (workers, worker_class, threads); None while not ready."""
        try:
            response = requests.get(f"{self.url}/ready", timeout=2)
        except requests.RequestException:
            return None
        return response.json().get("gunicorn") if response.status_code == 200 else None

    def worker_pids(self) -> set[int]:
        return {child.pid for child in psutil.Process(self.process.pid).children()}

    def _up(self) -> bool:
        settings = self.gunicorn_settings()
        return settings is not None and len(self.worker_pids()) == settings["workers"]


@contextmanager
def gunicorn(model_dir: Path, tmp_path: Path, prefix: list[str] | None = None, **env: str) -> Iterator[Server]:
    """Run ``gunicorn -c service/gunicorn.conf.py`` until every worker is up and ``/ready``
    answers 200; stop it (SIGTERM, then SIGKILL) on exit.

    ``env`` adds environment variables (e.g. ``WEB_CONCURRENCY="2"``); ``prefix``
    goes before the command (e.g. ``["taskset", "-c", "0"]``). Raises
    ``RuntimeError`` with the server's log if it is not ready within 30 s.
    """
    port = free_port()
    log_path = tmp_path / f"gunicorn-{port}.log"
    metrics_dir = tmp_path / f"metrics-{port}"
    environ = {
        **os.environ,
        "MODEL_DIR": str(model_dir),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        **env,
    }
    command = [*(prefix or []), str(GUNICORN), "-c", "service/gunicorn.conf.py"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, metrics_dir=metrics_dir)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()}")
            if server._up():
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn not ready after {START_TIMEOUT_S} s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
