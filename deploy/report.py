"""Write a run's results: results.json, results.csv, results.md (table, recommendation) and the plots.

``results.md`` is the table to paste into a README: one row per configuration
with its limits, throughput, latency percentiles, failures, CPU throttling,
memory peak against the limit and the verdict with its reason, then the
recommendation (see :mod:`deploy.recommend`).

:func:`judge_again` reads a run directory's results back for ``python -m deploy report``;
a damaged file stops it with an error naming that file, since a report that
quietly left a row out would recommend from part of the run.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from deploy.matrix import Matrix
from deploy.outcome import rejudge
from deploy.plots import plot_memory, plot_throughput_latency
from deploy.recommend import Recommendation, describe, format_bytes, recommend
from deploy.results import COMPLETED, ConfigurationResult, load_results, superseded_results
from deploy.rundir import Plan
from deploy.sampling import SAMPLES_FILE, read_samples
from loadtest.runner import CSV_PREFIX
from loadtest.slo import read_stats_csv

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
THROUGHPUT_PNG = "throughput_latency.png"
MEMORY_PNG = "memory.png"
MIB = 1024**2


class UnusableRun(ValueError):
    """A file of the run directory that the report needs is missing or damaged; the message names it."""


def judge_again(run_dir: Path, matrix: Matrix, plan: Plan) -> list[ConfigurationResult]:
    """The finished configurations of ``plan`` in ``run_dir``, judged again under ``matrix``'s SLO from the
    files each kept (Locust's stats CSV, the stats samples), in matrix order. Writes nothing.

    Raises UnreadableResult for a damaged result.json, UnusableRun when a configuration's
    locust_stats.csv or samples.csv is missing or damaged.
    """
    by_index = {configuration.index: configuration for configuration in matrix.configurations}
    results = []
    for result in load_results(run_dir):
        if result.index not in plan.selected:
            continue
        if result.index not in by_index:
            raise UnusableRun(f"{run_dir / result.artifacts}: configuration {result.index} is not in the run's matrix")
        directory = run_dir / result.artifacts
        try:
            results.append(rejudge(result, by_index[result.index], matrix.slo, directory, plan.host.cpus))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UnusableRun(_unreadable(directory, error)) from error
    return results


def _unreadable(directory: Path, error: Exception) -> str:
    """Which kept file stopped :func:`rejudge`, and why: each is read again on its own to tell."""
    for path, reader in ((directory / f"{CSV_PREFIX}_stats.csv", read_stats_csv), (directory / SAMPLES_FILE, read_samples)):
        try:
            reader(path)
        except OSError as failure:
            return f"{path}: cannot read it: {failure.strerror}"
        except KeyError as failure:  # csv.DictReader's row lacks a column
            return f"{path}: not as `deploy run` wrote it (no column {failure})"
        except (ValueError, TypeError) as failure:
            reason = str(failure).removeprefix(f"{path}: ") or repr(failure)
            return f"{path}: not as `deploy run` wrote it ({reason})"
    return f"{directory}: cannot judge it again ({error!r})"


def write_reports(run_dir: Path, matrix: Matrix, plan: Plan, results: list[ConfigurationResult]) -> Recommendation:
    """Write every report file of ``results`` into ``run_dir`` and return the recommendation.

    Files: results.json (the plan, the load, the SLO, every row), results.csv
    (one flat row per configuration), results.md, throughput_latency.png, memory.png.
    Raises UnreadableResult, before writing anything, for a damaged attempt set aside by ``--redo``;
    OSError when a file cannot be written.
    """
    recommendation = recommend(results, host_cpus=plan.host.cpus)
    # Composed before any file is written: it reads the attempts set aside, which may be damaged.
    text = markdown(matrix, plan, results, recommendation, run_dir)
    document = {
        "matrix": plan.matrix,
        "started_at": plan.started_at,
        "host": plan.host.__dict__,
        "load": matrix.load.__dict__,
        "slo": matrix.slo.__dict__,
        **model_fields(plan),
        "recommended": recommendation.cheapest_pass.name if recommendation.cheapest_pass else None,
        "configurations": [result.to_dict() for result in results],
    }
    write_tables(run_dir, document, results)
    plot_throughput_latency(results, matrix.slo, run_dir / THROUGHPUT_PNG)
    plot_memory(results, run_dir / MEMORY_PNG)
    (run_dir / RESULTS_MD).write_text(text, encoding="utf-8")
    return recommendation


def model_fields(plan: Plan) -> dict[str, object]:
    """results.json's record of the model: ``model`` (name, version, task as served; None when not recorded)
    and ``model_dir`` (--model-dir; None: the image's built-in model)."""
    return {"model": asdict(plan.model) if plan.model else None, "model_dir": plan.model_dir}


def write_tables(run_dir: Path, document: dict, results: list[ConfigurationResult]) -> None:
    """Write ``document`` as results.json and one flat row per result as results.csv into ``run_dir``."""
    (run_dir / RESULTS_JSON).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    rows = [result.flat() for result in results]
    with (run_dir / RESULTS_CSV).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["index"])
        writer.writeheader()
        writer.writerows(rows)


def markdown(matrix: Matrix, plan: Plan, results: list[ConfigurationResult], recommendation: Recommendation,
             run_dir: Path) -> str:
    """results.md: the conditions, the table, the recommendation, the plots."""
    load, slo, host = matrix.load, matrix.slo, plan.host
    lines = [
        f"# Scale experiments: {Path(plan.matrix).name}",
        "",
        f"Run {plan.started_at} on a host with {host.cpus} CPUs and {format_bytes(host.memory_bytes)} "
        f"(Docker {host.docker_version}, cgroup {host.cgroup_version}); the load generator ran on the same host.",
        f"Load: {load.users} Locust users spawned at {load.spawn_rate:g}/s, {load.duration_s} s, shape `{load.shape}`, "
        "through Nginx.",
        f"SLO: failed requests ≤ {slo.max_failure_ratio:.1%}, p95 ≤ {slo.p95_ms:g} ms, p99 ≤ {slo.p99_ms:g} ms, "
        f"throughput ≥ {slo.min_rps:g} req/s.",
        *_host_load(results, host.cpus),
        *model_lines(plan, results),
        "",
        table(results),
        "",
        *_measured_again(superseded_results(run_dir)),
        "✅ pass: the SLO held with 20% headroom. ⚠️ marginal: it held, but within 20% of a threshold, "
        "or the replicas were CPU-throttled in half their periods or above 90% of their memory limit, "
        "or the load generator ran out of CPU, or the host was busy (load average over twice its CPUs). "
        "❌ fail: the SLO broke, a replica was OOM-killed or restarted, or it never became ready.",
        "",
        "## Recommendation",
        "",
        *describe(recommendation),
        "",
        f"![Throughput and p95 latency per configuration]({THROUGHPUT_PNG})",
        "",
        f"![Memory peak against the limit]({MEMORY_PNG})",
        "",
    ]
    return "\n".join(lines)


def model_lines(plan: Plan, results: list[ConfigurationResult]) -> list[str]:
    """The model a run measured, for results.md and the console: the plan's record (what ``GET /model``
    answered at the first ready configuration) and where it came from, then any measured configuration
    whose own record is another model or none."""
    source = f"the artifact mounted from `{plan.model_dir}`" if plan.model_dir else "the image's built-in model"
    if plan.model is not None:
        lines = [f"Model: {plan.model.describe()}, {source}, as `GET /model` answered through Nginx."]
    elif plan.predates_model_record:
        lines = ["Model: not recorded (the run predates the record of the model); taken as the image's built-in model."]
    else:
        lines = [f"Model: {source}; which one is not known (no configuration became ready)."]
    measured = [result for result in results if result.status == COMPLETED]
    other = [result for result in measured if result.model is not None and result.model != plan.model]
    lines += [f"Configuration {result.index} measured another model: {result.model.describe()}." for result in other]
    unrecorded = [str(result.index) for result in measured if result.model is None]
    if unrecorded and plan.model is not None:
        lines.append(f"Configuration(s) {', '.join(unrecorded)}: measured before runs recorded the model; "
                     "taken as the image's built-in model.")
    return lines


def _measured_again(attempts: list[tuple[str, ConfigurationResult]]) -> list[str]:
    lines = [
        f"Configuration {result.index} was measured again (`--redo`); its attempt of {result.started_at} "
        f"({result.mark} {result.reason}) is kept in `{directory}/`."
        for directory, result in attempts
    ]
    return [*lines, ""] if lines else []


def _host_load(results: list[ConfigurationResult], host_cpus: int) -> list[str]:
    loads = [result.host_load_1m for result in results if result.host_load_1m is not None]
    if not loads:
        return []
    return [f"Host load average (1 min) as each run ended: {min(loads):.1f} to {max(loads):.1f} on {host_cpus} CPUs "
            "(the stack and Locust themselves account for part of it)."]


def table(results: list[ConfigurationResult]) -> str:
    """The results as a Markdown table, one row per configuration."""
    header = ("#", "configuration", "total CPU", "total memory", "workers", "req/s", "p50 ms", "p95 ms", "p99 ms",
              "failed", "CPU throttled", "peak memory / limit", "verdict")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if h in _NUMERIC else "---" for h in header) + "|"]
    for result in results:
        lines.append("| " + " | ".join(_cells(result)) + " |")
    return "\n".join(lines)


