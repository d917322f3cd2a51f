"""PNG plots of a run with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from deploy.results import COMPLETED, FAIL, MARGINAL, PASS, ConfigurationResult  # noqa: E402
from loadtest.slo import Slo  # noqa: E402

VERDICT_COLOURS = {PASS: "#2e7d32", MARGINAL: "#f9a825", FAIL: "#c62828"}
MIB = 1024**2
DPI = 110


def _labels(results: list[ConfigurationResult]) -> list[str]:
    return [f"{r.index}. {r.replicas}×{r.cpus:g} CPU\n{r.memory}" + (f", {r.workers}w" if r.workers else "")
            for r in results]


def plot_throughput_latency(results: list[ConfigurationResult], slo: Slo, path: Path) -> None:
    """Two panels per configuration: throughput (req/s, with the SLO floor) and p95 latency (ms, with the SLO ceiling).

    Bars are coloured by verdict; a configuration that never ran the load has no bar and says so.
    """
    labels = _labels(results)
    colours = [VERDICT_COLOURS[r.verdict] for r in results]
    positions = range(len(results))
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(max(6.0, 1.3 * len(results)), 7), sharex=True)
    throughput = top.bar(positions, [r.requests_per_s if r.status == COMPLETED else 0 for r in results], color=colours)
    top.bar_label(throughput, fmt="%.0f", fontsize="small")
    top.axhline(slo.min_rps, color="black", linestyle="--", linewidth=1, label=f"SLO floor {slo.min_rps:g} req/s")
    top.set_ylabel("throughput (req/s)")
    top.margins(y=0.3)
    top.legend(loc="upper center", fontsize="small", framealpha=0.9)
    latency = bottom.bar(positions, [(r.p95_ms or 0) if r.status == COMPLETED else 0 for r in results], color=colours)
    bottom.bar_label(latency, fmt="%.0f", fontsize="small")
    bottom.axhline(slo.p95_ms, color="black", linestyle="--", linewidth=1, label=f"SLO p95 {slo.p95_ms:g} ms")
    bottom.set_ylabel("p95 latency (ms)")
    bottom.margins(y=0.3)
    bottom.legend(loc="upper center", fontsize="small", framealpha=0.9)
    for axis in (top, bottom):
        for position, result in zip(positions, results):
            if result.status != COMPLETED:
                axis.text(position, 0, "not\nready", ha="center", va="bottom", fontsize="x-small", color=VERDICT_COLOURS[FAIL])
    bottom.set_xticks(list(positions), labels, fontsize="small")
    top.set_title("Throughput and p95 latency\n(green: pass, amber: marginal, red: fail)", fontsize="medium")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def plot_memory(results: list[ConfigurationResult], path: Path) -> None:
    """Per configuration, the highest replica working set (MiB) beside that replica's memory limit."""
    labels = _labels(results)
    positions = list(range(len(results)))
    width = 0.38
    peaks = [r.containers.memory_peak_bytes / MIB if r.containers and r.containers.samples else 0 for r in results]
    limits = [r.memory_limit_bytes / MIB for r in results]
    figure, axis = plt.subplots(figsize=(max(6.0, 1.3 * len(results)), 4.5))
    axis.bar([p - width / 2 for p in positions], limits, width, color="#b0bec5", label="limit per replica")
    bars = axis.bar([p + width / 2 for p in positions], peaks, width,
                    color=[VERDICT_COLOURS[r.verdict] for r in results], label="peak per replica (verdict colour)")
    labels_on_bars = [
        f"{peak:.0f}" + (f"\nOOM ×{r.containers.oom_kills}" if r.containers and r.containers.oom_kills else "")
        for r, peak in zip(results, peaks)
    ]
    axis.bar_label(bars, labels_on_bars, fontsize="x-small")
    axis.set_ylabel("memory (MiB)")
    axis.set_xticks(positions, labels, fontsize="small")
    axis.set_title("Memory per replica: peak working set against the limit", fontsize="medium")
    axis.margins(y=0.3)
    axis.legend(loc="upper center", ncol=2, fontsize="small", framealpha=0.9)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def plot_overload(requests: list, plan, configuration: str, path: Path) -> None:
    """An overload run second by second: answers per second by outcome against the offered rate (top), and the
    p99 latency of the 2xx and of the 503s each second (bottom, ms, log scale). ``requests``: ``deploy.overload.Request``s."""
    import numpy as np

    end_s = plan.step_starts_s[-1] + plan.durations_s[-1]
    seconds = np.arange(0, math.ceil(end_s))
    outcomes = {"2xx": lambda s: 200 <= s < 300, "503": lambda s: s == 503,
                "other status": lambda s: s != 0 and not 200 <= s < 300 and s != 503, "no answer": lambda s: s == 0}
    colours = {"2xx": "#2e7d32", "503": "#f9a825", "other status": "#c62828", "no answer": "#000000"}
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    bottom_of_bar = np.zeros(len(seconds))
    for outcome, matches in outcomes.items():
        counts = np.bincount([int(r.start_s) for r in requests if matches(r.status) and r.start_s < len(seconds)],
                             minlength=len(seconds))[:len(seconds)]
        top.bar(seconds, counts, width=1.0, bottom=bottom_of_bar, color=colours[outcome], label=outcome, align="edge")
        bottom_of_bar += counts
    offered = [(0.0, plan.rates_rps[0])]
    offered += list(zip(plan.step_starts_s[1:], plan.rates_rps[1:]))
    times = [start for start, _ in offered] + [end_s]
    top.step(times, [rate for _, rate in offered] + [offered[-1][1]], where="post", color="black", linewidth=1.2,
             label="offered")
    top.axhline(plan.capacity_rps, color="grey", linestyle=":", linewidth=1, label=f"capacity {plan.capacity_rps:g} req/s")
    top.set_ylabel("answers per second")
    top.margins(y=0.12)
    top.legend(loc="upper left", fontsize="small", framealpha=0.9)
    for label, matches, colour in (("2xx p99", outcomes["2xx"], colours["2xx"]), ("503 p99", outcomes["503"], colours["503"])):
        per_second: dict[int, list[float]] = {}
        for request in requests:
            if matches(request.status):
                per_second.setdefault(int(request.start_s), []).append(request.response_time_ms)
        if per_second:
            xs = sorted(per_second)
            bottom.plot(xs, [np.percentile(per_second[x], 99) for x in xs], color=colour, label=label)
    bottom.set_yscale("log")
    bottom.set_ylabel("latency p99 (ms)")
    bottom.set_xlabel("seconds since the load started")
    bottom.legend(loc="upper left", fontsize="small", framealpha=0.9)
    for start in plan.step_starts_s:
        for axis in (top, bottom):
            axis.axvline(start, color="grey", linewidth=0.6)
    top.set_title(f"Overload: {configuration}, steps of {', '.join(f'{m:g}x' for m in plan.multipliers)} capacity",
                  fontsize="medium")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def plot_latency_throughput(results: list[ConfigurationResult], slo: Slo, path: Path) -> None:
    """Per configuration one curve from its probes: p95 (solid) and p99 (dotted) latency against the achieved
    throughput, failed probes marked ×, the SLO's p95 and p99 drawn (Triton Model Analyzer's view)."""
    figure, axis = plt.subplots(figsize=(8, 5.5))
    for result in results:
        probes = sorted((p for p in result.probes if p.p95_ms is not None), key=lambda p: p.offered_rps)
        if not probes:
            continue
        achieved = [p.achieved_rps for p in probes]
        (line,) = axis.plot(achieved, [p.p95_ms for p in probes], marker="o", markersize=3,
                            label=f"{result.replicas}×{result.cpus:g} CPU")
        axis.plot(achieved, [p.p99_ms for p in probes], linestyle=":", color=line.get_color())
        failed = [p for p in probes if not p.passed]
        axis.scatter([p.achieved_rps for p in failed], [p.p95_ms for p in failed], marker="x", s=40,
                     color=line.get_color())
    axis.axhline(slo.p95_ms, color="black", linestyle="--", linewidth=1, label=f"SLO p95 {slo.p95_ms:g} ms")
    axis.axhline(slo.p99_ms, color="grey", linestyle="--", linewidth=1, label=f"SLO p99 {slo.p99_ms:g} ms")
    axis.set_yscale("log")
    axis.set_xlabel("achieved throughput (req/s)")
    axis.set_ylabel("latency (ms, log scale)")
    axis.set_title("Latency against throughput, one curve per configuration\n"
                   "(solid p95, dotted p99, × a failed probe)", fontsize="medium")
    axis.legend(fontsize="small", framealpha=0.9)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def cheapest_front(results: list[ConfigurationResult]) -> list[ConfigurationResult]:
    """The configurations no cheaper one matches: by total CPU (then memory), each with a higher capacity than
    every configuration before it."""
    front: list[ConfigurationResult] = []
    for result in sorted((r for r in results if r.capacity_rps is not None),
                         key=lambda r: (r.total_cpus, r.total_memory_bytes, r.index)):
        if not front or result.capacity_rps > front[-1].capacity_rps:
            front.append(result)
    return front


