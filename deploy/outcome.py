"""Turn one configuration's raw measurements into its result row with a verdict.

The runner feeds it what it measured live; the tests feed it Locust CSVs and
stats samples recorded from a real run.
"""

from __future__ import annotations

import math

from deploy.matrix import Configuration
from deploy.results import COMPLETED, FAIL, ConfigurationResult, ContainerFigures
from deploy.sampling import StatsSample, summarize
from deploy.verdict import judge_not_ready, judge_run
from loadtest.slo import RunStats, Slo


def identity(configuration: Configuration, started_at: str, artifacts: str) -> dict[str, object]:
    """The fields of a result that come from the configuration itself, as keyword arguments."""
    return dict(
        index=configuration.index, name=configuration.name, replicas=configuration.replicas, cpus=configuration.cpus,
        memory=configuration.memory, memory_limit_bytes=configuration.memory_limit_bytes,
        workers=configuration.workers, total_cpus=configuration.total_cpus,
        total_memory_bytes=configuration.total_memory_bytes, started_at=started_at, artifacts=artifacts,
    )


def measured_result(configuration: Configuration, slo: Slo, stats: RunStats, samples: list[StatsSample],
                    workers_per_replica: tuple[int | None, ...], oom_kills: int, restarts: int,
                    generator_saturated: bool, started_at: str, artifacts: str,
                    ready_s: float | None, host_load_1m: float | None = None,
                    host_cpus: int | None = None, main_failure: str | None = None) -> ConfigurationResult:
    """The result of a configuration that ran the load: Locust's totals, the sampled figures, the verdict."""
    summary = summarize(samples)
    figures = ContainerFigures(
        workers_per_replica=tuple(workers_per_replica),
        cpu_percent_mean=round(summary.cpu_percent_mean, 1),
        cpu_percent_peak=round(summary.cpu_percent_peak, 1),
        throttled_ratio=round(summary.throttled_ratio, 4),
        memory_peak_bytes=summary.memory_peak_bytes,
        oom_kills=oom_kills,
        restarts=restarts,
        samples=summary.samples,
    )
    judgement = judge_run(configuration, stats, figures, slo, generator_saturated, host_load_1m, host_cpus, main_failure)
    return ConfigurationResult(
        **identity(configuration, started_at, artifacts), status=COMPLETED, verdict=judgement.verdict,
        reason=judgement.reason, requests=stats.requests, failures=stats.failures,
        failure_ratio=round(stats.failure_ratio, 6), requests_per_s=round(stats.requests_per_s, 2),
        p50_ms=_ms(stats.p50_ms), p95_ms=_ms(stats.p95_ms), p99_ms=_ms(stats.p99_ms),
        generator_saturated=generator_saturated, containers=figures,
        ready_s=None if ready_s is None else round(ready_s, 1),
        host_load_1m=None if host_load_1m is None else round(host_load_1m, 2),
    )


def unmeasured_result(configuration: Configuration, status: str, why: str, started_at: str, artifacts: str,
                      ready_s: float | None = None) -> ConfigurationResult:
    """The result of a configuration that never ran the load (status NOT_READY or ERROR): a failure saying why."""
    judgement = judge_not_ready(why)
    return ConfigurationResult(
        **identity(configuration, started_at, artifacts), status=status, verdict=FAIL, reason=judgement.reason,
        ready_s=None if ready_s is None else round(ready_s, 1),
    )


def _ms(value: float) -> float | None:
    """A Locust percentile, None for the NaN of a run without requests (JSON has no NaN)."""
    return None if math.isnan(value) else value
