"""Bring the Compose stack (API replicas behind Nginx) up with one configuration's limits, and down again.

The project's ``compose.yaml`` reads the limits from the environment:
``API_REPLICAS``, ``API_CPUS``, ``API_MEMORY``, ``WEB_CONCURRENCY`` (unset lets
the service size itself from its CPU quota), ``PORT`` (Nginx on the host) and
``IMAGE``, and ``API_MODEL_DIR`` (an artifact served instead of the image's own). The docker compose CLI runs as a subprocess under a project name of
its own, so an experiment never touches a stack started with ``docker compose up``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from dotenv import dotenv_values

from deploy.matrix import Configuration

DEFAULT_PROJECT = "api-inference-exp"
# Not 8000: the experiments must not collide with a stack a developer keeps running.
DEFAULT_PORT = 18000
BUILD_TIMEOUT_S = 1800
DOWN_TIMEOUT_S = 120
# Seconds Compose gives containers to stop before killing them.
STOP_GRACE_S = 10
# Compose's rule for project names ("Specify a project name", docs.docker.com/compose/project-name/).
PROJECT_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
PROJECT_VARIABLE = "COMPOSE_PROJECT_NAME"


class StackError(RuntimeError):
    """A docker compose command failed; the message carries the end of its output."""


def check_project(project: str, root: Path) -> str:
    """``project`` when it is a Compose project name the experiments may take down and up again.

    Raises ValueError when Compose would refuse it, or when it is the name of the
    stack a plain ``docker compose up`` in ``root`` starts (``COMPOSE_PROJECT_NAME``
    from the environment or ``root/.env``): an empty name would make Compose fall
    back to that very name, and the runner's ``down --volumes`` would remove the user's stack.
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


class ComposeStack:
    """The project's Compose stack under a dedicated project name and host port."""

    def __init__(self, project: str, port: int, root: Path, image: str | None = None,
                 model_dir: Path | None = None) -> None:
        self.project = project
        self.port = port
        self.root = root
        self.image = image
        self.model_dir = model_dir

    @property
    def url(self) -> str:
        """Nginx's address on this host."""
        return f"http://127.0.0.1:{self.port}"

    def environment(self, configuration: Configuration) -> dict[str, str]:
        """The process environment that gives compose.yaml this configuration's limits."""
        environment = dict(os.environ)
        environment.update(
            API_REPLICAS=str(configuration.replicas),
            API_CPUS=f"{configuration.cpus:g}",
            API_MEMORY=configuration.memory,
            PORT=str(self.port),
        )
        # compose.yaml passes WEB_CONCURRENCY only when set, and Gunicorn refuses an empty one.
        if configuration.workers:
            environment["WEB_CONCURRENCY"] = str(configuration.workers)
        else:
            environment.pop("WEB_CONCURRENCY", None)
        if self.image:
            environment["IMAGE"] = self.image
        if self.model_dir:
            environment["API_MODEL_DIR"] = str(self.model_dir)
        return environment

    def command(self, *arguments: str) -> list[str]:
        """``docker compose -p PROJECT ARGUMENTS...``."""
        return ["docker", "compose", "--project-name", self.project, *arguments]

    def build(self, configuration: Configuration) -> None:
        """Build the API image once (Compose's ``build`` section). Raises StackError when the build fails."""
        command = self.command("build", "api")
        completed = subprocess.run(command, cwd=self.root, env=self.environment(configuration), timeout=BUILD_TIMEOUT_S,
                                   stdin=subprocess.DEVNULL)
        if completed.returncode != 0:
            raise StackError(f"`{' '.join(command)}` failed (exit {completed.returncode}); its output is above")

    def start(self, configuration: Configuration, log_path: Path) -> subprocess.Popen:
        """Start ``compose up -d`` in the background, its output into ``log_path``; the caller waits for readiness."""
        with log_path.open("ab") as log:
            return subprocess.Popen(
                self.command("up", "--detach", "--no-build", "--remove-orphans"),
                cwd=self.root, env=self.environment(configuration), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def down(self) -> None:
        """Remove the project's containers, networks and volumes. Raises StackError when Compose fails."""
        completed = subprocess.run(
            self.command("down", "--volumes", "--remove-orphans", "--timeout", str(STOP_GRACE_S)),
            cwd=self.root, capture_output=True, text=True, timeout=DOWN_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        if completed.returncode != 0:
            raise StackError(f"docker compose down failed: {_tail(completed.stderr)}")


def _tail(output: str | None, lines: int = 3) -> str:
    text = (output or "").strip().splitlines()
    return " / ".join(line.strip() for line in text[-lines:]) or "no output"
