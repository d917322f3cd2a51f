"""PNG plots of a run with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

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
