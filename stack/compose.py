"""``docker compose`` for one project of the project's ``compose.yaml``: its name, environment, commands and containers.

``compose.yaml`` reads the stack's limits from the environment: ``API_REPLICAS``,
``API_CPUS``, ``API_MEMORY``, ``WEB_CONCURRENCY`` (unset lets the service size
itself from its CPU quota), ``PORT`` (Nginx on the host), ``IMAGE`` and
``API_MODEL_DIR`` (an artifact served instead of the image's own). The Compose CLI
runs as a subprocess under a project name of its own, so a stack started with a
plain ``docker compose up`` is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

# Compose's rule for project names ("Specify a project name", docs.docker.com/compose/project-name/).
PROJECT_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
PROJECT_VARIABLE = "COMPOSE_PROJECT_NAME"
DOWN_TIMEOUT_S = 120.0
# Seconds Compose gives containers to stop before killing them.
STOP_GRACE_S = 10
# Seconds a query of the engine (ps, inspect, update, info) may take.
QUERY_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 20.0
# The ports inside the containers: Nginx listens on 8000 (nginx/default.conf.template), and so does each API
# replica's Gunicorn (the image's PORT, Dockerfile).
NGINX_PORT = 8000
API_PORT = 8000


class StackError(RuntimeError):
    """A docker compose command failed; the message carries the end of its output."""


def check_project(project: str, root: Path) -> str:
    """``project`` when it is a Compose project name that may be taken down and up again.

    Raises ValueError when Compose would refuse it, or when it is the name of the
    stack a plain ``docker compose up`` in ``root`` starts (``COMPOSE_PROJECT_NAME``
    from the environment or ``root/.env``): an empty name would make Compose fall
    back to that very name, and a ``down --volumes`` would remove the user's stack.
    """
    if not PROJECT_PATTERN.fullmatch(project):
        raise ValueError(f"{project!r} is not a Compose project name: lowercase letters, digits, '-' and '_', "
                         "starting with a letter or digit")
    if project in stack_projects(root):
        raise ValueError(f"{project!r} is the project of the stack `docker compose up` starts here; "
                         f"the experiments take their project down and up again, so choose another")
    return project


def stack_projects(root: Path) -> set[str]:
    """The project names a plain ``docker compose`` in ``root`` uses: COMPOSE_PROJECT_NAME in the environment
    and in ``root/.env`` (Compose's precedence picks one; both are someone's stack)."""
    in_file = dotenv_values(root / ".env").get(PROJECT_VARIABLE) if (root / ".env").is_file() else None
    return {os.environ.get(PROJECT_VARIABLE) or "", in_file or ""} - {""}


def environment(*, port: int, replicas: int, cpus: float, memory: str | None = None, workers: int | None = None,
                image: str | None = None, model_dir: Path | None = None,
                base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the variables that give compose.yaml these limits.

    ``cpus`` is a CPU quota per replica (``API_CPUS``, e.g. 0.5), ``memory`` a
    Compose size (``API_MEMORY``, e.g. "256M"; None: compose.yaml's default),
    ``port`` Nginx's on the host. ``workers`` None unsets ``WEB_CONCURRENCY``:
    compose.yaml passes it only when set, Gunicorn refuses an empty one, and an
    inherited one would override the replicas' own sizing. ``image`` and
    ``model_dir`` (made absolute: Compose mounts it) only when given.
    """
    variables = dict(os.environ if base is None else base)
    variables.update(API_REPLICAS=str(replicas), API_CPUS=f"{cpus:g}", PORT=str(port))
    if memory:
        variables["API_MEMORY"] = memory
    if workers:
        variables["WEB_CONCURRENCY"] = str(workers)
    else:
        variables.pop("WEB_CONCURRENCY", None)
    if image:
        variables["IMAGE"] = image
    if model_dir:
        variables["API_MODEL_DIR"] = str(model_dir.resolve())
    return variables