_NUMERIC = {"#", "total CPU", "total memory", "req/s", "p50 ms", "p95 ms", "p99 ms", "failed", "CPU throttled"}


def _cells(result: ConfigurationResult) -> tuple[str, ...]:
    figures = result.containers
    workers = "–"
    if figures and any(w is not None for w in figures.workers_per_replica):
        workers = ", ".join("?" if w is None else str(w) for w in figures.workers_per_replica)
    measured = result.status == COMPLETED and result.requests > 0
    memory = "–"
    if figures and figures.samples:
        memory = f"{figures.memory_peak_bytes / MIB:.0f}M / {result.memory} ({result.memory_peak_ratio:.0%})"
    return (
        str(result.index),
        result.label,
        f"{result.total_cpus:g}",
        format_bytes(result.total_memory_bytes),
        workers,
        f"{result.requests_per_s:.1f}" if measured else "–",
        f"{result.p50_ms:.0f}" if measured else "–",
        f"{result.p95_ms:.0f}" if measured else "–",
        f"{result.p99_ms:.0f}" if measured else "–",
        f"{result.failure_ratio:.2%}" if measured else "–",
        f"{figures.throttled_ratio:.0%}" if figures and figures.samples else "–",
        memory,
        f"{result.mark} {result.reason}".replace("|", "\\|"),
    )
