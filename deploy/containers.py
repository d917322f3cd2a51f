"""Find the API replicas of a Compose project and read their facts through the Docker Engine API.

Compose labels every container it creates with its project and service
(``com.docker.compose.project``, ``com.docker.compose.service``,
``com.docker.compose.container-number``); those labels are how we find ours and
never touch anybody else's.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import docker
from docker.errors import DockerException
from docker.models.containers import Container
from requests.exceptions import RequestException

API_SERVICE = "api"
NGINX_SERVICE = "nginx"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
JOIN_TIMEOUT_S = 5.0
# Enough to see how a run ended without keeping every access-log line of a minute's load.
LOG_TAIL_LINES = 400
# The replica's own /ready, asked from inside its container as its healthcheck asks it (Dockerfile):
# under Gunicorn it says how many workers run (service/probes.py).
READY_COMMAND = [
    "python", "-c",
    "import os, sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
    "'http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/ready', timeout=5).read().decode())",
]


def service_containers(client: docker.DockerClient, project: str, service: str = API_SERVICE) -> list[Container]:
    """The containers (running or not) of ``service`` in Compose ``project``, ordered by replica number."""
    containers = client.containers.list(
        all=True, filters={"label": [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"]}
    )
    return sorted(containers, key=lambda container: int(container.labels.get(NUMBER_LABEL, "0")))


def replica_name(container: Container) -> str:
    """The replica as Compose numbers it, e.g. "api-2"."""
    return f"{container.labels.get(SERVICE_LABEL, '?')}-{container.labels.get(NUMBER_LABEL, '?')}"


def gunicorn_workers(container: Container) -> int | None:
    """Gunicorn workers the replica runs, as its ``/ready`` says; None when it does not answer ready."""
    try:
        result = container.exec_run(READY_COMMAND)
    except DockerException:  # stopped, or gone
        return None
    if result.exit_code != 0:
        return None
    try:
        return int(json.loads(result.output)["gunicorn"]["workers"])
    except (ValueError, KeyError, TypeError):
        return None


def last_log_lines(container: Container, count: int = 3) -> str:
    """The last ``count`` lines the container wrote, joined with " / " (for failure reasons)."""
    tail = container.logs(stdout=True, stderr=True, tail=count).decode("utf-8", "replace").strip()
    return " / ".join(line.strip() for line in tail.splitlines() if line.strip())


class OomWatch:
    """Follow the engine's ``oom`` events for ``service``'s containers while a configuration runs.

    The kernel's OOM killer reports each kill in the container's cgroup, also
    when it kills a Gunicorn worker rather than the container's main process;
    the engine turns that into an ``oom`` container event. The events API only
    replays the engine's last few hundred events, and healthcheck execs alone
    fill that within minutes, so the events are followed live, from before
    ``compose up`` until teardown, and counted per container id (the previous
    configuration's containers carry the same labels).
    """

    def __init__(self, client: docker.DockerClient, project: str, service: str = API_SERVICE) -> None:
        self._stream = client.events(
            decode=True,
            filters={"type": "container", "event": "oom", "label": [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"]},
        )
        self._ids: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._follow, daemon=True, name=f"oom-{project}")
        self._thread.start()

    def kills(self, containers: list[Container]) -> int:
        """OOM kills seen so far in ``containers``; at least one for each whose main process the OOM killer ended
        (inspect's State.OOMKilled), in case an event came before the watch."""
        ids = {container.id for container in containers}
        with self._lock:
            seen = sum(1 for event_id in self._ids if event_id in ids)
        flagged = sum(1 for container in containers if container.attrs.get("State", {}).get("OOMKilled"))
        return max(seen, flagged)

    def stop(self) -> None:
        """Close the event stream and let the thread end."""
        self._stream.close()
        self._thread.join(JOIN_TIMEOUT_S)

    def _follow(self) -> None:
        try:
            for event in self._stream:
                with self._lock:
                    self._ids.append(event.get("id") or event.get("Actor", {}).get("ID", ""))
        except (DockerException, RequestException, OSError):
            # The stream was closed (stop) or the engine went away; what was seen stays counted.
            return


def keep_logs(client: docker.DockerClient, project: str, directory: Path, tail: int = LOG_TAIL_LINES) -> None:
    """Write the last ``tail`` log lines of every container of ``project`` (API replicas and Nginx) into
    ``directory``, one ``<service>-<number>.log`` each.

    Kept beside the Locust files so a configuration can be read after its stack is gone. Called before a
    teardown: an engine error or a file that cannot be written leaves what was saved and raises nothing, since
    losing the logs must not lose the result.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for container in client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
            service = container.labels.get(SERVICE_LABEL, "container")
            path = directory / f"{service}-{container.labels.get(NUMBER_LABEL, '1')}.log"
            path.write_bytes(container.logs(stdout=True, stderr=True, tail=tail))
    except (DockerException, OSError):
        pass


def restart_count(container: Container) -> int:
    """How many times the engine restarted the container (inspect's RestartCount)."""
    container.reload()
    return int(container.attrs.get("RestartCount", 0))
