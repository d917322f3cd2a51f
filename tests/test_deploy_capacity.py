"""A configuration's capacity from synthetic probes: the figure, its bound, the bottleneck in words."""

from __future__ import annotations

import pytest

from deploy.capacity import RunFacts, SearchLimits, capacity_result, format_capacity, rejudge_capacity
from deploy.matrix import Configuration, Search
from deploy.probe import ProbeResult
from deploy.results import FAIL, GENERATOR_BOUND, HOST_BOUND, MARGINAL, PASS, ConfigurationResult
from loadtest.slo import Slo

MIB = 1024**2
SEARCH = Search(start_rps=50, max_probes=8, bracket=0.1, pace_s=2.5, max_users=900)
SLO = Slo(max_failure_ratio=0.01, p95_ms=300, p99_ms=1000)


def configuration(replicas: int = 1, cpus: float = 0.25, memory_mib: int = 256) -> Configuration:
    return Configuration(index=1, name=f"{replicas}x{cpus:g}", replicas=replicas, cpus=cpus, memory=f"{memory_mib}M",
                         memory_limit_bytes=memory_mib * MIB, workers=None)


def probe(number: int, rate: float, passed: bool, cpu: float = 10.0, throttled: float = 0.0, memory_mib: int = 120,
          saturated: bool = False, oom: int = 0, p95: float | None = 40.0, requests: int = 1000) -> ProbeResult:
    return ProbeResult(
        number=number, offered_rps=rate, achieved_rps=rate if passed else 0.9 * rate, users=int(rate * 2.5),
        requests=requests, failures=0, p50_ms=10.0, p95_ms=p95, p99_ms=None if p95 is None else 2 * p95,
        cpu_percent_mean=cpu, cpu_percent_peak=cpu + 2, throttled_ratio=throttled, memory_peak_bytes=memory_mib * MIB,
        samples=10, oom_kills=oom, restarts=0, unhealthy=(), generator_saturated=saturated, passed=passed,
        reasons=("ok",) if passed else ("p95 400 ms > 300 ms",),
    )


def result(config: Configuration, probes: list[ProbeResult], ceiling: float | None = 1440,
           host_cpus: int = 2, max_rps: float = 360) -> ConfigurationResult:
    return capacity_result(config, SEARCH, probes, SearchLimits(max_rps, ceiling, host_cpus),
                           RunFacts((1,), "2026-12-02T08:00:00+00:00", "01-x", 9.0, 1.2))


def test_a_cpu_bound_capacity_is_the_configurations_own_and_names_the_quota():
    probes = [probe(1, 50, True, cpu=10), probe(2, 100, True, cpu=20), probe(3, 200, False, cpu=25, throttled=0.6),
              probe(4, 150, False, cpu=25, throttled=0.5), probe(5, 125, False, cpu=24, throttled=0.4),
              probe(6, 112.5, True, cpu=23, throttled=0.1)]
    row = result(configuration(), probes)
    assert (row.capacity_rps, row.capacity_bound, row.verdict) == (112.5, None, PASS)
    assert row.bottleneck.startswith("CPU quota: replicas at 96% of their 0.25-CPU limit, throttled in 40% of periods "
                                     "at 125 req/s")
    assert "capacity 112.5 req/s (failed at 125, bracket still open)" in row.reason  # 12.5 > 10% of 112.5
    assert row.requests_per_s == 112.5 and row.containers.throttled_ratio == 0.1  # figures of the probe at capacity
    assert row.capacity_per_cpu == 450 and row.capacity_per_gib == 450
    assert len(row.probes) == 6 and ConfigurationResult.from_dict(row.to_dict()) == row


def test_a_pass_at_the_highest_rate_offered_is_a_generator_bound_lower_bound():
    probes = [probe(n, rate, True) for n, rate in enumerate((50, 100, 200, 360), start=1)]
    row = result(configuration(cpus=1.0), probes)
    assert (row.capacity_rps, row.capacity_bound, row.verdict) == (360, GENERATOR_BOUND, MARGINAL)
    assert "every probe passed, up to the 360 req/s the bench offers" in row.bottleneck
    assert format_capacity(row.capacity_rps, row.capacity_bound) == "≥ 360 req/s (generator-bound)"


