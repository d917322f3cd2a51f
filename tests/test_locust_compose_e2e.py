"""compose.locust.yaml on a real Docker engine: a headless Locust master and two workers against Nginx.

The stack of compose.yaml and the Locust containers run under a Compose project
and an image tag of their own (the ``project`` fixture, which removes both even
when the test fails), with small CPU asks and free localhost ports. The run is
bounded: 4 users for 10 s, each waiting at least 0.1 s between requests.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from bench.server import ROOT, free_port
from loadtest.slo import read_stats_csv
from stack.compose import Compose

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WORKERS = 2
USERS = 4
UP_TIMEOUT_S = 600  # includes building the api image when its layers are not cached
REPORT_FILES = ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv", "locust_exceptions.csv",
                "locust_verdict.json", "locust_report.html")


def test_headless_master_and_two_workers_write_the_reports_as_the_caller(project: str, tmp_path: Path) -> None:
    image = f"api-inference:{project}"
    reports = tmp_path / "reports"
    reports.mkdir()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("LOCUST_")},
        "IMAGE": image, "API_REPLICAS": "2", "API_CPUS": "0.5",
        "PORT": str(free_port()), "LOCUST_WEB_PORT": str(free_port()),
        "LOCUST_HEADLESS": "true", "LOCUST_EXPECT_WORKERS": str(WORKERS),
        "LOCUST_USERS": str(USERS), "LOCUST_SPAWN_RATE": str(USERS), "LOCUST_RUN_TIME": "10s",
        "LOCUST_REPORTS_DIR": str(reports), "UID": str(os.getuid()), "GID": str(os.getgid()),
        # Latency objectives no answer on a shared host misses: the run is judged on its failures, and on the
        # generator's self-watch, which a host busy with other work can trip (the verdict then says so, exit 1).
        "LOCUST_SLO_P95_MS": "60000", "LOCUST_SLO_P99_MS": "60000",
    }
    compose = Compose(project, ROOT, env, files=(ROOT / "compose.yaml", ROOT / "compose.locust.yaml"))
    # Its exit status is the master's, so 1 is an answer (the verdict's), not a failure of Compose.
    run = compose.call("up", "--build", "--scale", f"worker={WORKERS}", "--exit-code-from", "master",
                       "--attach", "master", timeout_s=UP_TIMEOUT_S)
    nginx_log = compose.run("logs", "--no-log-prefix", "nginx", timeout_s=60)

    master_log = f"master's log:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    verdict = json.loads((reports / "locust_verdict.json").read_text())
    assert run.returncode == (1 if verdict["generator_saturated"] else 0), master_log
    for name in REPORT_FILES:
        path = reports / name
        assert path.stat().st_size > 0, name
        assert (path.stat().st_uid, path.stat().st_gid) == (os.getuid(), os.getgid()), f"{name} is not the caller's"

    stats = read_stats_csv(reports / "locust_stats.csv")
    failures = (reports / "locust_failures.csv").read_text()
    assert (verdict["stats"]["requests"], verdict["stats"]["failures"]) == (stats.requests, stats.failures), (
        f"the verdict judged other numbers than the CSV holds\n{failures}\n{master_log}")
    assert stats.requests > 0 and stats.failures == 0, f"{failures}\n{master_log}"
    assert verdict["passed"] is not verdict["generator_saturated"], verdict["reasons"]
    nodes = {node["node"]: node["samples"] for node in verdict["generator_cpu"]}
    assert set(nodes) == {"master", *(f"worker {index}" for index in range(WORKERS))}
    assert all(samples > 0 for samples in nodes.values()), "every worker sent its CPU samples to the master"

    with (reports / "locust_stats_history.csv").open(newline="", encoding="utf-8") as file:
        users = [int(row["User Count"]) for row in csv.DictReader(file) if row["Name"] == "Aggregated"]
    assert max(users) == USERS
    # The load went through Nginx (its JSON access log), not to a replica directly.
    assert sum('"request":"POST /predict ' in line for line in nginx_log.splitlines()) >= stats.requests * 0.9
