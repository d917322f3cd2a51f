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

import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from bench.direct import Settings, interleaved
from bench.load import run_max
from bench.server import ROOT, free_port
from bench.wait import wait_until
from deploy.pinning import pin_containers

Progress = Callable[[str], None]
COMPOSE_FILE = ROOT / "compose.yaml"
# Building the image from scratch downloads the wheels; with Docker's layer cache it takes seconds.
UP_TIMEOUT_S = 240.0
READY_TIMEOUT_S = 30.0
DOWN_TIMEOUT_S = 120.0
CONNECTIONS = 8


DEFAULT_PROJECT_PREFIX = "api-inference-bench"
# Compose's rule for a project name (lower-case letters, digits, dashes and underscores).
PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True)
class Stack:
    """A compose project of our own: its name, image tag, published URL and the artifact it serves."""

    project: str
    image: str
    url: str
    model_dir: Path

    def command(self, *args: str) -> list[str]:
        return ["docker", "compose", "--project-name", self.project, "--file", str(COMPOSE_FILE), *args]

    def environment(self) -> dict[str, str]:
        port = self.url.rsplit(":", 1)[1]
        # The replica serves the artifact the rest of the bench measures, mounted (compose.yaml's API_MODEL_DIR).
        return {**os.environ, "PORT": port, "IMAGE": self.image, "API_REPLICAS": "1", "API_CPUS": "1.0",
                "API_MODEL_DIR": str(self.model_dir.resolve())}


def unavailable_reason() -> str | None:
    """Why the stack cannot run here, or None when it can."""
    if not COMPOSE_FILE.is_file():
        return f"{COMPOSE_FILE.name} not found"
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    for probe, what in ((["docker", "info", "--format", "{{.ServerVersion}}"], "no Docker engine answers"),
                        (["docker", "compose", "version"], "Docker Compose v2 is not installed")):
        try:
            if subprocess.run(probe, capture_output=True, timeout=20).returncode != 0:
                return what
        except subprocess.TimeoutExpired:
            return f"{what} (`{' '.join(probe[:2])}` timed out)"
    return None


def _tail(process_error: subprocess.CalledProcessError) -> str:
    output = (process_error.stderr or b"").decode(errors="replace").strip().splitlines()
    return " | ".join(output[-3:]) or f"exit status {process_error.returncode}"


def container_processes(stack: Stack, service: str) -> list[psutil.Process]:
    """The host's view of the processes in ``service``'s containers, or [] when the
    engine's processes are not visible here (an engine in a VM)."""
    environment = stack.environment()
    ids = subprocess.run(stack.command("ps", "--quiet", service), cwd=ROOT, env=environment, capture_output=True,
                         text=True, timeout=30).stdout.split()
    if not ids:
        return []
    pids = subprocess.run(["docker", "inspect", "--format", "{{.State.Pid}}", *ids], capture_output=True, text=True,
                          timeout=30).stdout.split()
    processes: list[psutil.Process] = []
    try:
        for pid in map(int, pids):
            root = psutil.Process(pid)
            processes += [root, *root.children(recursive=True)]
    except (ValueError, psutil.Error):
        return []
    return processes


def cpu_s(processes: list[psutil.Process]) -> float | None:
    """CPU seconds (user + system) ``processes`` used so far, or None when there are none or one is gone."""
    if not processes:
        return None
    try:
        return sum(sum(process.cpu_times()[:2]) for process in processes)
    except psutil.Error:
        return None


def container_address(stack: Stack, service: str) -> str | None:
    """The address of ``service``'s first container on the stack's network, or None."""
    ids = subprocess.run(stack.command("ps", "--quiet", service), cwd=ROOT, env=stack.environment(), capture_output=True,
                         text=True, timeout=30).stdout.split()
    if not ids:
        return None
    addresses = subprocess.run(["docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                                ids[0]], capture_output=True, text=True, timeout=30).stdout.split()
    return addresses[0] if addresses else None


def answers(url: str) -> bool:
    """Whether ``url``/ready answers 200 from here within 2 s."""
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


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


def pin(stack: Stack, service: str, cpus: str) -> bool:
    """Move ``service``'s running containers onto the host CPUs ``cpus`` (``docker update
    --cpuset-cpus``, which leaves the CPU quota as it was); whether the engine did."""
    ids = subprocess.run(stack.command("ps", "--quiet", service), cwd=ROOT, env=stack.environment(), capture_output=True,
                         text=True, timeout=30).stdout.split()
    return pin_containers(ids, cpus)


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
    reason = unavailable_reason()
    if reason:
        return {"skipped": reason}
    project = f"{project_prefix}-{os.getpid()}-{int(time.time())}"
    stack = Stack(project=project, image=f"api-inference:{project.removeprefix('api-inference-')}",
                  url=f"http://127.0.0.1:{free_port()}", model_dir=model_dir)
    environment = stack.environment()
    try:
        progress(f"  docker compose up --build --wait (project {stack.project}; at most {UP_TIMEOUT_S:.0f} s)")
        try:
            subprocess.run(stack.command("up", "--detach", "--build", "--wait", "nginx"), cwd=ROOT, env=environment,
                           capture_output=True, timeout=UP_TIMEOUT_S, check=True)
            if not wait_until(lambda: answers(stack.url), READY_TIMEOUT_S, interval_s=0.5):
                return {"skipped": f"Nginx did not answer /ready within {READY_TIMEOUT_S:.0f} s"}
        except subprocess.TimeoutExpired:
            return {"skipped": f"the stack was not up within {UP_TIMEOUT_S:.0f} s (build the image once with `make build`)"}
        except subprocess.CalledProcessError as exc:
            return {"skipped": f"docker compose up failed: {_tail(exc)}"}
        except OSError as exc:
            return {"skipped": f"docker compose could not run: {exc}"}
        pinned = {}
        if replica_cpus is not None and proxy_cpus is not None:
            pinned = {service: cpus for service, cpus in (("api", replica_cpus), ("nginx", proxy_cpus)) if pin(stack, service, cpus)}
        watched = {name: container_processes(stack, name) for name in ("nginx", "api")}
        watched["port_proxy"] = port_proxy_processes(stack.url.rsplit(":", 1)[1])
        addresses = {name: container_address(stack, name) for name in ("nginx", "api")}
        urls = {name: f"http://{address}:8000" for name, address in addresses.items() if address}
        bridged = len(urls) == 2 and all(answers(url) for url in urls.values())
        if bridged:
            paths = {"replica": (urls["api"], "/predict", body), "predict": (urls["nginx"], "/predict", body),
                     "published": (stack.url, "/predict", body), "health": (urls["nginx"], "/health", None)}
            client_path = "the containers' addresses on the stack's network"
        else:
            paths = {"predict": (stack.url, "/predict", body), "health": (stack.url, "/health", None)}
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
        subprocess.run(stack.command("down", "--volumes", "--remove-orphans", "--timeout", "5"), cwd=ROOT,
                       env=environment, capture_output=True, timeout=DOWN_TIMEOUT_S)
        subprocess.run(["docker", "image", "rm", "--force", stack.image], capture_output=True, timeout=DOWN_TIMEOUT_S)
