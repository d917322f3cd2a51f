"""``stack.compose``: the environment that gives compose.yaml its limits, the command line, and a failing Compose."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from stack.compose import Compose, StackError, engine_unavailable_reason, environment, tail, unavailable_reason


def test_the_environment_carries_the_limits_and_unsets_an_inherited_worker_count() -> None:
    base = {"PATH": "/bin", "WEB_CONCURRENCY": "7", "API_MEMORY": "1G"}

    env = environment(port=18001, replicas=2, cpus=0.5, base=base)

    assert env == {"PATH": "/bin", "API_MEMORY": "1G", "API_REPLICAS": "2", "API_CPUS": "0.5", "PORT": "18001"}
    assert base["WEB_CONCURRENCY"] == "7", "the caller's mapping is left as it was"


def test_the_environment_names_workers_image_memory_and_an_absolute_model_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)

    env = environment(port=1, replicas=1, cpus=1.0, memory="192M", workers=3, image="api-inference:x",
                      model_dir=Path("wine"), base={})

    assert env == {"API_REPLICAS": "1", "API_CPUS": "1", "PORT": "1", "API_MEMORY": "192M", "WEB_CONCURRENCY": "3",
                   "IMAGE": "api-inference:x", "API_MODEL_DIR": str(tmp_path / "wine")}


def test_the_command_names_the_project_and_each_file() -> None:
    assert Compose("p", Path("/r")).command("ps") == ["docker", "compose", "--project-name", "p", "ps"]
    assert Compose("p", Path("/r"), files=(Path("/r/a.yaml"), Path("/r/b.yaml"))).command("up", "-d") == [
        "docker", "compose", "--project-name", "p", "--file", "/r/a.yaml", "--file", "/r/b.yaml", "up", "-d"]


def fake_docker(directory: Path, script: str) -> dict[str, str]:
    """An environment whose PATH finds ``script`` (a shell script's body) as ``docker`` first."""
    docker = directory / "docker"
    docker.write_text("#!/bin/sh\n" + script)
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{directory}{os.pathsep}{os.environ['PATH']}"}


def test_a_failing_compose_raises_with_the_end_of_its_error_output(tmp_path: Path, monkeypatch) -> None:
    env = fake_docker(tmp_path, 'for n in 1 2 3 4; do echo "line $n" >&2; done\nexit 3\n')
    monkeypatch.setenv("PATH", env["PATH"])

    with pytest.raises(StackError) as raised:
        Compose("p", tmp_path, env).down(grace_s=5)

    assert str(raised.value) == ("`docker compose --project-name p down --volumes --remove-orphans --timeout 5` failed "
                                 "(exit 3): line 2 / line 3 / line 4")


def test_a_compose_that_succeeds_gives_its_output_and_its_containers(tmp_path: Path, monkeypatch) -> None:
    env = fake_docker(tmp_path, 'echo "$@"\n')
    monkeypatch.setenv("PATH", env["PATH"])
    compose = Compose("p", tmp_path, env)

    assert compose.run("config", timeout_s=10) == "compose --project-name p config\n"
    # `ps --quiet SERVICE` prints one id a line; here the fake echoes its arguments back.
    assert compose.container_ids("api") == ["compose", "--project-name", "p", "ps", "--quiet", "api"]


def test_a_call_gives_the_exit_status_and_the_output_of_a_failing_compose(tmp_path: Path, monkeypatch) -> None:
    # As `up --exit-code-from master` does: the service's log on standard output, its exit code Compose's own.
    env = fake_docker(tmp_path, 'echo "$@"\necho "the SLO was missed" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", env["PATH"])
    compose = Compose("p", tmp_path, env, files=(tmp_path / "compose.yaml", tmp_path / "compose.locust.yaml"))

    completed = compose.call("up", "--exit-code-from", "master", timeout_s=10)

    assert completed.returncode == 1
    assert completed.stdout == (f"compose --project-name p --file {tmp_path}/compose.yaml "
                                f"--file {tmp_path}/compose.locust.yaml up --exit-code-from master\n")
    assert completed.stderr == "the SLO was missed\n"


def test_an_overlong_compose_is_stopped(tmp_path: Path, monkeypatch) -> None:
    env = fake_docker(tmp_path, "sleep 5\n")
    monkeypatch.setenv("PATH", env["PATH"])

    with pytest.raises(subprocess.TimeoutExpired):
        Compose("p", tmp_path, env).run("up", timeout_s=0.2)


def test_no_compose_file_is_the_first_reason(tmp_path: Path) -> None:
    assert unavailable_reason(tmp_path / "compose.yaml") == "compose.yaml not found"


def test_an_engine_that_does_not_answer_is_the_reason(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    monkeypatch.setenv("PATH", fake_docker(tmp_path, "exit 1\n")["PATH"])

    assert unavailable_reason(tmp_path / "compose.yaml") == "no Docker engine reachable: docker info failed"


def test_the_engine_says_why_it_does_not_answer(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", fake_docker(tmp_path, "echo starting >&2; echo 'Cannot connect to the Docker daemon' >&2; exit 1\n")["PATH"])

    assert engine_unavailable_reason() == "no Docker engine reachable: Cannot connect to the Docker daemon"


def test_an_engine_without_compose_v2_is_the_reason(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    monkeypatch.setenv("PATH", fake_docker(tmp_path, '[ "$1" = info ] && exit 0\nexit 1\n')["PATH"])

    assert engine_unavailable_reason() is None
    assert unavailable_reason(tmp_path / "compose.yaml") == "Docker Compose v2 is not installed"


def test_tail_joins_the_last_lines_or_says_there_were_none() -> None:
    assert tail("a\n\n b \nc\nd\n") == "b / c / d"
    assert tail("") == tail(None) == "no output"
