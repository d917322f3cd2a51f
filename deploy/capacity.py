"""A configuration's capacity from its probes: the figure, what bounded it, and the bottleneck in words.

- **Capacity**: the highest offered rate that passed below the lowest that
  failed (:func:`deploy.search.conclude`; a probe's rules in :mod:`deploy.probe`).
- **Bound**: a capacity the bench itself may have set is a lower bound, said so
  in ``capacity_bound``: ``"host"`` when the configuration's CPU limits add up to
  more than the host's CPUs (they cannot all be granted, and the load generator
  shares the host), or when the first failing probe failed while the replicas
  had room (no OOM kill, memory under MEMORY_HEADROOM of the limit, CPU under
  BUSY_CPU_SHARE of the limit and throttled in under NOTABLE_THROTTLING of the
  periods): then what ran out was outside the configuration, the CPUs the
  replicas share with Nginx and the generator; ``"generator"`` when the search passed at the highest rate the
  bench offers, when the capacity is within GENERATOR_REACH of the bench's
  measured ceiling (Locust against Nginx's own /nginx-health), or when the first
  failing probe failed because the generator saturated.
- **Bottleneck**, read from the first probe above the capacity (else the one at it):
  the generator or the host for a bounded capacity; memory (an OOM kill, or a peak
  at MEMORY_HEADROOM of the limit); the CPU quota (throttled in NOTABLE_THROTTLING
  of the periods or more, or the replicas at BUSY_CPU_SHARE of their limit);
  otherwise the wait happened outside the replicas (Nginx, the network, the host).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deploy.matrix import Configuration, Search
from deploy.outcome import identity
from deploy.probe import ProbeResult, rejudge_probe
from deploy.results import (
    COMPLETED, FAIL, GENERATOR_BOUND, HOST_BOUND, MARGINAL, PASS, ConfigurationResult, ContainerFigures,
)
from deploy.search import Found, Outcome, conclude
from deploy.verdict import MEMORY_HEADROOM, NOTABLE_THROTTLING
from loadtest.slo import Slo

# A capacity at 80% or more of the bench's ceiling may be the bench's, not the configuration's:
# Locust's own figures and the host's noise leave no finer margin.
GENERATOR_REACH = 0.8
# Replicas averaging this share of their CPU limit had no CPU to spare.
BUSY_CPU_SHARE = 0.8
MIB = 1024**2


@dataclass(frozen=True)
class SearchLimits:
    """What besides the configuration bounds the figures a capacity search can show.

    ``max_rps``: the highest rate the search offers, req/s (what the matrix's max_users at pace_s offer, no
    more than the bench's ceiling); ``ceiling_rps``: the bench's measured ceiling, req/s (Locust against
    Nginx's /nginx-health; None when it was not measured or not even its first probe passed);
    ``host_cpus``: the Docker host's CPUs (None or 0: unknown).
    """

    max_rps: float
    ceiling_rps: float | None
    host_cpus: int | None


@dataclass(frozen=True)
class RunFacts:
    """What a run recorded about one configuration besides its probes.

    ``workers_per_replica``: the Gunicorn workers each replica started (None: it did not say);
    ``started_at``: when its stack was started, UTC, ISO 8601; ``artifacts``: its directory in the run
    directory; ``ready_s``: seconds its stack took to become ready (None: unknown); ``host_load_1m``: the
    host's 1-minute load average as the search ended (``os.getloadavg``; None: unknown).
    """

    workers_per_replica: tuple[int | None, ...]
    started_at: str
    artifacts: str
    ready_s: float | None
    host_load_1m: float | None

    @classmethod
    def of_result(cls, result: ConfigurationResult) -> RunFacts:
        """The facts ``result`` kept."""
        workers = result.containers.workers_per_replica if result.containers else ()
        return cls(workers, result.started_at, result.artifacts, result.ready_s, result.host_load_1m)


def outcomes(probes: Sequence[ProbeResult]) -> list[Outcome]:
    """The probes as the search sees them."""
    return [Outcome(probe.offered_rps, probe.passed) for probe in probes]


def capacity_bound(configuration: Configuration, found: Found, first_fail: ProbeResult | None,
                   limits: SearchLimits) -> str | None:
    """HOST_BOUND, GENERATOR_BOUND or None (the configuration set its capacity); see the module docstring."""
    if found.capacity_rps is None:
        return None
    if limits.host_cpus and configuration.total_cpus > limits.host_cpus:
        return HOST_BOUND
    if found.at_ceiling or (first_fail is not None and first_fail.generator_saturated):
        return GENERATOR_BOUND
    if limits.ceiling_rps and found.capacity_rps >= GENERATOR_REACH * limits.ceiling_rps:
        return GENERATOR_BOUND
    if first_fail is not None and replicas_had_room(configuration, first_fail):
        return HOST_BOUND
    return None


def cpu_share(configuration: Configuration, probe: ProbeResult) -> float:
    """The replicas' mean CPU during ``probe`` as a share of their limit (1.0 = the whole quota)."""
    limit_percent = 100 * configuration.cpus
    return probe.cpu_percent_mean / limit_percent if limit_percent else 0.0


def replicas_had_room(configuration: Configuration, probe: ProbeResult) -> bool:
    """Whether ``probe`` left the replicas short of nothing: no OOM kill, memory, CPU and throttling under their marks."""
    memory_share = probe.memory_peak_bytes / configuration.memory_limit_bytes
    return (not probe.oom_kills and memory_share < MEMORY_HEADROOM and probe.throttled_ratio < NOTABLE_THROTTLING
            and cpu_share(configuration, probe) < BUSY_CPU_SHARE)


def bottleneck(configuration: Configuration, found: Found, bound: str | None, first_fail: ProbeResult | None,
               at_capacity: ProbeResult | None, limits: SearchLimits) -> str:
    """What limited the configuration, in words (see the module docstring)."""
    if bound == HOST_BOUND and limits.host_cpus and configuration.total_cpus > limits.host_cpus:
        return (f"the host: the limits add up to {configuration.total_cpus:g} CPUs on a {limits.host_cpus}-CPU host "
                "that also runs the load generator and Nginx")
    if bound == HOST_BOUND:
        return (f"the host: at {first_fail.offered_rps:g} req/s the replicas had room "
                f"({cpu_share(configuration, first_fail):.0%} of their {configuration.cpus:g}-CPU limit, throttled in "
                f"{first_fail.throttled_ratio:.0%} of periods), so the CPUs they share with Nginx and the load "
                "generator ran out first")
    if bound == GENERATOR_BOUND:
        if found.at_ceiling:
            return f"the load generator: every probe passed, up to the {limits.max_rps:g} req/s the bench offers"
        if first_fail is not None and first_fail.generator_saturated:
            return f"the load generator: it saturated at {first_fail.offered_rps:g} req/s"
        return f"the load generator: within {GENERATOR_REACH:.0%} of the bench's ceiling of {limits.ceiling_rps:g} req/s"
    probe = first_fail or at_capacity
    if probe is None:
        return "not measured"
    if found.capacity_rps is None and first_fail is not None and first_fail.requests == 0:
        return f"no answer at {first_fail.offered_rps:g} req/s: {'; '.join(first_fail.reasons)}"
    where = f"at {probe.offered_rps:g} req/s"
    busy = cpu_share(configuration, probe)
    memory_share = probe.memory_peak_bytes / configuration.memory_limit_bytes
    cpu_words = (f"replicas at {busy:.0%} of their {configuration.cpus:g}-CPU limit, "
                 f"throttled in {probe.throttled_ratio:.0%} of periods")
    if probe.oom_kills:
        return (f"memory: OOM-killed {where}, peak {probe.memory_peak_bytes / MIB:.0f} MiB of the "
                f"{configuration.memory} limit")
    if memory_share >= MEMORY_HEADROOM:
        return f"memory: peak {probe.memory_peak_bytes / MIB:.0f} MiB {where}, {memory_share:.0%} of the {configuration.memory} limit"
    if probe.throttled_ratio >= NOTABLE_THROTTLING or busy >= BUSY_CPU_SHARE:
        return f"CPU quota: {cpu_words} {where}"
    if first_fail is None:
        return f"not reached: the probe budget ended with every probe passing ({cpu_words} {where})"
    return f"outside the replicas (Nginx, the network or the host): {cpu_words} {where}"


def capacity_result(configuration: Configuration, search: Search, probes: Sequence[ProbeResult],
                    limits: SearchLimits, run: RunFacts) -> ConfigurationResult:
    """The result row of a configuration's search: its capacity, bound and bottleneck, and the figures of the
    probe at capacity. Verdict: PASS for a capacity the configuration set, MARGINAL for a bounded one
    (a lower bound), FAIL when no probe passed."""
    found = conclude(outcomes(probes), limits.max_rps, search.bracket)
    first_fail = next((p for p in probes if not p.passed and p.offered_rps == found.lowest_fail_rps), None)
    at_capacity = next((p for p in probes if p.passed and p.offered_rps == found.capacity_rps), None)
    bound = capacity_bound(configuration, found, first_fail, limits)
    words = bottleneck(configuration, found, bound, first_fail, at_capacity, limits)
    if found.capacity_rps is None:
        lowest = min((p.offered_rps for p in probes), default=0)
        verdict, reason = FAIL, f"no probe passed, down to {lowest:g} req/s: {words}"
    else:
        verdict = PASS if bound is None else MARGINAL
        reason = f"capacity {format_capacity(found.capacity_rps, bound)}"
        if found.lowest_fail_rps is not None:
            reason += f" (failed at {found.lowest_fail_rps:g}" + ("" if found.converged else ", bracket still open") + ")"
        reason += f"; bottleneck: {words}"
        if found.noisy_passes:
            reason += f"; noisy: passed at {', '.join(f'{rate:g}' for rate in found.noisy_passes)} above a fail"
    figures = None
    if at_capacity is not None:
        figures = ContainerFigures(
            workers_per_replica=run.workers_per_replica, cpu_percent_mean=at_capacity.cpu_percent_mean,
            cpu_percent_peak=at_capacity.cpu_percent_peak, throttled_ratio=at_capacity.throttled_ratio,
            memory_peak_bytes=at_capacity.memory_peak_bytes, oom_kills=sum(p.oom_kills for p in probes),
            restarts=sum(p.restarts for p in probes), samples=at_capacity.samples,
        )
    return ConfigurationResult(
        **identity(configuration, run.started_at, run.artifacts), status=COMPLETED, verdict=verdict, reason=reason,
        requests=at_capacity.requests if at_capacity else 0, failures=at_capacity.failures if at_capacity else 0,
        failure_ratio=round(at_capacity.failure_ratio, 6) if at_capacity else 0.0,
        requests_per_s=at_capacity.achieved_rps if at_capacity else 0.0,
        p50_ms=at_capacity.p50_ms if at_capacity else None, p95_ms=at_capacity.p95_ms if at_capacity else None,
        p99_ms=at_capacity.p99_ms if at_capacity else None,
        generator_saturated=any(p.generator_saturated for p in probes), containers=figures,
        ready_s=None if run.ready_s is None else round(run.ready_s, 1),
        host_load_1m=None if run.host_load_1m is None else round(run.host_load_1m, 2),
        capacity_rps=found.capacity_rps, capacity_bound=bound, bottleneck=words, probes=tuple(probes),
    )


def format_capacity(capacity_rps: float | None, bound: str | None) -> str:
    """"125 req/s", "≥ 360 req/s (generator-bound)", or "–" when there is none."""
    if capacity_rps is None:
        return "–"
    if bound is None:
        return f"{capacity_rps:g} req/s"
    return f"≥ {capacity_rps:g} req/s ({bound}-bound)"


def rejudge_capacity(result: ConfigurationResult, configuration: Configuration, search: Search, slo: Slo,
                     limits: SearchLimits) -> ConfigurationResult:
    """``result`` of a capacity search judged again from its kept probes under ``slo`` and the current rules;
    a configuration that never ran a probe is returned as it was."""
    if not result.probes:
        return result
    probes = [rejudge_probe(probe, slo) for probe in result.probes]
    return capacity_result(configuration, search, probes, limits, RunFacts.of_result(result))