def test_a_capacity_near_the_measured_ceiling_or_a_saturated_generator_is_generator_bound():
    near = [probe(1, 200, True), probe(2, 300, False)]
    assert result(configuration(), near, ceiling=240, max_rps=240).capacity_bound == GENERATOR_BOUND
    saturated = [probe(1, 100, True), probe(2, 200, False, saturated=True)]
    row = result(configuration(), saturated)
    assert row.capacity_bound == GENERATOR_BOUND and "saturated at 200 req/s" in row.bottleneck


def test_limits_beyond_the_hosts_cpus_are_host_bound():
    row = result(configuration(replicas=3, cpus=1.0), [probe(1, 100, True), probe(2, 200, False)])
    assert row.capacity_bound == HOST_BOUND
    assert row.bottleneck.startswith("the host: the limits add up to 3 CPUs on a 2-CPU host")


def test_memory_and_an_oom_kill_are_named_before_the_cpu():
    oom = [probe(1, 100, True), probe(2, 200, False, cpu=25, throttled=0.7, oom=1, memory_mib=250)]
    assert result(configuration(), oom).bottleneck.startswith("memory: OOM-killed at 200 req/s, peak 250 MiB")
    full = [probe(1, 100, True), probe(2, 200, False, memory_mib=240)]
    assert result(configuration(), full).bottleneck.startswith("memory: peak 240 MiB at 200 req/s, 94% of the 256M")


def test_replicas_with_room_under_a_failing_probe_make_the_capacity_the_host_s():
    row = result(configuration(cpus=1.0), [probe(1, 100, True, cpu=20), probe(2, 200, False, cpu=30)])
    assert (row.capacity_rps, row.capacity_bound, row.verdict) == (100, HOST_BOUND, MARGINAL)
    assert row.bottleneck.startswith("the host: at 200 req/s the replicas had room (30% of their 1-CPU limit")
    assert format_capacity(row.capacity_rps, row.capacity_bound) == "≥ 100 req/s (host-bound)"


def test_a_busy_replica_under_a_failing_probe_keeps_the_capacity_its_own():
    row = result(configuration(cpus=1.0), [probe(1, 100, True, cpu=60), probe(2, 200, False, cpu=85)])
    assert (row.capacity_rps, row.capacity_bound) == (100, None)
    assert row.bottleneck.startswith("CPU quota: replicas at 85% of their 1-CPU limit")


def test_idle_replicas_that_never_passed_point_outside_them():
    row = result(configuration(cpus=1.0), [probe(n, rate, False, cpu=30) for n, rate in enumerate((50, 25), start=1)])
    assert row.capacity_bound is None and "outside the replicas (Nginx, the network or the host)" in row.reason


def test_no_pass_at_all_is_a_failed_row_without_a_capacity():
    probes = [probe(n, rate, False) for n, rate in enumerate((50, 25, 12.5, 6.2, 3.1, 1.6), start=1)]
    row = result(configuration(), probes)
    assert (row.capacity_rps, row.verdict, row.containers) == (None, FAIL, None)
    assert row.reason.startswith("no probe passed, down to 1.6 req/s")
    assert format_capacity(None, None) == "–"


def test_a_budget_spent_while_doubling_says_the_limit_was_not_reached():
    row = result(configuration(cpus=1.0), [probe(1, 50, True, cpu=5), probe(2, 100, True, cpu=10)])
    assert row.capacity_rps == 100 and row.bottleneck.startswith("not reached")


def test_judging_again_under_another_slo_moves_the_capacity():
    probes = [probe(1, 50, True, p95=40), probe(2, 100, True, p95=250), probe(3, 200, False, p95=900)]
    row = result(configuration(), probes)
    assert row.capacity_rps == 100
    stricter = rejudge_capacity(row, configuration(), SEARCH, Slo(max_failure_ratio=0.01, p95_ms=200, p99_ms=1000),
                                SearchLimits(360, 1440, 2))
    assert stricter.capacity_rps == 50
    assert stricter.probes[1].reasons == ("p95 250 ms > 200 ms",)


@pytest.mark.parametrize(("capacity", "bound", "text"), [
    (125.0, None, "125 req/s"), (360.0, "generator", "≥ 360 req/s (generator-bound)"),
    (300.0, "host", "≥ 300 req/s (host-bound)"),
])
def test_a_capacity_is_written_as_a_lower_bound_when_the_bench_set_it(capacity, bound, text):
    assert format_capacity(capacity, bound) == text
