"""Resident memory of one replica (Gunicorn master plus workers) per worker count.

Memory is the proportional set size (PSS, Linux ``/proc/<pid>/smaps_rollup``
via psutil ``memory_full_info``): each page is divided among the processes
sharing it, so the model and libraries the preloaded master shares with its
forked workers count once, and the sum is what the replica costs the host.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.direct import Settings, max_rate_run
from bench.server import gunicorn

Progress = Callable[[str], None]
WORKER_COUNTS = (1, 2, 4)


def measure(model_dir: Path, body: Path, batch_body: Path, settings: Settings, scratch: Path,
            progress: Progress) -> list[dict[str, Any]]:
    """PSS after each worker has answered single and batch requests, for 1, 2 and 4 workers serving ``model_dir``.

    The servers run unpinned: memory does not depend on the core.
    """
    warm = Settings(run_s=1.0, repeats=1, latency_s=0.0, generator_cpu=settings.generator_cpu)
    results = []
    for workers in WORKER_COUNTS:
        with gunicorn(scratch / f"memory-{workers}.log", cpus=None, workers=workers, model_dir=model_dir) as server:
            # Enough connections that every worker takes some, so each has touched its own pages.
            max_rate_run(server, "/predict", body, warm, connections=4 * workers)
            max_rate_run(server, "/predict", batch_body, warm, connections=4 * workers)
            pss_bytes = server.pss_bytes()
        progress(f"  {workers} worker(s): PSS {pss_bytes / 2**20:.1f} MiB")
        results.append({"workers": workers, "pss_bytes": pss_bytes})
    return results
