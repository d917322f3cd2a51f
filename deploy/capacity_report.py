"""Write a capacity run's reports: results.json, results.csv, probes.csv, results.md and the plots.

``results.md`` states the conditions (host, SLO, search settings, the bench's
ceiling), then one row per configuration: capacity (``≥ N (generator-bound)``
when the bench set it), capacity per CPU and per GiB, the latency and the
replicas' CPU, throttling and memory at capacity, and the bottleneck in words;
then replication's scaling efficiency, the sizing for the goal, and the plots.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, fields
from pathlib import Path

from deploy.capacity import format_capacity
from deploy.capacity_run import Ceiling
from deploy.matrix import Matrix
from deploy.plots import plot_capacity_cpu, plot_latency_throughput, plot_scaling
from deploy.probe import ProbeResult
from deploy.recommend import format_bytes
from deploy.report import RESULTS_MD, model_fields, model_lines, write_tables
from deploy.results import ConfigurationResult
from deploy.rundir import Plan
from deploy.sizing import Sizing, describe_sizing, scalings, size_for

PROBES_CSV = "probes.csv"
LATENCY_PNG = "latency_throughput.png"
CAPACITY_PNG = "capacity_cpu.png"
SCALING_PNG = "scaling.png"
MIB = 1024**2


def target_of(matrix: Matrix, plan: Plan) -> tuple[float | None, float]:
    """(target req/s, headroom): --target-rps as the run was started, else the matrix's [goal]."""
    return (plan.target_rps if plan.target_rps is not None else matrix.goal.rps), matrix.goal.headroom


def write_capacity_reports(run_dir: Path, matrix: Matrix, plan: Plan, results: list[ConfigurationResult],
                           ceiling: Ceiling | None) -> Sizing | None:
    """Write every report of a capacity run into ``run_dir``; the sizing for the target (None without one).

    Raises OSError when a file cannot be written.
    """
    target_rps, headroom = target_of(matrix, plan)
    sizing = size_for(results, target_rps, headroom) if target_rps else None
    document = {
        "matrix": plan.matrix,
        "mode": plan.mode,
        "started_at": plan.started_at,
        "host": asdict(plan.host),
        "slo": asdict(matrix.slo),
        "search": asdict(matrix.search),
        "goal": {"rps": target_rps, "headroom": headroom},
        **model_fields(plan),
        "ceiling_rps": ceiling.ceiling_rps if ceiling else None,
        "ceiling_probes": [probe.to_dict() for probe in ceiling.probes] if ceiling else [],
        "recommended": _recommended(sizing),
        "configurations": [result.to_dict() for result in results],
    }
    write_tables(run_dir, document, results)
    _write_all_probes(results, run_dir / PROBES_CSV)
    plot_latency_throughput(results, matrix.slo, run_dir / LATENCY_PNG)
    plot_capacity_cpu(results, run_dir / CAPACITY_PNG)
    plot_scaling(scalings(results), run_dir / SCALING_PNG)
    (run_dir / RESULTS_MD).write_text(markdown(matrix, plan, results, ceiling, sizing), encoding="utf-8")
    return sizing


def _recommended(sizing: Sizing | None) -> dict | None:
    if sizing is None:
        return None
    extra = sizing.extrapolation
    return {
        "target_rps": sizing.target_rps, "headroom": sizing.headroom, "required_rps": sizing.required_rps,
        "configuration": sizing.pick.name if sizing.pick else None,
        "replicas": sizing.replicas,
        "extrapolated": None if extra is None else {
            "replica": extra.replica.name, "replicas": extra.replicas, "cpus": extra.replica.cpus,
            "memory": extra.replica.memory, "efficiency": round(extra.efficiency, 3),
            "efficiency_measured": extra.efficiency_measured, "estimated_rps": round(extra.estimated_rps, 1),
        },
    }


def _write_all_probes(results: list[ConfigurationResult], path: Path) -> None:
    names = [spec.name for spec in fields(ProbeResult)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "configuration", *names])
        for result in results:
            for probe in result.probes:
                values = [getattr(probe, name) for name in names]
                writer.writerow([result.index, result.name,
                                 *("; ".join(v) if isinstance(v, tuple) else v for v in values)])


