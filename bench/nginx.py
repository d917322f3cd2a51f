"""The proxy's cost: ``/predict`` through the compose stack, Nginx in front of one api replica at 1.0 CPU,
against the same replica reached directly.

Starts ``compose.yaml`` under a project name and image tag of its own, so it
never touches a stack or image anyone else runs, and removes both afterwards,
whatever happened. Returns ``{"skipped": reason}`` when Docker, Compose or
``compose.yaml`` is missing, or the stack does not come up.

Each run also records the CPU the Nginx and api containers' processes used
(seen from the host, as the engine runs them on this kernel; where it runs them
in a VM, as Docker Desktop does, the figures are left out), so Nginx's own CPU
per request and the stack's requests per CPU second can be set against the replica's own.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from bench.direct import Settings, interleaved
from bench.load import run_max
from bench.server import ROOT, free_port
from stack.compose import API_PORT, NGINX_PORT, Compose, StackError, environment, unavailable_reason
from stack.http import answers
from stack.processes import container_processes
from stack.wait import wait_until

Progress = Callable[[str], None]
COMPOSE_FILE = ROOT / "compose.yaml"
# Building the image from scratch downloads the wheels; with Docker's layer cache it takes seconds.
UP_TIMEOUT_S = 240.0
READY_TIMEOUT_S = 30.0
DOWN_TIMEOUT_S = 120.0
CONNECTIONS = 8


DEFAULT_PROJECT_PREFIX = "api-inference-bench"


def cpu_s(processes: list[psutil.Process]) -> float | None:
    """CPU seconds (user + system) ``processes`` used so far, or None when there are none or one is gone."""
    if not processes:
        return None
    try:
        return sum(sum(process.cpu_times()[:2]) for process in processes)
    except psutil.Error:
        return None


def port_proxy_processes(port: str) -> list[psutil.Process]:
    """Docker's userland port proxies (``docker-proxy``) that forward the host's ``port``, or []
    (an engine with the userland proxy off, or in a VM)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "docker-proxy" and "-host-port" in cmdline and port in cmdline:
            found.append(process)
    return found


def _run(url: str, path: str, body: Path | None, settings: Settings,
         watched: dict[str, list[psutil.Process]]) -> dict[str, Any]:
    """One full-speed run, with ``<name>_cpu_fraction`` (CPU s per wall s) for each ``watched`` process group."""
    before = {name: cpu_s(processes) for name, processes in watched.items()}
    started = time.perf_counter()
    run = run_max(url, path, body_file=body, duration_s=settings.run_s, connections=CONNECTIONS,
                  cpu=settings.generator_cpu).as_dict()
    wall_s = time.perf_counter() - started
    for name, processes in watched.items():
        after = cpu_s(processes)
        run[f"{name}_cpu_fraction"] = (after - before[name]) / wall_s if after is not None and before[name] is not None else None
    return run


