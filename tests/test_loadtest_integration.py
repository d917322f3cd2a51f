"""Headless Locust (the .venv's) against a real Gunicorn: report files, verdict and exit code.

Each run is bounded: 4 users for 6 s, each waiting at least 0.1 s between
requests (locust.conf), so at most about 240 requests.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.server import PRODUCTION, ROOT, Server, gunicorn
from loadtest.runner import CSV_PREFIX, LocustRun, headless_command, measured_window_s, run_locust
from loadtest.slo import read_stats_csv

pytestmark = pytest.mark.slow

RUN_TIME_S = 6
REPORT_FILES = ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv", "locust_exceptions.csv",
                "locust.html", "locust_verdict.json")


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("loadtest-server") / "gunicorn.log"
    with gunicorn(log, model_dir=model_dir, app=PRODUCTION, workers=1) as running:
        yield running


@pytest.fixture(autouse=True)
def without_locust_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LOCUST_* settings must not change the run under test."""
    for name in [name for name in os.environ if name.startswith("LOCUST_")]:
        monkeypatch.delenv(name)


def run_headless(server: Server, directory: Path, *options: str) -> LocustRun:
    """Headless Locust from the project directory (so with locust.conf), its files in ``directory``."""
    command = headless_command(ROOT / "loadtest" / "locustfile.py", server.url, users=4, spawn_rate=4,
                               run_time_s=RUN_TIME_S, directory=directory, options=options)
    return run_locust(command, directory, RUN_TIME_S, cwd=ROOT)


def rows_by_name(stats_csv: Path) -> dict[str, dict[str, str]]:
    with stats_csv.open(newline="", encoding="utf-8") as file:
        return {f"{row['Type']} {row['Name']}".strip(): row for row in csv.DictReader(file)}


def summary(prefix: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loadtest.summary", str(prefix)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


def test_a_healthy_run_writes_every_report_and_exits_with_its_verdict(server: Server, tmp_path: Path) -> None:
    # Latency objectives no answer on a shared host misses: the run is judged on its failures, and on the
    # generator's self-watch, which a host busy with other work can trip (the verdict then says so, exit 1).
    started = time.time()
    run = run_headless(server, tmp_path, "--invalid-share", "0.2", "--batch-share", "0.3",
                       "--slo-p95-ms", "60000", "--slo-p99-ms", "60000")
    lifetime_s = time.time() - started
    verdict = json.loads((tmp_path / "locust_verdict.json").read_text())
    assert run.exit_code == (0 if not verdict["generator_saturated"] else 1), run.log.read_text()[-3000:]
    for name in REPORT_FILES:
        assert (tmp_path / name).stat().st_size > 0, name

    rows = rows_by_name(run.stats_csv)
    for name in ("POST /predict single", "POST /predict batch", "POST /predict invalid"):
        assert int(rows[name]["Request Count"]) > 0, name
        assert int(rows[name]["Failure Count"]) == 0, f"{name}: {(tmp_path / 'locust_failures.csv').read_text()}"

    stats = read_stats_csv(run.stats_csv)
    assert stats.requests > 0 and stats.failures == 0
    assert verdict["passed"] is not verdict["generator_saturated"]
    assert [reason.split()[0] for reason in verdict["reasons"]] == (["generator"] if verdict["generator_saturated"] else [])
    assert verdict["stats"]["requests"] == stats.requests, "the CSV holds the final numbers the verdict judged"
    assert [node["node"] for node in verdict["generator_cpu"]] == ["generator"]
    assert verdict["generator_cpu"][0]["samples"] >= RUN_TIME_S - 2
    # The window the figures cover lies inside the Locust process's life, and the experiments read it back.
    assert 0 < verdict["window_s"] < lifetime_s
    assert measured_window_s(tmp_path) == verdict["window_s"]

    with run.history_csv.open(newline="", encoding="utf-8") as file:
        history = [row for row in csv.DictReader(file) if row["Name"] == "Aggregated"]
    assert len(history) >= RUN_TIME_S - 1, "about a row a second"
    assert "/predict single" in (tmp_path / "locust.html").read_text(encoding="utf-8")

    printed = summary(tmp_path / CSV_PREFIX)
    assert printed.returncode == run.exit_code, printed.stderr
    assert f"requests    {stats.requests} (0 failed" in printed.stdout
    assert ("verdict     SLO missed: generator CPU saturated" if verdict["generator_saturated"]
            else "verdict     SLO met") in printed.stdout


def test_a_missed_slo_exits_1_with_its_reason_and_a_shape_stops_by_itself(server: Server, tmp_path: Path) -> None:
    run = run_headless(server, tmp_path, "--slo-p95-ms", "0.001",
                       "--shape", "step", "--step-users", "2", "--step-time-s", "3")

    log = run.log.read_text()
    assert run.exit_code == 1, log[-3000:]
    verdict = json.loads((tmp_path / "locust_verdict.json").read_text())
    assert verdict["passed"] is False
    assert [reason.split()[0] for reason in verdict["reasons"]] == ["p95"], verdict["reasons"]
    assert "SLO missed: p95 " in log
    for name in REPORT_FILES:
        assert (tmp_path / name).exists(), name

    with run.history_csv.open(newline="", encoding="utf-8") as file:
        users = [int(row["User Count"]) for row in csv.DictReader(file) if row["Name"] == "Aggregated"]
    assert {2, 4} <= set(users) and max(users) == 4, f"the step shape's users over time: {users}"

    printed = summary(tmp_path / CSV_PREFIX)
    assert printed.returncode == 1
    assert "verdict     SLO missed: p95 " in printed.stdout
