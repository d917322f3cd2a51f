"""The verdict a finished Locust run leaves behind: the SLO's reasons, and a saturated generator as a flag."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from locust.env import Environment
from locust.event import Events

from loadtest.results import final_verdict, measured_window_s, write_verdict
from loadtest.runner import generator_saturated
from loadtest.runner import measured_window_s as read_window_s
from loadtest.selfwatch import LATE_MS, NodeCpu, Sample

CALM = NodeCpu("generator", (Sample(cpu_percent=20.0, late_ms=1.0),) * 10)
STARVED = NodeCpu("generator", (Sample(cpu_percent=20.0, late_ms=LATE_MS + 5),) * 10)
SLO_OPTIONS = argparse.Namespace(slo_max_failure_ratio=0.01, slo_p95_ms=300.0, slo_p99_ms=1000.0, slo_min_rps=0.0)


def finished_run(response_time_ms: float) -> Environment:
    """An environment whose statistics hold 100 answered requests of ``response_time_ms`` each."""
    environment = Environment(events=Events(), parsed_options=SLO_OPTIONS)
    environment.create_local_runner()
    for _ in range(100):
        environment.stats.log_request("POST", "/predict", response_time_ms, 100)
    return environment


@pytest.mark.parametrize(("nodes", "response_time_ms", "passed", "saturated", "reasons"), [
    ([CALM], 5, True, False, []),
    ([CALM], 900, False, False, ["p95"]),
    ([STARVED], 5, False, True, ["generator"]),
    ([STARVED], 900, False, True, ["p95", "generator"]),
])
def test_the_verdict_flags_a_saturated_generator_beside_its_reasons(nodes, response_time_ms, passed, saturated,
                                                                    reasons) -> None:
    verdict, stats, slo = final_verdict(finished_run(response_time_ms), nodes)
    assert (verdict.passed, verdict.generator_saturated) == (passed, saturated)
    assert [reason.split()[0] for reason in verdict.reasons] == reasons


def test_locusts_own_cpu_warning_flags_the_generator_too() -> None:
    environment = finished_run(5)
    environment.runner.cpu_warning_emitted = True
    verdict, _, _ = final_verdict(environment, [CALM])
    assert verdict.generator_saturated and not verdict.passed


@pytest.mark.parametrize("nodes", [[CALM], [STARVED]], ids=["calm", "starved"])
def test_the_written_verdict_carries_the_flag_that_deploy_reads(tmp_path: Path, nodes) -> None:
    verdict, stats, slo = final_verdict(finished_run(5), nodes)
    write_verdict(tmp_path / "locust_verdict.json", verdict, stats, slo, nodes, None)
    document = json.loads((tmp_path / "locust_verdict.json").read_text(encoding="utf-8"))
    assert document["generator_saturated"] is verdict.generator_saturated
    assert generator_saturated(tmp_path) is verdict.generator_saturated


def test_the_window_runs_from_the_start_of_the_figures_to_the_stop_and_deploy_reads_it_back(tmp_path: Path) -> None:
    environment = finished_run(5)
    started = environment.stats.total.start_time
    assert measured_window_s(environment, None) is None, "not stopped: no window"
    assert measured_window_s(environment, started - 1) is None, "a stop before the start is no window"
    window_s = measured_window_s(environment, started + 12.5)
    assert window_s == pytest.approx(12.5)
    environment.stats.reset_all()  # --reset-stats once every user is spawned: the window starts again
    assert measured_window_s(environment, started + 12.5) < window_s
    verdict, stats, slo = final_verdict(environment, [CALM])
    write_verdict(tmp_path / "locust_verdict.json", verdict, stats, slo, [CALM], window_s)
    assert json.loads((tmp_path / "locust_verdict.json").read_text(encoding="utf-8"))["window_s"] == window_s
    assert read_window_s(tmp_path) == pytest.approx(12.5)
