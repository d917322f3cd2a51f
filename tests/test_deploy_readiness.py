"""``deploy.readiness.wait_ready``: how the wait for a configuration's start ends, with stand-ins for the engine's
containers (their states as Docker reports them) and real processes for ``docker compose up``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from deploy import readiness
from deploy.containers import NUMBER_LABEL, SERVICE_LABEL
from deploy.matrix import Configuration
from deploy.readiness import wait_ready

# Nothing listens on port 9 (discard): Nginx "does not answer".
NO_NGINX = "http://127.0.0.1:9/ready"
CONFIGURATION = Configuration(index=1, name="two", replicas=2, cpus=0.5, memory="256M",
                              memory_limit_bytes=256 * 1024**2, workers=None)


class Replica:
    """A container as the Docker SDK shows it: labels, ``attrs["State"]`` after ``reload()``, its log."""

    def __init__(self, number: int, status: str = "running", health: str | None = "starting", exit_code: int = 0,
                 log: bytes = b"") -> None:
        self.labels = {SERVICE_LABEL: "api", NUMBER_LABEL: str(number)}
        self.attrs: dict = {"State": {"Status": status, "ExitCode": exit_code}, "RestartCount": 0}
        self.log = log
        self.health(health)

    def health(self, status: str | None) -> None:
        self.attrs["State"]["Health"] = {"Status": status} if status else None

    def reload(self) -> None:
        pass

    def logs(self, **options) -> bytes:
        return self.log


class NoOoms:
    def kills(self, containers: list) -> int:
        return 0


@pytest.fixture
def replicas(monkeypatch: pytest.MonkeyPatch) -> list[Replica]:
    """The project's API containers (the test fills the list); polls 100 times a second."""
    found: list[Replica] = []
    monkeypatch.setattr(readiness, "service_containers", lambda client, project: found)
    monkeypatch.setattr(readiness, "POLL_INTERVAL_S", 0.01)
    return found


def finished(*command: str) -> subprocess.Popen:
    process = subprocess.Popen(command)
    process.wait()
    return process


def test_the_wait_ends_ready_once_every_replica_is_healthy_and_nginx_answers(replicas, monkeypatch, tmp_path: Path) -> None:
    replicas += [Replica(1), Replica(2)]
    monkeypatch.setattr(readiness, "answers", lambda url: url == "http://nginx/ready")
    states: list[str] = []

    def on_wait(elapsed_s: float, state: str) -> None:
        states.append(state)
        if len(states) == 2:
            replicas[0].health("healthy")
        if len(states) == 3:
            replicas[1].health("healthy")

    ready = wait_ready(None, "p", CONFIGURATION, finished("true"), tmp_path / "compose.log", "http://nginx/ready",
                       NoOoms(), timeout_s=30, on_wait=on_wait)

    assert (ready.ready, ready.reason, ready.compose_failed) == (True, "", False)
    assert states == ["0/2 replicas healthy", "0/2 replicas healthy", "1/2 replicas healthy"]


def test_a_compose_that_failed_ends_the_wait_with_its_own_words(replicas, tmp_path: Path) -> None:
    log = tmp_path / "compose.log"
    log.write_text(" Container p-api-1  Creating\nError response from daemon: No such image: api-inference:gone\n")
    states: list[str] = []

    ready = wait_ready(None, "p", CONFIGURATION, finished("sh", "-c", "exit 3"), log, NO_NGINX, NoOoms(),
                       timeout_s=30, on_wait=lambda elapsed_s, state: states.append(state))

    assert (ready.ready, ready.compose_failed) == (False, True)
    assert ready.reason == "docker compose up failed (exit 3): Error response from daemon: No such image: api-inference:gone"
    assert states == []


def test_a_compose_that_started_no_replica_failed_whatever_its_exit_code(replicas, tmp_path: Path) -> None:
    log = tmp_path / "compose.log"
    log.write_text("unable to get image 'api-inference:gone'\n")

    ready = wait_ready(None, "p", CONFIGURATION, finished("true"), log, NO_NGINX, NoOoms(), timeout_s=30)

    assert (ready.ready, ready.compose_failed) == (False, True)
    assert ready.reason == "docker compose up started no API container: unable to get image 'api-inference:gone'"


def test_a_replica_that_exited_ends_the_wait_with_its_last_words(replicas, tmp_path: Path) -> None:
    replicas += [Replica(1, health="healthy"), Replica(2, status="exited", exit_code=1, log=b"booting\nout of luck\n")]

    ready = wait_ready(None, "p", CONFIGURATION, finished("true"), tmp_path / "compose.log", NO_NGINX, NoOoms(),
                       timeout_s=30)

    assert (ready.ready, ready.compose_failed) == (False, False)
    assert ready.reason == "api-2 exited with code 1 while starting: booting / out of luck"


def test_at_the_deadline_the_reason_gives_each_replica_and_nginx_and_compose_up_is_stopped(replicas, tmp_path: Path) -> None:
    replicas += [Replica(1, health="healthy"), Replica(2)]
    up = subprocess.Popen(["sleep", "60"])
    states: list[str] = []

    ready = wait_ready(None, "p", CONFIGURATION, up, tmp_path / "compose.log", NO_NGINX, NoOoms(), timeout_s=0.1,
                       on_wait=lambda elapsed_s, state: states.append(state))

    assert (ready.ready, ready.compose_failed) == (False, False)
    assert ready.reason.startswith("not ready after 0 s (api-1 healthy, api-2 starting; Nginx did not answer /ready: ")
    assert states and set(states) == {"1/2 replicas healthy"}
    assert up.poll() is not None, "docker compose up was stopped"
