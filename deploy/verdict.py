"""Judge one configuration: pass, marginal or fail, with the reasons in words.

- **fail** (❌): it never became ready; or the SLO (``loadtest.slo.judge``) is
  broken — too many failed requests, p95 or p99 over its threshold, throughput
  under ``min_rps``; or the OOM killer struck or a container restarted during
  the load (the replica is not stable even if the numbers held).
- **marginal** (⚠️): the SLO holds, but with little headroom — p95 or p99 at
  80 % or more of its threshold, failures at 80 % or more of the allowed ratio,
  throughput within 20 % above ``min_rps``, the replicas CPU-throttled in half
  or more of their scheduling periods, or memory at 90 % or more of the limit —
  or the load generator ran out of CPU (the locustfile's own verdict says
  so), so the figures may describe the generator rather than the service.
- **pass** (✅): the SLO holds with all of that headroom.

A busy host is named as well: a 1-minute load average over two runnable tasks
per CPU means other work competed with the stack and the generator, so a pass
becomes marginal and a failure says so — as does a failure whose replicas sat
mostly idle, since the time was then lost outside them.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.matrix import Configuration
from deploy.results import FAIL, MARGINAL, PASS, ContainerFigures
from loadtest.slo import RunStats, Slo, judge

# Within 20 % of a threshold counts as too close: run-to-run noise of a
# one-minute Locust run on a shared host is of that order.
HEADROOM = 0.2
# A replica throttled in half its CFS periods spends its time waiting for quota.
HEAVY_THROTTLING = 0.5
# Past 90 % of the limit the next traffic burst or worker restart meets the OOM killer.
MEMORY_HEADROOM = 0.9
# Throttling worth naming beside a latency or throughput failure.
NOTABLE_THROTTLING = 0.2
# Runnable tasks per CPU (1-minute load average / CPUs) past which other work
# on the host, not the configuration, may set the pace.
BUSY_HOST_LOAD_PER_CPU = 2.0
# A replica under half its CPU limit on average was not what made requests wait.
IDLE_CPU_SHARE = 0.5
MIB = 1024**2


@dataclass(frozen=True)
class Judgement:
    """A verdict (PASS, MARGINAL, FAIL) and the reasons that led to it, most important first."""

    verdict: str
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        """The reasons as one sentence for a table cell."""
        return "; ".join(self.reasons)


def judge_not_ready(why: str) -> Judgement:
    """A configuration that never served: always a failure, ``why`` says what happened."""
    return Judgement(FAIL, (why,))


def judge_run(configuration: Configuration, stats: RunStats, containers: ContainerFigures, slo: Slo,
              generator_saturated: bool, host_load_1m: float | None = None, host_cpus: int | None = None,
              main_failure: str | None = None) -> Judgement:
    """Judge a configuration that ran the load, from Locust's statistics, the containers' figures and the host's load.

    ``host_load_1m`` is the 1-minute load average as the load ended, ``host_cpus`` the host's CPUs (None: unknown),
    ``main_failure`` the most frequent failure (``loadtest.runner.main_failure``), named when failures break the SLO.
    """
    failures: list[str] = []
    if containers.oom_kills:
        failures.append(_oom_reason(configuration, containers))
    if containers.restarts:
        failures.append(f"containers restarted {containers.restarts} time(s) during the load")
    failures.extend(judge(stats, slo).reasons)
    if main_failure and stats.failure_ratio > slo.max_failure_ratio:
        failures.append(f"mostly {main_failure}")
    busy_host = _busy_host(host_load_1m, host_cpus)
    if failures:
        throttled = containers.throttled_ratio
        if throttled >= NOTABLE_THROTTLING:
            failures.append(f"CPU throttled {throttled:.0%} of periods")
        elif _slow(stats, slo) and containers.samples and \
                containers.cpu_percent_mean < IDLE_CPU_SHARE * 100 * configuration.cpus:
            failures.append(f"replicas averaged {containers.cpu_percent_mean:.0f}% CPU of a {100 * configuration.cpus:.0f}% "
                            "limit: the wait was outside them")
        if generator_saturated:
            failures.append("load generator saturated")
        if busy_host:
            failures.append(busy_host)
        return Judgement(FAIL, tuple(failures))
    close = _close_calls(stats, slo) + _resource_pressure(configuration, containers)
    if generator_saturated:
        close.append("load generator saturated: the figures may understate the service")
    if busy_host:
        close.append(f"{busy_host}: the figures may understate the service")
    if close:
        return Judgement(MARGINAL, tuple(close))
    return Judgement(PASS, (
        f"p95 {stats.p95_ms:.0f} ms, p99 {stats.p99_ms:.0f} ms, {stats.failure_ratio:.2%} failed, "
        f"{stats.requests_per_s:.0f} req/s: every SLO threshold held with {HEADROOM:.0%} headroom",
    ))


def _oom_reason(configuration: Configuration, containers: ContainerFigures) -> str:
    known = [workers for workers in containers.workers_per_replica if workers is not None]
    workers = f"{max(known)} worker(s) + master" if known else "unknown workers"
    return (
        f"OOM-killed {containers.oom_kills} time(s): {workers} per replica, "
        f"peak {containers.memory_peak_bytes / MIB:.0f} MiB of the {configuration.memory} limit"
    )


def _close_calls(stats: RunStats, slo: Slo) -> list[str]:
    reasons = []
    for label, value, limit in (("p95", stats.p95_ms, slo.p95_ms), ("p99", stats.p99_ms, slo.p99_ms)):
        if value >= (1 - HEADROOM) * limit:
            reasons.append(f"{label} {value:.0f} ms is within {HEADROOM:.0%} of {limit:.0f} ms")
    if slo.max_failure_ratio > 0 and stats.failure_ratio >= (1 - HEADROOM) * slo.max_failure_ratio:
        reasons.append(f"{stats.failure_ratio:.2%} failed is within {HEADROOM:.0%} of {slo.max_failure_ratio:.2%}")
    if slo.min_rps > 0 and stats.requests_per_s <= (1 + HEADROOM) * slo.min_rps:
        reasons.append(f"{stats.requests_per_s:.0f} req/s is within {HEADROOM:.0%} of the {slo.min_rps:.0f} req/s floor")
    return reasons


def _resource_pressure(configuration: Configuration, containers: ContainerFigures) -> list[str]:
    reasons = []
    if containers.throttled_ratio >= HEAVY_THROTTLING:
        reasons.append(f"CPU throttled {containers.throttled_ratio:.0%} of periods")
    memory_ratio = containers.memory_peak_bytes / configuration.memory_limit_bytes
    if memory_ratio >= MEMORY_HEADROOM:
        reasons.append(
            f"memory peak {containers.memory_peak_bytes / MIB:.0f} MiB is {memory_ratio:.0%} of the {configuration.memory} limit"
        )
    return reasons


def _slow(stats: RunStats, slo: Slo) -> bool:
    """True when latency or throughput, rather than failures alone, broke the SLO."""
    return stats.p95_ms > slo.p95_ms or stats.p99_ms > slo.p99_ms or stats.requests_per_s < slo.min_rps


def _busy_host(host_load_1m: float | None, host_cpus: int | None) -> str | None:
    if host_load_1m is None or not host_cpus or host_load_1m <= BUSY_HOST_LOAD_PER_CPU * host_cpus:
        return None
    return f"host busy (load average {host_load_1m:.1f} on {host_cpus} CPUs)"