def measure(body: Path, model_dir: Path, settings: Settings, progress: Progress,
            project_prefix: str = DEFAULT_PROJECT_PREFIX, replica_cpus: str | None = None,
            proxy_cpus: str | None = None) -> dict[str, Any]:
    """Run ``/predict`` (POST ``body``) through Nginx and straight to its one replica, which
    serves the artifact in ``model_dir``, and
    ``GET /health`` through Nginx, in ``settings.rounds`` interleaved rounds
    (``bench.direct.interleaved``) of ``settings.round_s`` each, as Compose project
    ``<project_prefix>-<pid>-<time>`` with the image tag ``api-inference:<the project
    name less a leading "api-inference-">``.

    The same client path for both: the containers' own addresses on the stack's
    network, as a client on another machine reaches a published port (the kernel
    forwards it), when they answer from here. Through the published port as well
    (``published``): a client on this host goes through Docker's userland proxy
    there. Where the containers' addresses do not answer (an engine in a VM), only
    the published port is measured and there is no ``replica`` run.

    Returns run dicts under ``predict``, ``health``, and, when measured, ``replica`` and
    ``published`` (run i of each from round i), each with ``nginx_cpu_fraction``,
    ``api_cpu_fraction`` and ``port_proxy_cpu_fraction``; ``client_path``; ``pinned`` (where the
    containers ran); or ``{"skipped": reason}``.

    With ``replica_cpus`` and ``proxy_cpus`` (``taskset`` lists), the replica keeps its
    1.0 CPU quota on the server's core, as direct Gunicorn has it, and Nginx runs beside
    the generator: neither then takes the other's core, whatever the host's scheduler would do.
    """
    reason = unavailable_reason(COMPOSE_FILE)
    if reason:
        return {"skipped": reason}
    project = f"{project_prefix}-{os.getpid()}-{int(time.time())}"
    image = f"api-inference:{project.removeprefix('api-inference-')}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The replica serves the artifact the rest of the bench measures, mounted (compose.yaml's API_MODEL_DIR).
    stack = Compose(project, ROOT, environment(port=port, replicas=1, cpus=1.0, image=image, model_dir=model_dir),
                    files=(COMPOSE_FILE,))
    try:
        progress(f"  docker compose up --build --wait (project {stack.project}; at most {UP_TIMEOUT_S:.0f} s)")
        try:
            stack.run("up", "--detach", "--build", "--wait", "nginx", timeout_s=UP_TIMEOUT_S)
            if not wait_until(lambda: answers(f"{url}/ready"), READY_TIMEOUT_S, interval_s=0.5):
                return {"skipped": f"Nginx did not answer /ready within {READY_TIMEOUT_S:.0f} s"}
        except subprocess.TimeoutExpired:
            return {"skipped": f"the stack was not up within {UP_TIMEOUT_S:.0f} s (build the image once with `make build`)"}
        except StackError as exc:
            return {"skipped": str(exc)}
        except OSError as exc:
            return {"skipped": f"docker compose could not run: {exc}"}
        pinned = {}
        if replica_cpus is not None and proxy_cpus is not None:
            pinned = {service: cpus for service, cpus in (("api", replica_cpus), ("nginx", proxy_cpus)) if stack.pin(service, cpus)}
        watched = {name: container_processes(stack, name) for name in ("nginx", "api")}
        watched["port_proxy"] = port_proxy_processes(str(port))
        addresses = {"nginx": stack.container_url("nginx", NGINX_PORT), "api": stack.container_url("api", API_PORT)}
        urls = {name: address for name, address in addresses.items() if address}
        bridged = len(urls) == 2 and all(answers(f"{url}/ready") for url in urls.values())
        if bridged:
            paths = {"replica": (urls["api"], "/predict", body), "predict": (urls["nginx"], "/predict", body),
                     "published": (url, "/predict", body), "health": (urls["nginx"], "/health", None)}
            client_path = "the containers' addresses on the stack's network"
        else:
            paths = {"predict": (url, "/predict", body), "health": (url, "/health", None)}
            client_path = "the published port"
        progress(f"  client path: {client_path}" + ("; and Nginx through the published port" if bridged else "")
                 + "".join(f"; {service} on CPU {cpus}" for service, cpus in pinned.items()))
        warm_up = Settings(1.0, 1, 0.0, settings.generator_cpu)
        for name in ("replica", "predict"):
            if name in paths:
                _run(*paths[name], warm_up, watched)  # warm-up, discarded
        results: dict[str, Any] = {name: [] for name in paths}
        results["client_path"] = client_path
        results["pinned"] = pinned
        round_settings = replace(settings, run_s=settings.round_s)
        for number, name in interleaved(list(paths), settings.rounds):
            url, path, request_body = paths[name]
            run = _run(url, path, request_body, round_settings, watched)
            results[name].append(run)
            cpu = ", ".join(f"{group} CPU {run[f'{group}_cpu_fraction']:.0%}" for group in watched
                            if run[f"{group}_cpu_fraction"] is not None)
            progress(f"  {name} {path} round {number}/{settings.rounds}: {run['requests_per_s']:,.0f} req/s, "
                     f"p99 {run['p99_ms']:.2f} ms, generator CPU {run['generator_cpu_fraction']:.0%}"
                     + (f", {cpu}" if cpu else "")
                     + (f", errors {run['error_kinds'] or run['errors']}" if run["errors"] else ""))
        return results
    finally:
        with contextlib.suppress(StackError):  # nothing left to remove, or nothing more to do about it
            stack.down(grace_s=5, timeout_s=DOWN_TIMEOUT_S)
        subprocess.run(["docker", "image", "rm", "--force", image], capture_output=True, timeout=DOWN_TIMEOUT_S)
