"""Turn one configuration's raw measurements into its result row with a verdict.

The runner feeds it what it measured live; ``python -m deploy report`` and the
tests feed it the Locust CSVs and stats samples a run kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploy.matrix import Configuration
from deploy.results import COMPLETED, FAIL, ConfigurationResult, ContainerFigures
from deploy.sampling import SAMPLES_FILE, StatsSample, read_samples, summarize
from deploy.verdict import judge_not_ready, judge_run
from loadtest.runner import CSV_PREFIX, main_failure
from loadtest.slo import RunStats, Slo, percentile_or_none, read_stats_csv


def identity(configuration: Configuration, started_at: str, artifacts: str) -> dict[str, object]:
    """The fields of a result that come from the configuration itself, as keyword arguments."""
    return dict(
        index=configuration.index, name=configuration.name, replicas=configuration.replicas, cpus=configuration.cpus,
        memory=configuration.memory, memory_limit_bytes=configuration.memory_limit_bytes,
        workers=configuration.workers, total_cpus=configuration.total_cpus,
        total_memory_bytes=configuration.total_memory_bytes, started_at=started_at, artifacts=artifacts,
    )


@dataclass(frozen=True)
class LoadMeasurements:
    """What a configuration's fixed load measured: Locust's totals, the replicas' samples and events, the host."""

    stats: RunStats
    samples: list[StatsSample]
    workers_per_replica: tuple[int | None, ...]  # Gunicorn workers each replica runs (None: it did not say)
    oom_kills: int
    restarts: int
    generator_saturated: bool  # the locustfile's verdict: the generator ran out of CPU
    host_load_1m: float | None = None  # the host's 1-minute load average as the load ended
    main_failure: str | None = None  # the most frequent failure (loadtest.runner.main_failure)


def measured_result(configuration: Configuration, slo: Slo, measured: LoadMeasurements, started_at: str,
                    artifacts: str, ready_s: float | None, host_cpus: int | None = None) -> ConfigurationResult:
    """The result of a configuration that ran the load: Locust's totals, the sampled figures, the verdict."""
    stats, summary = measured.stats, summarize(measured.samples)
    figures = ContainerFigures(
        workers_per_replica=tuple(measured.workers_per_replica),
        cpu_percent_mean=round(summary.cpu_percent_mean, 1),
        cpu_percent_peak=round(summary.cpu_percent_peak, 1),
        throttled_ratio=round(summary.throttled_ratio, 4),
        memory_peak_bytes=summary.memory_peak_bytes,
        oom_kills=measured.oom_kills,
        restarts=measured.restarts,
        samples=summary.samples,
    )
    judgement = judge_run(configuration, stats, figures, slo, measured.generator_saturated, measured.host_load_1m,
                          host_cpus, measured.main_failure)
    return ConfigurationResult(
        **identity(configuration, started_at, artifacts), status=COMPLETED, verdict=judgement.verdict,
        reason=judgement.reason, requests=stats.requests, failures=stats.failures,
        failure_ratio=round(stats.failure_ratio, 6), requests_per_s=round(stats.requests_per_s, 2),
        p50_ms=percentile_or_none(stats.p50_ms), p95_ms=percentile_or_none(stats.p95_ms), p99_ms=percentile_or_none(stats.p99_ms),
        generator_saturated=measured.generator_saturated, containers=figures,
        ready_s=None if ready_s is None else round(ready_s, 1),
        host_load_1m=None if measured.host_load_1m is None else round(measured.host_load_1m, 2),
    )


def rejudge(result: ConfigurationResult, configuration: Configuration, slo: Slo, directory: Path,
            host_cpus: int | None) -> ConfigurationResult:
    """``result`` judged again from the files its run kept in ``directory`` (Locust's CSVs, the stats samples)
    and what ``result`` itself recorded (the replicas' events, the generator's saturation, the host's load) under
    the current rules and ``slo``; a configuration that never ran the load is returned as it was."""
    if result.status != COMPLETED or result.containers is None:
        return result
    measured = LoadMeasurements(
        stats=read_stats_csv(directory / f"{CSV_PREFIX}_stats.csv"), samples=read_samples(directory / SAMPLES_FILE),
        workers_per_replica=result.containers.workers_per_replica, oom_kills=result.containers.oom_kills,
        restarts=result.containers.restarts, generator_saturated=result.generator_saturated,
        host_load_1m=result.host_load_1m, main_failure=main_failure(directory / f"{CSV_PREFIX}_failures.csv"),
    )
    return measured_result(configuration, slo, measured, started_at=result.started_at, artifacts=result.artifacts,
                           ready_s=result.ready_s, host_cpus=host_cpus)


def unmeasured_result(configuration: Configuration, status: str, why: str, started_at: str, artifacts: str,
                      ready_s: float | None = None) -> ConfigurationResult:
    """The result of a configuration that never ran the load (status NOT_READY or ERROR): a failure saying why."""
    judgement = judge_not_ready(why)
    return ConfigurationResult(
        **identity(configuration, started_at, artifacts), status=status, verdict=FAIL, reason=judgement.reason,
        ready_s=None if ready_s is None else round(ready_s, 1),
    )
