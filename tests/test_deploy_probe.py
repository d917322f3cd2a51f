"""A probe's validity rules: SLO, achieved against offered rate, the generator, the replicas' health."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from deploy.probe import ProbeEvents, ProbeResult, judge_probe, probe_result, rejudge_probe, write_probes
from deploy.sampling import StatsSummary
from loadtest.slo import RunStats, Slo

SLO = Slo(max_failure_ratio=0.01, p95_ms=300, p99_ms=1000, min_rps=240)
QUIET = StatsSummary(cpu_percent_mean=20.0, cpu_percent_peak=24.0, throttled_ratio=0.0, memory_peak_bytes=100 << 20,
                     samples=10)


def stats(achieved: float = 100.0, failures: int = 0, p95: float = 50.0, p99: float = 120.0) -> RunStats:
    return RunStats(requests=1000, failures=failures, requests_per_s=achieved, p50_ms=20.0, p95_ms=p95, p99_ms=p99)


def judged(offered: float = 100.0, achieved: float = 100.0, run: RunStats | None = None, saturated: bool = False,
           oom: int = 0, restarts: int = 0, unhealthy: tuple[str, ...] = ()) -> tuple[bool, tuple[str, ...]]:
    return judge_probe(offered, achieved, run if run is not None else stats(achieved), SLO,
                       ProbeEvents(saturated, oom, restarts, unhealthy))


def test_a_probe_that_kept_pace_within_the_slo_passes_and_says_its_figures():
    passed, reasons = judged()
    assert passed
    assert reasons == ("100.0 req/s, p95 50 ms, p99 120 ms, 0.00% failed",)


def test_the_slos_throughput_floor_does_not_apply_the_offered_rate_does():
    # 100 req/s is under the matrix's min_rps of 240, but a probe is judged against what it offered.
    assert judged(offered=100, achieved=100)[0]


@pytest.mark.parametrize(("achieved", "passes"), [(95.0, True), (94.9, False), (50.0, False)])
def test_an_achieved_rate_under_95_percent_of_the_offered_fails_never_passes_at_the_lower_rate(achieved, passes):
    passed, reasons = judged(offered=100, achieved=achieved)
    assert passed is passes
    if not passes:
        assert reasons[0].startswith(f"achieved {achieved:.1f} of 100 req/s offered")


@pytest.mark.parametrize(("run", "expected"), [
    (stats(failures=20), "2.0% failed requests > 1.0%"),
    (stats(p95=310), "p95 310 ms > 300 ms"),
    (stats(p99=1200), "p99 1200 ms > 1000 ms"),
])
def test_each_slo_threshold_fails_a_probe(run, expected):
    passed, reasons = judged(run=run)
    assert not passed and expected in reasons


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"saturated": True}, "load generator saturated"),
    ({"oom": 1}, "OOM-killed 1 time(s)"),
    ({"restarts": 2}, "containers restarted 2 time(s)"),
    ({"unhealthy": ("api-2 unhealthy",)}, "api-2 unhealthy"),
])
def test_the_generator_and_the_replicas_health_fail_a_probe_whatever_the_latency(kwargs, expected):
    passed, reasons = judged(**kwargs)
    assert not passed and expected in reasons


def test_no_statistics_is_a_failure():
    passed, reasons = judge_probe(100, 0, None, SLO, ProbeEvents())
    assert not passed and reasons == ("Locust wrote no statistics",)


def test_a_probe_without_answers_keeps_no_percentiles_and_round_trips():
    nothing = RunStats(requests=0, failures=0, requests_per_s=0, p50_ms=math.nan, p95_ms=math.nan, p99_ms=math.nan)
    probe = probe_result(3, 200, 0, 500, nothing, QUIET, SLO, ProbeEvents(), "probe-03-200rps")
    assert (probe.p95_ms, probe.passed) == (None, False)
    assert ProbeResult.from_dict(probe.to_dict()) == probe


def test_judging_again_under_a_stricter_slo_uses_the_kept_figures(tmp_path: Path):
    probe = probe_result(1, 100, 99, 250, stats(99, p95=250), QUIET, SLO, ProbeEvents())
    assert probe.passed
    stricter = rejudge_probe(probe, Slo(max_failure_ratio=0.01, p95_ms=200, p99_ms=1000))
    assert not stricter.passed and "p95 250 ms > 200 ms" in stricter.reasons
    write_probes([probe, stricter], tmp_path / "probes.csv")
    lines = (tmp_path / "probes.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("number,offered_rps,achieved_rps,users") and len(lines) == 3


def test_judging_again_keeps_what_befell_the_generator_and_the_replicas():
    events = ProbeEvents(generator_saturated=True, oom_kills=1, restarts=2, unhealthy=("api-1 exited",))
    probe = probe_result(1, 100, 99, 250, stats(99), QUIET, SLO, events)
    again = rejudge_probe(ProbeResult.from_dict(probe.to_dict()), SLO)
    assert again.events == events
    assert again.reasons == ("load generator saturated", "OOM-killed 1 time(s)", "containers restarted 2 time(s)",
                             "api-1 exited")
