"""Find the API replicas of a Compose project and read their facts through the Docker Engine API.

Compose labels every container it creates with its project and service
(``com.docker.compose.project``, ``com.docker.compose.service``,
``com.docker.compose.container-number``); those labels are how we find ours and
never touch anybody else's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import docker
from docker.models.containers import Container

API_SERVICE = "api"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
# Enough to see how a run ended without keeping every access-log line of a minute's load.
LOG_TAIL_LINES = 400
# The line service/gunicorn.conf.py logs when Gunicorn starts.
WORKERS_PATTERN = re.compile(r"starting (\d+) (\S+) worker\(s\) x (\d+) thread\(s\)")


def service_containers(client: docker.DockerClient, project: str, service: str = API_SERVICE) -> list[Container]:
    """The containers (running or not) of ``service`` in Compose ``project``, ordered by replica number."""
    containers = client.containers.list(
        all=True, filters={"label": [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"]}
    )
    return sorted(containers, key=lambda container: int(container.labels.get(NUMBER_LABEL, "0")))


def replica_name(container: Container) -> str:
    """The replica as Compose numbers it, e.g. "api-2"."""
    return f"{container.labels.get(SERVICE_LABEL, '?')}-{container.labels.get(NUMBER_LABEL, '?')}"


def workers_started(container: Container) -> int | None:
    """Gunicorn workers the replica's last start announced in its log, or None if it never logged the line."""
    workers = None
    for line in container.logs(stdout=True, stderr=True).decode("utf-8", "replace").splitlines():
        try:
            message = str(json.loads(line).get("message", ""))
        except (ValueError, AttributeError):
            message = line
        match = WORKERS_PATTERN.search(message)
        if match:
            workers = int(match.group(1))
    return workers


def last_log_lines(container: Container, count: int = 3) -> str:
    """The last ``count`` lines the container wrote, joined with " / " (for failure reasons)."""
    tail = container.logs(stdout=True, stderr=True, tail=count).decode("utf-8", "replace").strip()
    return " / ".join(line.strip() for line in tail.splitlines() if line.strip())


def oom_kills(client: docker.DockerClient, project: str, since_epoch_s: int, until_epoch_s: int,
              service: str = API_SERVICE) -> int:
    """OOM-killer events the engine reported for ``service``'s containers between two Unix times (seconds).

    The call returns once ``until_epoch_s`` has passed: give the current second or an earlier one.

    Source: the events API's ``oom`` container event, sent each time the
    kernel's OOM killer acts in the container's cgroup (also when it kills a
    Gunicorn worker rather than the container's main process).
    """
    events = client.events(
        since=since_epoch_s, until=until_epoch_s, decode=True,
        filters={"type": "container", "event": "oom", "label": [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"]},
    )
    return sum(1 for _ in events)


def save_logs(client: docker.DockerClient, project: str, directory: Path, tail: int = LOG_TAIL_LINES) -> list[Path]:
    """Write the last ``tail`` log lines of every container of ``project`` (API replicas and Nginx) into ``directory``.

    Kept beside the Locust files so a failed configuration can be read after its stack is gone.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for container in client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
        service = container.labels.get(SERVICE_LABEL, "container")
        path = directory / f"{service}-{container.labels.get(NUMBER_LABEL, '1')}.log"
        path.write_bytes(container.logs(stdout=True, stderr=True, tail=tail))
        written.append(path)
    return written


def restart_count(container: Container) -> int:
    """How many times the engine restarted the container (inspect's RestartCount)."""
    container.reload()
    return int(container.attrs.get("RestartCount", 0))
