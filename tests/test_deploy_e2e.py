"""`python -m deploy run` on a real Docker engine: the smoke matrix end to end, and a configuration that cannot start.

Each run uses a Compose project of its own (``api-inference-exp-test-<random>``),
a free localhost port and an image tag of its own, and is torn down (project and
tag) even when a test fails. The smoke matrix asks for at most 0.5 CPU per
replica; its load is cut to LOAD_S per configuration here: about forty seconds;
the configuration that cannot start and the interrupted run add about half a minute.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from bench.server import ROOT, free_port
from deploy.containers import PROJECT_LABEL
from deploy.matrix import load_matrix
from deploy.report import judge_again
from deploy.rundir import MATRIX_COPY, read_plan
from stack.wait import wait_until
from tests.conftest import LOCUST_FILES, PNG_SIGNATURE, SMOKE_MATRIX, left_behind

pytestmark = [pytest.mark.docker, pytest.mark.slow]

RUN_TIMEOUT_S = 420
STACK_UP_TIMEOUT_S = 180
# Seconds of load per configuration (the smoke matrix's duration_s): enough for the replicas' stats to be sampled.
LOAD_S = 5
# One replica, and two replicas with WEB_CONCURRENCY set, under the smoke matrix's load and SLO.
CONFIGURATIONS = """
[[configuration]]
replicas = 1
cpus = 0.5
memory = "256M"

