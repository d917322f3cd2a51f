"""Makefile targets refuse variables they cannot use before they run anything."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from bench.server import ROOT


def make(*args: str) -> subprocess.CompletedProcess:
    # MODEL_DIR from the environment would name an artifact to `make build`.
    environment = {name: value for name, value in os.environ.items() if name != "MODEL_DIR"}
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("replicas", ["", "abc", "-1", "1;echo INJECTED", "2 3"])
def test_scale_wants_a_whole_number(replicas: str) -> None:
    result = make("scale", f"N={replicas}")

    assert result.returncode == 2
    assert f"a whole number (got '{replicas}')" in result.stderr
    assert "INJECTED" not in result.stdout


def report_dirs() -> set[Path]:
    reports = ROOT / "reports" / "loadtest"
    return set(reports.iterdir()) if reports.exists() else set()


@pytest.mark.parametrize(("variable", "words"), [
    ("HOST=ftp://example", "HOST must be an http:// or https:// URL to load-test (got 'ftp://example')"),
    ("HOST=localhost:18602", "HOST must be an http:// or https:// URL to load-test (got 'localhost:18602')"),
    ("PORT=abc", "PORT must be a port number (got 'abc')"),
])
def test_loadtest_refuses_a_target_it_cannot_reach_and_leaves_no_report_directory(variable: str, words: str) -> None:
    before = report_dirs()

    result = make("loadtest", variable)

    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == words
    assert "locust" not in result.stdout + result.stderr.lower()
    assert report_dirs() == before


def test_loadtest_refuses_a_host_from_the_environment_that_is_not_a_url() -> None:
    result = subprocess.run(["make", "--no-print-directory", "loadtest"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "HOST": "localhost:18602"})

    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "HOST must be an http:// or https:// URL to load-test (got 'localhost:18602')"


def test_loadtest_of_a_target_that_does_not_answer_says_so_in_one_line_and_leaves_no_report_directory() -> None:
    before = report_dirs()
    with socket.socket() as closed:  # bound, never listening: connecting is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        result = make("loadtest", f"HOST={url}", "DURATION=5s")

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line or "error" in line.lower()]
    assert len(errors) == 2, result.stderr  # Locust's line, and make's own "Error 2"
    assert f"cannot read the model's metadata from {url}/model" in errors[0]
    assert "Traceback" not in result.stderr and "no complete load test results" not in result.stdout + result.stderr
    assert report_dirs() == before


def test_loadtest_with_an_option_locust_refuses_leaves_no_report_directory() -> None:
    before = report_dirs()

    result = make("loadtest", "USERS=abc")

    assert result.returncode == 2
    assert "--users: invalid int value: 'abc'" in result.stderr
    assert "no complete load test results" not in result.stdout + result.stderr
    assert report_dirs() == before


def test_build_with_a_model_dir_without_an_artifact_stops_before_docker(tmp_path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"")

    result = make("build", f"MODEL_DIR={tmp_path}", "IMAGE=api-inference:never-built")

    assert result.returncode == 2
    assert f"MODEL_DIR={tmp_path} has no metadata.json: package an artifact there first" in result.stderr
    assert "docker build" not in result.stdout
    assert not (ROOT / ".image-model").exists()


def test_build_stages_the_given_artifact_and_otherwise_trains_iris_in_the_image(tmp_path) -> None:
    given = make("--dry-run", "build", f"MODEL_DIR={tmp_path}")
    default = make("--dry-run", "build")

    assert f"cp '{tmp_path}'/model.joblib '{tmp_path}'/metadata.json .image-model/" in given.stdout
    assert "docker build" in given.stdout and "docker build" in default.stdout
    assert ".image-model/" not in default.stdout.replace("rm -rf .image-model", "")


def test_up_mounts_api_model_dir_by_its_absolute_path() -> None:
    # Compose reads a relative path without ./ as the name of a volume.
    result = make("--dry-run", "up", "API_MODEL_DIR=models/wine")
    assert f"API_MODEL_DIR={ROOT / 'models' / 'wine'} docker compose up" in result.stdout


def fake_compose(directory: Path, ps_output: str) -> Path:
    """A stand-in for ``docker compose`` whose ``up`` succeeds and whose ``ps`` prints ``ps_output``."""
    script = directory / "compose"
    script.write_text(f"#!/bin/sh\ncase \"$1\" in ps) printf '%s\\n' '{ps_output}';; esac\nexit 0\n")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(("ps_output", "returncode"), [
    ("api-inference-api-1 healthy", 0),
    ("api-inference-nginx-1 unhealthy", 2),
])
def test_scale_fails_when_a_container_is_not_healthy_though_compose_waited(tmp_path: Path, ps_output: str,
                                                                          returncode: int) -> None:
    # Compose's `up --wait` prints "is unhealthy" yet exits 0: the target checks the containers itself.
    result = make("scale", "N=1", f"COMPOSE={fake_compose(tmp_path, ps_output)}")

    assert result.returncode == returncode, result.stderr
    assert ("not healthy: api-inference-nginx-1 unhealthy" in result.stderr) == (returncode != 0)
