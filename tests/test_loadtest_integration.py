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
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.server import PRODUCTION, ROOT, Server, gunicorn
from loadtest.slo import read_stats_csv

pytestmark = pytest.mark.slow

LOCUST = Path(sys.executable).with_name("locust")
RUN_TIME_S = 6
TIMEOUT_S = 90
REPORT_SUFFIXES = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv", "_report.html",
                   "_verdict.json")


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("loadtest-server") / "gunicorn.log"
    with gunicorn(log, model_dir=model_dir, app=PRODUCTION, workers=1) as running:
        yield running


def run_locust(server: Server, prefix: Path, *options: str) -> subprocess.CompletedProcess:
    """``locust --headless`` from the project directory (so with locust.conf), writing reports at ``prefix``."""
    command = [
        str(LOCUST), "--headless", "--host", server.url, "--users", "4", "--spawn-rate", "4",
        "--run-time", f"{RUN_TIME_S}s", "--csv", str(prefix), "--csv-full-history",
        "--html", f"{prefix}_report.html", "--only-summary", *options,
    ]
    # The developer's own LOCUST_* settings must not change the run under test.
    env = {name: value for name, value in os.environ.items() if not name.startswith("LOCUST_")}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def rows_by_name(stats_csv: Path) -> dict[str, dict[str, str]]:
    with stats_csv.open(newline="", encoding="utf-8") as file:
        return {f"{row['Type']} {row['Name']}".strip(): row for row in csv.DictReader(file)}


def summary(prefix: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loadtest.summary", str(prefix)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


def test_a_healthy_run_writes_every_report_and_exits_with_its_verdict(server: Server, tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    # Latency objectives no answer on a shared host misses: the run is judged on its failures, and on the
    # generator's self-watch, which a host busy with other work can trip (the verdict then says so, exit 1).
    result = run_locust(server, prefix, "--invalid-share", "0.2", "--batch-share", "0.3",
                        "--slo-p95-ms", "60000", "--slo-p99-ms", "60000")
    verdict = json.loads(Path(f"{prefix}_verdict.json").read_text())
    assert result.returncode == (0 if not verdict["generator_saturated"] else 1), result.stderr[-3000:]
    for suffix in REPORT_SUFFIXES:
        assert Path(f"{prefix}{suffix}").stat().st_size > 0, suffix

    rows = rows_by_name(Path(f"{prefix}_stats.csv"))
    for name in ("POST /predict single", "POST /predict batch", "POST /predict invalid"):
        assert int(rows[name]["Request Count"]) > 0, name
        assert int(rows[name]["Failure Count"]) == 0, f"{name}: {Path(f'{prefix}_failures.csv').read_text()}"

    stats = read_stats_csv(f"{prefix}_stats.csv")
    assert stats.requests > 0 and stats.failures == 0
    assert verdict["passed"] is not verdict["generator_saturated"]
    assert [reason.split()[0] for reason in verdict["reasons"]] == (["generator"] if verdict["generator_saturated"] else [])
    assert verdict["stats"]["requests"] == stats.requests, "the CSV holds the final numbers the verdict judged"
    assert [node["node"] for node in verdict["generator_cpu"]] == ["generator"]
    assert verdict["generator_cpu"][0]["samples"] >= RUN_TIME_S - 2

    with Path(f"{prefix}_stats_history.csv").open(newline="", encoding="utf-8") as file:
        history = [row for row in csv.DictReader(file) if row["Name"] == "Aggregated"]
    assert len(history) >= RUN_TIME_S - 1, "about a row a second"
    assert "/predict single" in Path(f"{prefix}_report.html").read_text(encoding="utf-8")

    printed = summary(prefix)
    assert printed.returncode == result.returncode, printed.stderr
    assert f"requests    {stats.requests} (0 failed" in printed.stdout
    assert ("verdict     SLO missed: generator CPU saturated" if verdict["generator_saturated"]
            else "verdict     SLO met") in printed.stdout


def test_a_missed_slo_exits_1_with_its_reason_and_a_shape_stops_by_itself(server: Server, tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    result = run_locust(server, prefix, "--slo-p95-ms", "0.001",
                        "--shape", "step", "--step-users", "2", "--step-time-s", "3")

    assert result.returncode == 1, result.stderr[-3000:]
    verdict = json.loads(Path(f"{prefix}_verdict.json").read_text())
    assert verdict["passed"] is False
    assert [reason.split()[0] for reason in verdict["reasons"]] == ["p95"], verdict["reasons"]
    assert "SLO missed: p95 " in result.stderr
    for suffix in REPORT_SUFFIXES:
        assert Path(f"{prefix}{suffix}").exists(), suffix

    with Path(f"{prefix}_stats_history.csv").open(newline="", encoding="utf-8") as file:
        users = [int(row["User Count"]) for row in csv.DictReader(file) if row["Name"] == "Aggregated"]
    assert {2, 4} <= set(users) and max(users) == 4, f"the step shape's users over time: {users}"

    printed = summary(prefix)
    assert printed.returncode == 1
    assert "verdict     SLO missed: p95 " in printed.stdout