def markdown(matrix: Matrix, plan: Plan, results: list[ConfigurationResult], ceiling: Ceiling | None,
             sizing: Sizing | None) -> str:
    """results.md: conditions, the capacity table, replication, the sizing, the plots."""
    slo, search, host = matrix.slo, matrix.search, plan.host
    ceiling_text = (f"{ceiling.ceiling_rps:g} req/s" if ceiling and ceiling.ceiling_rps is not None
                    else "not measured" if ceiling is None else "below the first rate tried")
    lines = [
        f"# Capacity: {Path(plan.matrix).name}",
        "",
        f"Run {plan.started_at} on a host with {host.cpus} CPUs and {format_bytes(host.memory_bytes)} "
        f"(Docker {host.docker_version}, cgroup {host.cgroup_version}); "
        f"{plan.placement if plan.placement else 'Locust, Nginx and the replicas shared it'}.",
        *model_lines(plan, results),
        f"Capacity: the highest offered rate whose {search.window_s:g} s window held the SLO (failed requests ≤ "
        f"{slo.max_failure_ratio:.1%}, p95 ≤ {slo.p95_ms:g} ms, p99 ≤ {slo.p99_ms:g} ms) with at least 95% of the "
        "offered rate answered, the load generator not saturated and every replica healthy, never OOM-killed or restarted.",
        f"Open model: each Locust user starts a request every {search.pace_s:g} s whatever the answers "
        f"(`constant_throughput`), users spawned within {search.ramp_s:g} s; {search.drain_s:g} s of drain between probes. "
        f"Search: from {search.start_rps:g} req/s, doubling until a probe fails, then bisecting until the bracket is "
        f"within {search.bracket:.0%}, at most {search.max_probes} probes; at most {search.max_users} users, "
        f"so {search.max_rps:g} req/s at most.",
        f"The bench's ceiling (Locust against Nginx's own /nginx-health, no replica involved): {ceiling_text}. "
        "A capacity within 80% of it, or at the highest rate offered, is the bench's (generator-bound); "
        f"one whose CPU limits add up to more than {host.cpus} CPUs is host-bound, and so is one whose replicas had CPU and memory to spare at the rate that failed.",
        "",
        table(results),
        "",
        "✅ the configuration set its capacity. ⚠️ a lower bound: the bench (generator) or the host set it. "
        "❌ no probe passed. Latency, CPU and memory are those of the probe at capacity; each configuration's "
        "probes are in `probes.csv` and its directory.",
        "",
        "## Replication",
        "",
        *_scaling_lines(results),
        "",
        "## Recommendation",
        "",
        *(describe_sizing(sizing) if sizing else
          ["No target rate: give one with `--target-rps R` or `[goal] rps` in the matrix to size for it."]),
        "",
        f"![Latency against throughput]({LATENCY_PNG})",
        "",
        f"![Capacity against total CPU]({CAPACITY_PNG})",
        "",
        f"![Replication's scaling efficiency]({SCALING_PNG})",
        "",
    ]
    return "\n".join(lines)


def _scaling_lines(results: list[ConfigurationResult]) -> list[str]:
    pairs = scalings(results)
    if not pairs:
        return ["No replicated configuration has its one-replica counterpart (same cpus and memory) measured."]
    lines = []
    for pair in pairs:
        single, replicated = pair.single, pair.replicated
        lines.append(
            f"- {replicated.label}: {format_capacity(replicated.capacity_rps, replicated.capacity_bound)} against "
            f"{replicated.replicas} × {format_capacity(single.capacity_rps, single.capacity_bound)} of {single.label}: "
            f"scaling efficiency {pair.efficiency:.0%}" + (" (a bound is involved: a lower limit only)" if pair.bounded else ""))
    return lines


def table(results: list[ConfigurationResult]) -> str:
    """The capacities as a Markdown table, one row per configuration."""
    header = ("#", "configuration", "total CPU", "total memory", "capacity", "req/s per CPU", "req/s per GiB",
              "p50 / p95 / p99 ms", "CPU of limit", "throttled", "memory peak / limit", "probes", "bottleneck")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if h in _NUMERIC else "---" for h in header) + "|"]
    for result in results:
        lines.append("| " + " | ".join(_cells(result)) + " |")
    return "\n".join(lines)


_NUMERIC = {"#", "total CPU", "total memory", "req/s per CPU", "req/s per GiB", "CPU of limit", "throttled", "probes"}


def _cells(result: ConfigurationResult) -> tuple[str, ...]:
    figures = result.containers
    at_capacity = result.capacity_rps is not None and result.p95_ms is not None
    sampled = figures is not None and figures.samples > 0
    bottleneck = result.bottleneck if result.capacity_rps is not None else result.reason
    return (
        str(result.index),
        result.label,
        f"{result.total_cpus:g}",
        format_bytes(result.total_memory_bytes),
        f"{result.mark} {format_capacity(result.capacity_rps, result.capacity_bound)}",
        f"{result.capacity_per_cpu:.0f}" if result.capacity_per_cpu is not None else "–",
        f"{result.capacity_per_gib:.0f}" if result.capacity_per_gib is not None else "–",
        f"{result.p50_ms:g} / {result.p95_ms:g} / {result.p99_ms:g}" if at_capacity else "–",
        f"{figures.cpu_percent_mean / (100 * result.cpus):.0%}" if sampled else "–",
        f"{figures.throttled_ratio:.0%}" if sampled else "–",
        f"{figures.memory_peak_bytes / MIB:.0f}M / {result.memory}" if sampled else "–",
        str(len(result.probes)),
        bottleneck.replace("|", "\\|"),
    )
