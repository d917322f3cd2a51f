"""The experiments' Compose stack: one configuration's limits on ``stack.compose``, under the experiments' project.

Brings the stack (API replicas behind Nginx) up with a matrix configuration's
replicas, CPUs, memory and workers, and down again; the project name, the
environment and the ``docker compose`` runs are ``stack.compose``'s.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from deploy.matrix import Configuration
from stack import compose
from stack.compose import Compose

DEFAULT_PROJECT = "api-inference-exp"
# Not 8000: the experiments must not collide with a stack a developer keeps running.
DEFAULT_PORT = 18000
BUILD_TIMEOUT_S = 1800


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
        """The process environment that gives compose.yaml this configuration's limits (``stack.compose.environment``)."""
        return compose.environment(port=self.port, replicas=configuration.replicas, cpus=configuration.cpus,
                                   memory=configuration.memory, workers=configuration.workers, image=self.image,
                                   model_dir=self.model_dir)

    def compose(self, configuration: Configuration | None = None) -> Compose:
        """``docker compose`` for this project, with ``configuration``'s environment (None: this process's)."""
        return Compose(self.project, self.root, self.environment(configuration) if configuration else None)

    def command(self, *arguments: str) -> list[str]:
        """``docker compose --project-name PROJECT ARGUMENTS...``."""
        return self.compose().command(*arguments)

    def build(self, configuration: Configuration) -> None:
        """Build the API image once (Compose's ``build`` section), its output to this process's.
        Raises StackError when the build fails."""
        self.compose(configuration).run("build", "api", timeout_s=BUILD_TIMEOUT_S, capture=False)

    def start(self, configuration: Configuration, log_path: Path) -> subprocess.Popen:
        """Start ``compose up -d`` in the background, its output into ``log_path``; the caller waits for readiness."""
        return self.compose(configuration).start("up", "--detach", "--no-build", "--remove-orphans", log_path=log_path)

    def down(self) -> None:
        """Remove the project's containers, networks and volumes. Raises StackError when Compose fails."""
        self.compose().down()
