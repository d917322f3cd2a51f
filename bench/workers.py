"""Gunicorn worker classes side by side at 1 and 2 CPUs: ``/predict`` requests per
second, server CPU per request, and latency at 70% of the maximum.

At 1 CPU the server runs on its own core; at 2 CPUs it runs on both, one
worker per CPU (the default), and shares the generator's core, as it would
share a host with anything else.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.direct import LATENCY_USERS, Settings, describe, max_rate_run, watched
from bench.load import run_locust
from bench.report import LATENCY_LOAD_FRACTION
from bench.server import gunicorn

Progress = Callable[[str], None]
# (worker class, threads per worker): the sync worker, which needs no threads but
# closes every connection, and gthread with 1, 2 and 4 threads.
CONFIGS = (("sync", 1), ("gthread", 1), ("gthread", 2), ("gthread", 4))
# Fewer and shorter runs than the headline figures: eight servers to start, and the
# comparison leans on server CPU per request and the server's own p99, which
# noise moves less than requests per second.
REPEATS = 1
RUN_S = 3.0
# A short rate-limited run per configuration, at 70% of its maximum, for the
# server's own p99: where threads contend for the GIL, it shows there.
LATENCY_S = 4.0


def measure(cpu_sets: dict[int, str], model_dir: Path, body: Path, settings: Settings, scratch: Path,
            progress: Progress) -> list[dict[str, Any]]:
    """One server per (CPU count, worker class, threads), serving ``model_dir``: ``REPEATS`` full-speed runs of
    ``/predict``, then one at 70% of their median rate for latency.

    ``cpu_sets`` maps a CPU count to the ``taskset`` list for it, e.g. ``{1: "1", 2: "0,1"}``.
    """
    results = []
    for cpus, cpu_list in cpu_sets.items():
        for worker_class, threads in CONFIGS:
            with gunicorn(scratch / f"workers-{cpus}-{worker_class}-{threads}.log", cpus=cpu_list, workers=cpus,
                          worker_class=worker_class, threads=threads, model_dir=model_dir) as server:
                max_rate_run(server, "/predict", body, replace(settings, run_s=1.0))  # warm-up, discarded
                runs = [max_rate_run(server, "/predict", body, replace(settings, run_s=RUN_S)) for _ in range(REPEATS)]
                rate = LATENCY_LOAD_FRACTION * statistics.median(run.requests_per_s for run in runs)
                latency = watched(server, lambda: run_locust(
                    server.url, "/predict", body_file=body, duration_s=LATENCY_S, users=LATENCY_USERS, rate_rps=rate,
                    max_requests=int(LATENCY_S * rate * 1.5), cpu=settings.generator_cpu))
            rates = ", ".join(f"{run.requests_per_s:,.0f}" for run in runs)
            progress(f"  {cpus} CPU, {cpus} {worker_class} worker(s) x {threads} thread(s): {rates} req/s; "
                     f"at {rate:,.0f} req/s offered: {describe(latency)}")
            results.append({"cpus": cpus, "worker_class": worker_class, "workers": cpus, "threads": threads,
                            "runs": [run.as_dict() for run in runs], "latency": latency.as_dict()})
    return results
