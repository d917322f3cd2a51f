"""``bench.png``: requests per second side by side, CPU per request by worker class, memory per worker count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _bars(axis: Any, labels: list[str], values: list[float], title: str, unit: str) -> None:
    bars = axis.bar(range(len(values)), values, color="#4c72b0")
    axis.set_xticks(range(len(values)), labels, rotation=20, ha="right", fontsize=8)
    axis.set_title(title, fontsize=10)
    axis.set_ylabel(unit)
    axis.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7)


def plot(summary: dict[str, Any], path: Path) -> None:
    """Write the three panels to ``path`` (PNG); panels without data are left out."""
    panels = []
    throughput = [("ceiling", summary["ceiling_rps"]), ("/predict", summary["predict_rps"])]
    nginx = summary["nginx"]
    if "skipped" not in nginx:
        throughput += [("Nginx /health", nginx["health_rps"]), ("Nginx /predict", nginx["predict_rps"])]
    panels.append(([name for name, _ in throughput], [value or 0.0 for _, value in throughput],
                   "1 worker on 1 core (Nginx: 1 replica at 1.0 CPU)", "requests/s"))
    if summary["worker_classes"]:
        entries = summary["worker_classes"]
        labels = [f"{e['cpus']} CPU {e['worker_class']}" + (f" x{e['threads']}" if e["worker_class"] == "gthread" else "")
                  for e in entries]
        # CPU per request, not requests per second: other work on a shared machine moves it far less.
        panels.append((labels, [e["cpu_us_per_request"] or 0.0 for e in entries],
                       "server CPU per /predict request, by worker class", "µs"))
    if summary["memory"]:
        panels.append(([f"{m['workers']} worker(s)" for m in summary["memory"]], [m["pss_mib"] for m in summary["memory"]],
                       "PSS of one replica", "MiB"))
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for axis, (labels, values, title, unit) in zip(axes[0], panels):
        _bars(axis, labels, values, title, unit)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