[[configuration]]
replicas = 2
cpus = 0.25
memory = "192M"
workers = 1
"""


def run_deploy(project: str, matrix: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deploy", "run", str(matrix), "--out", str(out), "--project", project,
         "--port", str(free_port()), "--image", f"api-inference:{project}", "--ready-timeout", "90"],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )


def smoke_settings() -> str:
    """The smoke matrix's load and SLO (its text before the configurations), the load's duration_s cut to LOAD_S."""
    head = SMOKE_MATRIX.read_text(encoding="utf-8").split("[[configuration]]")[0]
    head, replaced = re.subn(r"^duration_s = .*$", f"duration_s = {LOAD_S}", head, flags=re.MULTILINE)
    assert replaced == 1
    return head


def test_smoke_matrix_end_to_end_writes_every_report(project, tmp_path):
    matrix = tmp_path / "single-and-replicated.toml"
    matrix.write_text(smoke_settings() + CONFIGURATIONS, encoding="utf-8")
    completed = run_deploy(project, matrix, tmp_path / "out")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "[1/2" in completed.stdout and "[2/2" in completed.stdout  # progress: configuration k of n
    (run_dir,) = list((tmp_path / "out").iterdir())

    document = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    first, second = document["configurations"]
    assert (first["replicas"], first["cpus"], second["replicas"], second["workers"]) == (1, 0.5, 2, 1)
    for row in (first, second):
        assert row["status"] == "completed", row["reason"]
        assert row["requests"] > 0 and row["requests_per_s"] > 0 and row["p95_ms"] > 0
        figures = row["containers"]
        assert figures["samples"] > 0
        assert 0 < figures["memory_peak_bytes"] < row["memory_limit_bytes"]
        assert figures["cpu_percent_peak"] > 0
        assert 0 <= figures["throttled_ratio"] <= 1
        assert (figures["oom_kills"], figures["restarts"]) == (0, 0)
        assert row["ready_s"] > 0 and isinstance(row["host_load_1m"], float)  # read from the host as the load ended
        directory = run_dir / row["artifacts"]
        for name in (*LOCUST_FILES, "samples.csv", "result.json"):
            assert (directory / name).is_file(), f"{directory.name}/{name} missing"
    # The verdict and its reason are the ones the run's kept files give again (python -m deploy report).
    again = judge_again(run_dir, load_matrix(run_dir / MATRIX_COPY), read_plan(run_dir))
    assert [(result.verdict, result.reason) for result in again] == [(row["verdict"], row["reason"]) for row in (first, second)]
    # 0.5 CPU rounds up to one worker; the second row asked for one with WEB_CONCURRENCY.
    assert first["containers"]["workers_per_replica"] == [1]
    assert second["containers"]["workers_per_replica"] == [1, 1]
    samples = (run_dir / second["artifacts"] / "samples.csv").read_text(encoding="utf-8")
    assert "api-1," in samples and "api-2," in samples

    csv_lines = (run_dir / "results.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_lines) == 3 and "requests_per_s" in csv_lines[0] and "throttled_ratio" in csv_lines[0]
    markdown = (run_dir / "results.md").read_text(encoding="utf-8")
    assert "| 1 | 1 × 0.5 CPU / 256M |" in markdown and "| 2 | 2 × 0.25 CPU / 192M / 1 worker |" in markdown
    assert "## Recommendation" in markdown
    assert "Single instance against replicated" in markdown
    for png in ("throughput_latency.png", "memory.png"):
        assert (run_dir / png).read_bytes().startswith(PNG_SIGNATURE)
    assert "Recommended:" in completed.stdout or "No configuration passed" in completed.stdout
    assert "| 2 | 2 × 0.25 CPU / 192M / 1 worker |" in completed.stdout  # the table, printed at the end
    assert left_behind(project) == []


def test_a_configuration_that_cannot_start_is_a_failed_row_not_a_crash(project, tmp_path):
    matrix = tmp_path / "starved.toml"
    # 24 MiB cannot hold Python with scikit-learn: the replica is OOM-killed or exits while starting.
    matrix.write_text(smoke_settings() + '[[configuration]]\nreplicas = 1\ncpus = 0.25\nmemory = "24M"\n',
                      encoding="utf-8")
    completed = run_deploy(project, matrix, tmp_path / "out")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (run_dir,) = list((tmp_path / "out").iterdir())
    (row,) = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))["configurations"]
    assert (row["status"], row["verdict"]) == ("not_ready", "fail")
    assert "OOM-killed" in row["reason"] or "exited with code" in row["reason"], row["reason"]
    assert "❌" in (run_dir / "results.md").read_text(encoding="utf-8")
    assert "No configuration passed the SLO" in completed.stdout
    assert left_behind(project) == []


def test_ctrl_c_tears_the_stack_down_and_the_run_can_resume(project, tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "deploy", "run", str(SMOKE_MATRIX), "--out", str(tmp_path), "--project", project,
               "--port", str(port), "--image", f"api-inference:{project}"]
    with (tmp_path / "output.txt").open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            client = docker.from_env()

            def healthy() -> bool:
                assert process.poll() is None, "the run ended before its stack came up"
                return bool(client.containers.list(filters={"label": f"{PROJECT_LABEL}={project}", "health": "healthy"}))

            assert wait_until(healthy, STACK_UP_TIMEOUT_S), "the stack never came up"
            process.send_signal(signal.SIGINT)
            assert process.wait(120) == 130
        finally:
            if process.poll() is None:
                process.kill()
    printed = (tmp_path / "output.txt").read_text(encoding="utf-8")
    assert "interrupted; the stack is down. Resume with:" in printed
    assert left_behind(project) == []
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert not list(run_dir.glob("*/result.json"))  # the interrupted configuration is not taken for finished
    resumed = subprocess.run([sys.executable, "-m", "deploy", "run", "--resume", str(run_dir), "--dry-run"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0 and "[done, kept]" not in resumed.stdout


def run_deploy_args(project: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deploy", "run", str(SMOKE_MATRIX), "--only", "1", "--out", str(out), "--project", project,
         "--no-build", "--ready-timeout", "90", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )


def test_an_image_compose_cannot_start_fails_at_once_in_composes_words(project, tmp_path):
    completed = run_deploy_args(project, tmp_path, "--port", str(free_port()), "--image", f"no-such-image-{project}:nope")
    assert completed.returncode == 1, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "ended in error" in completed.stderr and "Traceback" not in completed.stderr
    (run_dir,) = list(tmp_path.iterdir())
    (row,) = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))["configurations"]
    assert row["status"] == "error"
    assert "docker compose up" in row["reason"] and f"no-such-image-{project}" in row["reason"], row["reason"]
    assert "not ready after" not in row["reason"]  # Compose's own error ends the wait, not --ready-timeout
    assert left_behind(project) == []


def test_a_taken_port_stops_the_run_before_anything_and_leaves_no_run_directory(project, tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        completed = run_deploy_args(project, tmp_path / "out", "--port", str(port))
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1] == f"error: port {port} is in use (Address already in use); " \
                                                        "choose another with --port"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