def plot_capacity_cpu(results: list[ConfigurationResult], path: Path) -> None:
    """Capacity against total CPU, one point per configuration (hollow: a lower bound the bench set),
    the cheapest-for-capacity front drawn through its points."""
    figure, axis = plt.subplots(figsize=(8, 5.5))
    measured = [r for r in results if r.capacity_rps is not None]
    for result in measured:
        bounded = result.capacity_bound is not None
        axis.scatter(result.total_cpus, result.capacity_rps, s=50, color=VERDICT_COLOURS[result.verdict],
                     facecolors="none" if bounded else VERDICT_COLOURS[result.verdict], zorder=3)
        label = f"{result.replicas}×{result.cpus:g}" + (f" ≥ ({result.capacity_bound})" if bounded else "")
        axis.annotate(label, (result.total_cpus, result.capacity_rps), textcoords="offset points", xytext=(5, 5),
                      fontsize="x-small")
    front = cheapest_front(results)
    if front:
        axis.step([r.total_cpus for r in front], [r.capacity_rps for r in front], where="post", color="#1565c0",
                  linewidth=1, label="cheapest for its capacity")
        axis.legend(fontsize="small", framealpha=0.9)
    axis.set_xlabel("total CPU (replicas × cpus)")
    axis.set_ylabel("capacity (req/s)")
    # Room above and to the right of the last point for its label.
    axis.set_xlim(0, 1.15 * max((r.total_cpus for r in measured), default=1.0))
    axis.set_ylim(0, 1.15 * max((r.capacity_rps for r in measured), default=1.0))
    axis.set_title("Capacity against total CPU (hollow: a lower bound set by the bench)", fontsize="medium")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def plot_scaling(pairs: list, path: Path) -> None:
    """Per replicated configuration: N × the capacity of 1 × c (what perfect scaling gives) beside its measured
    capacity, labelled with the efficiency. ``pairs``: ``deploy.sizing.Scaling`` items."""
    figure, axis = plt.subplots(figsize=(max(6.0, 1.6 * len(pairs)), 4.5))
    if not pairs:
        axis.text(0.5, 0.5, "no replicated configuration with a measured one-replica counterpart",
                  ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
    else:
        positions = list(range(len(pairs)))
        width = 0.38
        ideal = [pair.replicated.replicas * pair.single.capacity_rps for pair in pairs]
        measured = [pair.replicated.capacity_rps for pair in pairs]
        axis.bar([p - width / 2 for p in positions], ideal, width, color="#b0bec5", label="N × capacity of 1 × c")
        bars = axis.bar([p + width / 2 for p in positions], measured, width, color="#1565c0",
                        label="capacity of N × c")
        axis.bar_label(bars, [f"{pair.efficiency:.0%}" + (" (bounded)" if pair.bounded else "") for pair in pairs],
                       fontsize="x-small")
        axis.set_xticks(positions, [f"{pair.replicated.replicas}×{pair.replicated.cpus:g} CPU" for pair in pairs],
                        fontsize="small")
        axis.set_ylabel("capacity (req/s)")
        axis.margins(y=0.2)
        axis.legend(fontsize="small", framealpha=0.9)
    axis.set_title("Replication: scaling efficiency = capacity of N × c / (N × capacity of 1 × c)", fontsize="medium")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
