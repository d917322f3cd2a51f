"""`python -m deploy capacity` on a real Docker engine: the smoke matrix with a small probe budget, end to end.

A Compose project, a free localhost port and an image tag of its own, torn down
even when the test fails. The smoke matrix (1 × 0.25 CPU and 1 × 0.5 CPU) runs
with 3 s windows and two probes per configuration (a search's first step, up or
down, and the capacity it implies): the bench's ceiling (three probes) and both
searches take about a minute and a half. The figures themselves are the
experiments' business; this test checks that a real search runs, judges and
reports every probe, and leaves nothing behind.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.server import ROOT, free_port
from tests.conftest import LOCUST_FILES, PNG_SIGNATURE, left_behind

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SMOKE = ROOT / "deploy" / "matrices" / "smoke.toml"
RUN_TIMEOUT_S = 600
SHORT_SEARCH = {"ramp_s": "2", "window_s": "3", "drain_s": "1", "max_probes": "2", "bracket": "0.5"}


def short_smoke(tmp_path: Path) -> Path:
    """The smoke matrix with SHORT_SEARCH's settings."""
    text = SMOKE.read_text(encoding="utf-8")
    for key, value in SHORT_SEARCH.items():
        text, replaced = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.MULTILINE)
        assert replaced == 1, key
    path = tmp_path / "smoke-short.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_smoke_matrix_capacity_search_end_to_end(project, tmp_path):
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, "-m", "deploy", "capacity", str(short_smoke(tmp_path)), "--out", str(out),
         "--project", project, "--port", str(free_port()), "--image", f"api-inference:{project}",
         "--ready-timeout", "90", "--target-rps", "30"],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    printed = completed.stdout
    assert "bench ceiling:" in printed
    assert "[1/2" in printed and "[2/2" in printed  # configuration k of n
    assert re.search(r"1x0\.25cpu-256M: probe 1: offered 100 req/s \(100 users\), achieved [\d.]+, p95 .*; bracket \[", printed)
    (run_dir,) = list(out.iterdir())

    document = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert document["mode"] == "capacity" and document["goal"]["rps"] == 30
    assert document["ceiling_rps"] is None or document["ceiling_rps"] > 0
    assert 1 <= len(document["ceiling_probes"]) <= 3  # deploy.capacity_run.CEILING_PROBES
    rows = document["configurations"]
    assert [(row["replicas"], row["cpus"]) for row in rows] == [(1, 0.25), (1, 0.5)]
    for row in rows:
        assert row["status"] == "completed", row["reason"]
        assert 1 <= len(row["probes"]) <= 2
        assert row["bottleneck"]
        for probe in row["probes"]:
            assert probe["offered_rps"] > 0 and probe["users"] >= 1 and probe["reasons"]
            # A probe passes exactly when it kept pace, met the smoke SLO and left every replica whole.
            missed = (probe["achieved_rps"] < 0.95 * probe["offered_rps"], probe["p95_ms"] is None,
                      (probe["p95_ms"] or 0) > 300, (probe["p99_ms"] or 0) > 500,
                      probe["failures"] > 0.01 * probe["requests"], probe["generator_saturated"],
                      probe["oom_kills"] > 0, probe["restarts"] > 0, bool(probe["unhealthy"]))
            assert probe["passed"] is not any(missed), probe
            directory = run_dir / row["artifacts"] / probe["artifacts"]
            for name in (*LOCUST_FILES, "samples.csv"):
                assert (directory / name).is_file(), f"{directory.name}/{name} missing"
        # The capacity is the highest pass below the lowest fail (docs/experiments.md, "The search").
        failed = [probe["offered_rps"] for probe in row["probes"] if not probe["passed"]]
        below = [probe["offered_rps"] for probe in row["probes"]
                 if probe["passed"] and (not failed or probe["offered_rps"] < min(failed))]
        assert row["capacity_rps"] == (max(below) if below else None)
        # What bounded it, as far as the probes say (docs/experiments.md): nothing without a capacity; the
        # generator when it saturated in the lowest failing probe. The rest of the rule is checked by judging again.
        lowest_fail = min((probe for probe in row["probes"] if not probe["passed"]),
                          key=lambda probe: probe["offered_rps"], default=None)
        if row["capacity_rps"] is None:
            assert row["capacity_bound"] is None
        elif lowest_fail is not None and lowest_fail["generator_saturated"]:
            assert row["capacity_bound"] == "generator"
        assert (run_dir / row["artifacts"] / "probes.csv").is_file()
    for name in ("results.csv", "probes.csv", "results.md"):
        assert (run_dir / name).is_file()
    for png in ("latency_throughput.png", "capacity_cpu.png", "scaling.png"):
        assert (run_dir / png).read_bytes().startswith(PNG_SIGNATURE)
    markdown = (run_dir / "results.md").read_text(encoding="utf-8")
    assert "| 1 | 1 × 0.25 CPU / 256M | 0.25 |" in markdown and "## Recommendation" in markdown
    assert "For 30 req/s with 20% headroom" in markdown or "No measured configuration holds 30 req/s" in markdown
    assert left_behind(project) == []

    again = subprocess.run([sys.executable, "-m", "deploy", "report", str(run_dir)], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    # Judged again from the files the run kept: the same capacity, bound and bottleneck.
    rejudged = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))["configurations"]
    assert [(row["capacity_rps"], row["capacity_bound"], row["bottleneck"]) for row in rejudged] == \
        [(row["capacity_rps"], row["capacity_bound"], row["bottleneck"]) for row in rows]