def engine_unavailable_reason() -> str | None:
    """Why no Docker engine can be used from here (no docker CLI, ``docker info`` fails or times out), or None."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    try:
        probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                               timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "no Docker engine reachable (`docker info` timed out)"
    if probe.returncode != 0:
        return f"no Docker engine reachable: {tail(probe.stderr, 1) if probe.stderr.strip() else 'docker info failed'}"
    return None


def unavailable_reason(compose_file: Path) -> str | None:
    """Why a stack of ``compose_file`` cannot run here (no file, no engine, no Compose v2), or None."""
    if not compose_file.is_file():
        return f"{compose_file.name} not found"
    engine = engine_unavailable_reason()
    if engine:
        return engine
    try:
        if subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=PROBE_TIMEOUT_S).returncode != 0:
            return "Docker Compose v2 is not installed"
    except subprocess.TimeoutExpired:
        return "Docker Compose v2 is not installed (`docker compose` timed out)"
    return None


def tail(output: str | None, lines: int = 3) -> str:
    """The last ``lines`` non-empty lines of ``output`` on one line, joined by " / "; "no output" when there are none."""
    text = [line.strip() for line in (output or "").splitlines() if line.strip()]
    return " / ".join(text[-lines:]) or "no output"


@dataclass
class Compose:
    """One Compose project run from ``root`` (the repository) with ``env`` (None: this process's environment).

    ``files``: the Compose files to read; none reads what a plain ``docker compose``
    in ``root`` reads (compose.yaml, and compose.override.yaml when present).
    """

    project: str
    root: Path
    env: dict[str, str] | None = None
    files: tuple[Path, ...] = field(default=())

    def command(self, *arguments: str) -> list[str]:
        """``docker compose --project-name PROJECT [--file FILE]... ARGUMENTS...``."""
        files = [option for path in self.files for option in ("--file", str(path))]
        return ["docker", "compose", "--project-name", self.project, *files, *arguments]

    def call(self, *arguments: str, timeout_s: float, capture: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``docker compose ... ARGUMENTS`` to its end, whatever its exit status: for a command whose
        status is an answer (``up --exit-code-from SERVICE`` exits with that service's code). Its output is
        captured as text, or goes to this process's when not ``capture``d.

        Raises subprocess.TimeoutExpired after ``timeout_s`` seconds, OSError when docker cannot run.
        """
        return subprocess.run(self.command(*arguments), cwd=self.root, env=self.env, capture_output=capture, text=True,
                              timeout=timeout_s, stdin=subprocess.DEVNULL)

    def run(self, *arguments: str, timeout_s: float, capture: bool = True) -> str:
        """Run ``docker compose ... ARGUMENTS`` to its end; its standard output ("" when not ``capture``d:
        its output then goes to this process's).

        Raises StackError (exit status and the end of its error output) when it fails,
        subprocess.TimeoutExpired after ``timeout_s`` seconds, OSError when docker cannot run.
        """
        completed = self.call(*arguments, timeout_s=timeout_s, capture=capture)
        if completed.returncode != 0:
            said = f": {tail(completed.stderr)}" if capture else "; its output is above"
            raise StackError(f"`{' '.join(completed.args)}` failed (exit {completed.returncode}){said}")
        return completed.stdout or ""

    def start(self, *arguments: str, log_path: Path) -> subprocess.Popen:
        """Start ``docker compose ... ARGUMENTS`` in the background, its output appended to ``log_path``."""
        with log_path.open("ab") as log:
            return subprocess.Popen(self.command(*arguments), cwd=self.root, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def down(self, grace_s: int = STOP_GRACE_S, timeout_s: float = DOWN_TIMEOUT_S) -> None:
        """Remove the project's containers, networks and volumes, giving containers ``grace_s`` to stop.
        Raises StackError when Compose fails."""
        self.run("down", "--volumes", "--remove-orphans", "--timeout", str(grace_s), timeout_s=timeout_s)

    def container_ids(self, service: str) -> list[str]:
        """The ids of ``service``'s running containers ([] when there are none or Compose fails)."""
        return self.call("ps", "--quiet", service, timeout_s=QUERY_TIMEOUT_S).stdout.split()

    def container_url(self, service: str, port: int) -> str | None:
        """``http://ADDRESS:PORT`` of ``service``'s first running container on the project's network, or None
        when it has none.

        A client on the Docker host that uses this address reaches the container through the host's bridge, as
        the kernel forwards a published port to it; one that uses 127.0.0.1 and the published port goes through
        Docker's userland proxy (``docker-proxy``), a process that copies every byte and costs the host CPU of
        its own. The address is reachable from the host only where the engine runs on it (not Docker Desktop's VM).
        """
        ids = self.container_ids(service)
        if not ids:
            return None
        addresses = subprocess.run(["docker", "inspect", "--format",
                                    "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", ids[0]],
                                   capture_output=True, text=True, timeout=QUERY_TIMEOUT_S).stdout.split()
        return f"http://{addresses[0]}:{port}" if addresses else None

    def container_pids(self, service: str) -> list[int]:
        """The host process ids of ``service``'s containers' first processes ([] when none runs)."""
        ids = self.container_ids(service)
        if not ids:
            return []
        pids = subprocess.run(["docker", "inspect", "--format", "{{.State.Pid}}", *ids], capture_output=True,
                              text=True, timeout=QUERY_TIMEOUT_S).stdout.split()
        return [int(pid) for pid in pids if pid.isdigit()]

    def pin(self, service: str, cpus: str) -> bool:
        """Move ``service``'s running containers onto the host CPUs ``cpus`` (``pin_containers``)."""
        return pin_containers(self.container_ids(service), cpus)


def pin_containers(container_ids: list[str], cpus: str) -> bool:
    """Move the containers onto the host CPUs ``cpus`` (``docker update --cpuset-cpus``, which leaves
    their CPU quota as it was); whether the engine did (False for no container)."""
    return bool(container_ids) and subprocess.run(
        ["docker", "update", "--cpuset-cpus", cpus, *container_ids], capture_output=True,
        timeout=QUERY_TIMEOUT_S, stdin=subprocess.DEVNULL).returncode == 0
