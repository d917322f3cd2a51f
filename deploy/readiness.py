"""Wait until every API replica is healthy and Nginx answers /ready, or say why that never happened.

A configuration that cannot start is a result, not a crash: a replica that the
OOM killer hit, that exited or restarted (crash loop), that its healthcheck
declared unhealthy, or that is still not healthy at the deadline ends the wait
with the reason in words.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.models.containers import Container

from deploy.containers import OomWatch, gunicorn_workers, last_log_lines, replica_name, service_containers
from deploy.matrix import Configuration
from stack.http import answers
from stack.wait import wait_until

POLL_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 2.0
# How Compose words a failure in its output: "Error response from daemon: No such image: ...",
# "unable to get image ...", "invalid project name ...".
COMPOSE_ERROR_LINE = re.compile(r"\berror\b|\bunable\b|\binvalid\b|\bfailed\b", re.IGNORECASE)


@dataclass(frozen=True)
class Readiness:
    """How the wait ended: ready (reason empty) or not (reason says why), and after how long;
    ``compose_failed`` when Compose itself failed (an image or engine problem, not the configuration's)."""

    ready: bool
    reason: str
    elapsed_s: float
    compose_failed: bool = False


def wait_ready(client: docker.DockerClient, project: str, configuration: Configuration, up: subprocess.Popen,
               compose_log: Path, ready_url: str, oom_watch: OomWatch, timeout_s: float,
               on_wait: Callable[[float, str], None] = lambda elapsed_s, state: None) -> Readiness:
    """Poll the containers and Nginx (``wait_until``, every POLL_INTERVAL_S) until ready, a failure, or
    ``timeout_s``; stop ``up`` when giving up.

    ``up`` is the running ``docker compose up -d``; ``oom_watch`` has followed
    the OOM events since before it started; ``on_wait`` is called with the
    elapsed seconds and a one-line state for progress output after each poll
    that did not end the wait.
    """
    started = time.monotonic()
    # The newest poll: how it ended the wait (None: it did not), and each API container with its state.
    newest: list[tuple[Readiness | None, list[tuple[Container, str]]]] = []

    def ended() -> bool:
        elapsed_s = time.monotonic() - started
        readiness, seen = _poll(client, project, configuration, up, compose_log, ready_url, oom_watch, elapsed_s)
        newest[:] = [(readiness, seen)]
        if readiness is None:
            on_wait(elapsed_s, f"{sum(state == 'healthy' for _, state in seen)}/{configuration.replicas} replicas healthy")
        return readiness is not None

    try:
        wait_until(ended, timeout_s, POLL_INTERVAL_S)
        readiness, seen = newest[0]
        if readiness is not None:
            return readiness
        detail = ", ".join(f"{replica_name(container)} {state}" for container, state in seen) or "no API container"
        return Readiness(False, f"not ready after {timeout_s:.0f} s ({detail}; {_nginx_answer(ready_url)})",
                         time.monotonic() - started)
    finally:
        if up.poll() is None:
            up.terminate()
            try:
                up.wait(10)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()


def _poll(client: docker.DockerClient, project: str, configuration: Configuration, up: subprocess.Popen,
          compose_log: Path, ready_url: str, oom_watch: OomWatch,
          elapsed_s: float) -> tuple[Readiness | None, list[tuple[Container, str]]]:
    """One look at a start ``elapsed_s`` seconds old: the Readiness that ends the wait (ready, or failed for
    good), else None; and each API container with its health (``_health``) when the look got that far."""
    failure = _failure(client, project, configuration, oom_watch)
    if failure:
        return Readiness(False, failure, elapsed_s), []
    exit_code = up.poll()
    if exit_code not in (None, 0):
        return Readiness(False, f"docker compose up failed (exit {exit_code}): {compose_error(compose_log)}",
                         elapsed_s, compose_failed=True), []
    containers = service_containers(client, project)
    if exit_code == 0 and not containers:
        # `up --detach` returns once it created and started every container: none now means
        # it failed, whatever its exit code said (some Compose wrappers always exit 0).
        return Readiness(False, f"docker compose up started no API container: {compose_error(compose_log)}",
                         elapsed_s, compose_failed=True), []
    seen = [(container, _health(container)) for container in containers]
    healthy = sum(state == "healthy" for _, state in seen)
    if exit_code == 0 and healthy == configuration.replicas and answers(ready_url):
        return Readiness(True, "", elapsed_s), seen
    return None, seen


def unhealthy_replicas(containers: list) -> tuple[str, ...]:
    """Every replica of ``containers`` that is not healthy now, in words: ("api-2 unhealthy", "api-1 exited")."""
    states = ((replica_name(container), _health(container)) for container in containers)
    return tuple(f"{name} {state}" for name, state in states if state != "healthy")


def _health(container) -> str:
    """The container's health status; "running" when the image has no healthcheck, else Docker's status."""
    container.reload()
    state = container.attrs.get("State", {})
    if state.get("Health"):
        return state["Health"].get("Status", "starting")
    return "healthy" if state.get("Status") == "running" else state.get("Status", "unknown")


def _failure(client: docker.DockerClient, project: str, configuration: Configuration, oom_watch: OomWatch) -> str | None:
    """Why the start has already failed, or None while it may still succeed."""
    containers = service_containers(client, project)
    kills = oom_watch.kills(containers)
    if kills:
        workers = {gunicorn_workers(container) for container in containers} - {None}
        workers_text = f"{max(workers)} worker(s) + master, " if workers else ""
        return f"OOM-killed {kills} time(s) while starting ({workers_text}{configuration.memory} limit per replica)"
    for container in containers:
        container.reload()
        state = container.attrs.get("State", {})
        restarts = int(container.attrs.get("RestartCount", 0))
        if restarts:
            return (f"{replica_name(container)} restarted {restarts} time(s) while starting "
                    f"(last exit code {state.get('ExitCode')}): {last_log_lines(container)}")
        if state.get("Status") in ("exited", "dead"):
            return (f"{replica_name(container)} exited with code {state.get('ExitCode')} while starting: "
                    f"{last_log_lines(container)}")
        health = state.get("Health") or {}
        if health.get("Status") == "unhealthy":
            probes = health.get("Log") or [{}]
            output = str(probes[-1].get("Output", "")).strip().replace("\n", " ")[:200]
            return f"{replica_name(container)} unhealthy: {output or 'healthcheck failed'}"
    return None


def _nginx_answer(url: str) -> str:
    """What Nginx says to ``url``, for a failure reason: "Nginx answered /ready with HTTP 502 bad_gateway"."""
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as response:
            return f"Nginx answered /ready with HTTP {response.status}"
    except urllib.error.HTTPError as error:
        try:
            code = json.loads(error.read()).get("error", {}).get("code", "")
        except (ValueError, AttributeError, OSError):
            code = ""
        return f"Nginx answered /ready with HTTP {error.code} {code}".rstrip()
    except (urllib.error.URLError, OSError) as error:
        return f"Nginx did not answer /ready: {getattr(error, 'reason', error)}"


def compose_error(path: Path, lines: int = 3) -> str:
    """Compose's own words for a failure in its output at ``path``: the last line that reads like an error
    (Compose prints the daemon's answer twice, on the container's line and alone), else its last ``lines`` lines."""
    try:
        text = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    errors = [line for line in text if COMPOSE_ERROR_LINE.search(line)]
    if errors:
        return errors[-1]
    return " / ".join(text[-lines:]) or "no output"
