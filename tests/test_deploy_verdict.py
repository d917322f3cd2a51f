"""Verdicts: pass, marginal or fail, and the reason a reader sees in the table."""

from __future__ import annotations

import dataclasses

import pytest

from deploy.matrix import Configuration, parse_memory
from deploy.results import FAIL, MARGINAL, PASS, ContainerFigures
from deploy.verdict import judge_not_ready, judge_run
from loadtest.slo import RunStats, Slo

SLO = Slo(max_failure_ratio=0.01, p95_ms=300, p99_ms=1000, min_rps=120)
SMALL = Configuration(index=2, name="1x0.25cpu-128M", replicas=1, cpus=0.25, memory="128M",
                      memory_limit_bytes=parse_memory("128M"), workers=None)
HEALTHY_STATS = RunStats(requests=9000, failures=0, requests_per_s=150.0, p50_ms=8, p95_ms=40, p99_ms=90)
HEALTHY_CONTAINERS = ContainerFigures(workers_per_replica=(1,), cpu_percent_mean=12.0, cpu_percent_peak=20.0,
                                      throttled_ratio=0.05, memory_peak_bytes=60 * 1024**2, oom_kills=0,
                                      restarts=0, samples=60)


def stats(**changes) -> RunStats:
    return dataclasses.replace(HEALTHY_STATS, **changes)


def containers(**changes) -> ContainerFigures:
    return dataclasses.replace(HEALTHY_CONTAINERS, **changes)


def test_headroom_everywhere_passes_and_says_the_figures():
    judgement = judge_run(SMALL, HEALTHY_STATS, HEALTHY_CONTAINERS, SLO, generator_saturated=False)
    assert judgement.verdict == PASS
    assert judgement.reason.startswith("p95 40 ms, p99 90 ms, 0.00% failed, 150 req/s")


def test_slow_p95_fails_and_names_the_throttling_behind_it():
    judgement = judge_run(SMALL, stats(p95_ms=840, requests_per_s=90), containers(throttled_ratio=0.62), SLO, False)
    assert judgement.verdict == FAIL
    assert "p95 840 ms > 300 ms" in judgement.reason
    assert "90.0 requests/s < 120 requests/s" in judgement.reason
    assert judgement.reasons[-1] == "CPU throttled 62% of periods"


def test_failed_requests_over_the_slo_fail():
    judgement = judge_run(SMALL, stats(failures=1080), HEALTHY_CONTAINERS, SLO, False)
    assert judgement.verdict == FAIL
    assert judgement.reason == "12.0% failed requests > 1.0%"


def test_the_main_failure_is_named_when_failures_break_the_slo():
    judgement = judge_run(SMALL, stats(failures=1080), HEALTHY_CONTAINERS, SLO, False,
                          main_failure="HTTP 502 bad_gateway (88% of failures)")
    assert judgement.reason == "12.0% failed requests > 1.0%; mostly HTTP 502 bad_gateway (88% of failures)"
    few = judge_run(SMALL, stats(failures=9), HEALTHY_CONTAINERS, SLO, False, main_failure="HTTP 502 bad_gateway")
    assert "mostly" not in few.reason


def test_an_oom_kill_fails_even_when_the_slo_held():
    judgement = judge_run(SMALL, HEALTHY_STATS, containers(oom_kills=3, memory_peak_bytes=127 * 1024**2), SLO, False)
    assert judgement.verdict == FAIL
    assert judgement.reason == "OOM-killed 3 time(s): 1 worker(s) + master per replica, peak 127 MiB of the 128M limit"


def test_a_restart_during_the_load_fails():
    judgement = judge_run(SMALL, HEALTHY_STATS, containers(restarts=2), SLO, False)
    assert judgement.verdict == FAIL
    assert judgement.reason == "containers restarted 2 time(s) during the load"


def test_no_request_at_all_fails():
    nothing = RunStats(requests=0, failures=0, requests_per_s=0.0, p50_ms=float("nan"), p95_ms=float("nan"),
                       p99_ms=float("nan"))
    assert judge_run(SMALL, nothing, HEALTHY_CONTAINERS, SLO, False).verdict == FAIL


@pytest.mark.parametrize(("stats_changes", "container_changes", "saturated", "reason"), [
    ({"p95_ms": 250}, {}, False, "p95 250 ms is within 20% of 300 ms"),
    ({"p99_ms": 900}, {}, False, "p99 900 ms is within 20% of 1000 ms"),
    ({"failures": 81}, {}, False, "0.90% failed is within 20% of 1.00%"),
    ({"requests_per_s": 130}, {}, False, "130 req/s is within 20% of the 120 req/s floor"),
    ({}, {"throttled_ratio": 0.55}, False, "CPU throttled 55% of periods"),
    ({}, {"memory_peak_bytes": 120 * 1024**2}, False, "memory peak 120 MiB is 94% of the 128M limit"),
    ({}, {}, True, "load generator saturated"),
])
def test_holding_the_slo_without_headroom_is_marginal(stats_changes, container_changes, saturated, reason):
    judgement = judge_run(SMALL, stats(**stats_changes), containers(**container_changes), SLO, saturated)
    assert judgement.verdict == MARGINAL
    assert judgement.reason.startswith(reason)


def test_just_outside_the_margin_still_passes():
    judgement = judge_run(SMALL, stats(p95_ms=239, p99_ms=799, requests_per_s=145), containers(throttled_ratio=0.49),
                          SLO, False)
    assert judgement.verdict == PASS


def test_a_slow_run_whose_replicas_sat_idle_says_the_wait_was_elsewhere():
    judgement = judge_run(SMALL, stats(p95_ms=900), containers(cpu_percent_mean=6.0, throttled_ratio=0.0), SLO, False)
    assert judgement.reasons == ("p95 900 ms > 300 ms", "replicas averaged 6% CPU of a 25% limit: the wait was outside them")


def test_a_busy_host_turns_a_pass_marginal_and_is_named_in_a_failure():
    busy = judge_run(SMALL, HEALTHY_STATS, HEALTHY_CONTAINERS, SLO, False, host_load_1m=9.5, host_cpus=2)
    assert busy.verdict == MARGINAL
    assert busy.reason == "host busy (load average 9.5 on 2 CPUs): the figures may understate the service"
    failed = judge_run(SMALL, stats(failures=500), HEALTHY_CONTAINERS, SLO, False, host_load_1m=9.5, host_cpus=2)
    assert failed.reasons[-1] == "host busy (load average 9.5 on 2 CPUs)"
    calm = judge_run(SMALL, HEALTHY_STATS, HEALTHY_CONTAINERS, SLO, False, host_load_1m=3.9, host_cpus=2)
    assert calm.verdict == PASS


def test_a_configuration_that_never_started_fails_with_its_reason():
    judgement = judge_not_ready("OOM-killed 2 time(s) while starting (128M limit per replica)")
    assert (judgement.verdict, judgement.reason) == (FAIL, "OOM-killed 2 time(s) while starting (128M limit per replica)")
