"""Gunicorn worker classes side by side: ``/predict`` requests per second at 1 and 2 CPUs.

At 1 CPU the server runs on its own core; at 2 CPUs it runs on both, one
worker per CPU (the default), and shares the generator's core, as it would
share a host with anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.direct import Settings, max_rate_run
from bench.server import gunicorn

Progress = Callable[[str], None]
# (worker class, threads per worker): the default, gthread without its thread
# pool, and the sync worker, which needs no threads but closes every connection.
CONFIGS = (("sync", 1), ("gthread", 1), ("gthread", 4))
# Fewer runs than the headline figures: six servers to start, and the comparison
# leans on server CPU per request, which noise moves less than requests per second.
REPEATS = 2


def measure(cpu_sets: dict[int, str], body: Path, settings: Settings, scratch: Path, progress: Progress) -> list[dict[str, Any]]:
    """One server per (CPU count, worker class, threads); ``REPEATS`` runs of ``/predict`` each.

    ``cpu_sets`` maps a CPU count to the ``taskset`` list for it, e.g. ``{1: "1", 2: "0,1"}``.
    """
    results = []
    for cpus, cpu_list in cpu_sets.items():
        for worker_class, threads in CONFIGS:
            with gunicorn(scratch / f"workers-{cpus}-{worker_class}-{threads}.log", cpus=cpu_list, workers=cpus,
                          worker_class=worker_class, threads=threads) as server:
                max_rate_run(server, "/predict", body, replace(settings, run_s=1.0))  # warm-up, discarded
                runs = [max_rate_run(server, "/predict", body, settings) for _ in range(REPEATS)]
            rates = ", ".join(f"{run.requests_per_s:,.0f}" for run in runs)
            progress(f"  {cpus} CPU, {cpus} {worker_class} worker(s) x {threads} thread(s): {rates} req/s")
            results.append({"cpus": cpus, "worker_class": worker_class, "workers": cpus, "threads": threads,
                            "runs": [run.as_dict() for run in runs]})
    return results
