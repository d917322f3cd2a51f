"""The SLO verdict, and reading it back from the CSV files Locust writes."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from locust.env import Environment
from locust.event import Events
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from bench.server import ROOT
from loadtest.slo import RunStats, Slo, Verdict, judge, read_stats_csv, run_stats

HEALTHY = RunStats(requests=1000, failures=2, requests_per_s=50.0, p50_ms=12.0, p95_ms=80.0, p99_ms=200.0)


def test_a_run_within_every_objective_passes_without_reasons() -> None:
    assert judge(HEALTHY, Slo()) == Verdict(passed=True, reasons=())
    assert judge(HEALTHY, Slo()).describe() == "SLO met"


@pytest.mark.parametrize(("change", "reason"), [
    ({"failures": 120}, "12.0% failed requests > 1.0%"),
    ({"p95_ms": 840.0}, "p95 840 ms > 300 ms"),
    ({"p99_ms": 1500.0}, "p99 1500 ms > 1000 ms"),
    ({"requests_per_s": 3.2}, "3.2 requests/s < 10 requests/s"),
])
def test_each_missed_objective_is_named_with_its_numbers(change: dict, reason: str) -> None:
    verdict = judge(replace(HEALTHY, **change), Slo(min_rps=10.0))
    assert verdict == Verdict(passed=False, reasons=(reason,))
    assert verdict.describe() == f"SLO missed: {reason}"


def test_every_missed_objective_is_listed() -> None:
    verdict = judge(replace(HEALTHY, failures=500, p95_ms=900.0, p99_ms=4000.0, requests_per_s=1.0), Slo(min_rps=5.0))
    assert not verdict.passed
    assert len(verdict.reasons) == 4


def test_a_run_exactly_at_its_limits_passes() -> None:
    at_limits = RunStats(requests=100, failures=1, requests_per_s=5.0, p50_ms=1.0, p95_ms=300.0, p99_ms=1000.0)
    assert judge(at_limits, Slo(min_rps=5.0)).passed


def test_a_run_without_requests_fails() -> None:
    empty = RunStats(requests=0, failures=0, requests_per_s=0.0, p50_ms=math.nan, p95_ms=math.nan, p99_ms=math.nan)
    assert empty.failure_ratio == 0.0
    assert judge(empty, Slo()) == Verdict(passed=False, reasons=("no requests were made",))


def test_failure_ratio_is_failures_over_requests() -> None:
    assert replace(HEALTHY, failures=250).failure_ratio == 0.25


def _locust_environment() -> Environment:
    """Locust's own statistics, fed with recorded requests (no network: the CSV format is under test)."""
    environment = Environment(events=Events())
    for i, response_time_ms in enumerate([3, 5, 8, 13, 21, 34, 55, 89, 144, 233] * 10):
        environment.stats.log_request("POST", "/predict single", response_time_ms, 180)
        if i % 25 == 0:
            environment.stats.log_error("POST", "/predict single", "HTTP 503 not_ready")
    environment.stats.log_request("POST", "/predict batch", 40, 1570)
    return environment


def _write_stats_csv(environment: Environment, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        StatsCSV(environment, PERCENTILES_TO_REPORT).requests_csv(csv.writer(file))


def test_read_stats_csv_gives_the_numbers_locust_reported_live(tmp_path: Path) -> None:
    environment = _locust_environment()
    path = tmp_path / "run_stats.csv"
    _write_stats_csv(environment, path)

    from_csv = read_stats_csv(path)

    live = run_stats(environment.stats.total)
    assert from_csv.requests == live.requests == 101
    assert from_csv.failures == live.failures == 4
    assert from_csv.requests_per_s == pytest.approx(live.requests_per_s)
    assert (from_csv.p50_ms, from_csv.p95_ms, from_csv.p99_ms) == (live.p50_ms, live.p95_ms, live.p99_ms)
    assert from_csv.p50_ms < from_csv.p95_ms <= from_csv.p99_ms


def test_read_stats_csv_of_a_run_without_requests_has_no_percentiles(tmp_path: Path) -> None:
    path = tmp_path / "run_stats.csv"
    _write_stats_csv(Environment(events=Events()), path)

    stats = read_stats_csv(path)

    assert stats.requests == 0
    assert math.isnan(stats.p95_ms) and math.isnan(stats.p99_ms)
    assert not judge(stats, Slo()).passed


def test_read_stats_csv_refuses_a_file_that_is_not_locusts_stats(tmp_path: Path) -> None:
    path = tmp_path / "run_failures.csv"
    path.write_text("Method,Name,Error,Occurrences\nPOST,/predict single,HTTP 503,3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no 'Aggregated' row"):
        read_stats_csv(path)


def test_the_slo_module_can_be_used_without_importing_locust() -> None:
    # Importing Locust monkey-patches the standard library; report readers must not pay for that.
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, loadtest.slo; print('locust' in sys.modules, 'gevent' in sys.modules)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["False", "False"]
