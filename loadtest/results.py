"""What a finished run leaves behind: its verdict, and CSV files that agree with it.

Locust-bound (imports ``locust.stats``); called from the locustfile's
``quitting`` listener on the master or the only process, never on a worker.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from loadtest.options import slo_from
from loadtest.selfwatch import NodeCpu, locust_warnings, saturation_reason
from loadtest.slo import RunStats, Slo, Verdict, judge, percentile_or_none, run_stats


def final_verdict(environment: Any, nodes: list[NodeCpu]) -> tuple[Verdict, RunStats, Slo]:
    """Judge the run's totals against the ``--slo-*`` options.

    A saturated generator or an exception raised in the locustfile fails the
    run too: its numbers cannot vouch for the service.
    """
    runner = environment.runner
    stats = run_stats(environment.stats.total)
    slo = slo_from(environment.parsed_options)
    reasons = list(judge(stats, slo).reasons)
    saturated = saturation_reason(nodes, locust_warnings(runner))
    if saturated:
        reasons.append(saturated)
    if runner.exceptions:
        reasons.append(f"{len(runner.exceptions)} kind(s) of exception raised in the locustfile")
    return Verdict(not reasons, tuple(reasons), generator_saturated=saturated is not None), stats, slo


def rewrite_final_csv(environment: Any, prefix: str) -> None:
    """Rewrite ``PREFIX_stats.csv``, ``_failures.csv`` and ``_exceptions.csv`` with the final numbers.

    Locust's CSV writer samples once a second and the process exits before its
    last sample, so the files can miss the run's last second
    (https://github.com/locustio/locust/issues/2299); the verdict and the files must agree.
    Uses Locust's own ``StatsCSV``, so columns and formats stay Locust's.
    """
    writer = StatsCSV(environment, PERCENTILES_TO_REPORT)
    for suffix, write in (
        ("stats", writer.requests_csv), ("failures", writer.failures_csv), ("exceptions", writer.exceptions_csv),
    ):
        with open(f"{prefix}_{suffix}.csv", "w", newline="", encoding="utf-8") as file:
            write(csv.writer(file))


def measured_window_s(environment: Any, stopped_at: float | None) -> float | None:
    """Seconds from the start of the figures (Locust's total ``start_time``: the test's start, or
    ``--reset-stats`` once every user is spawned) to ``stopped_at`` (``time.time()`` when the users were
    stopped); None when the run has not stopped.

    Locust's own Requests/s divides by the time to the last answer, which makes a
    short window look faster than it was; this is the window itself.
    """
    if stopped_at is None:
        return None
    window_s = stopped_at - environment.stats.total.start_time
    return window_s if window_s > 0 else None


def write_verdict(path: Path, verdict: Verdict, stats: RunStats, slo: Slo, nodes: list[NodeCpu],
                  window_s: float | None) -> None:
    """Write ``{passed, reasons, generator_saturated, window_s, slo, stats, generator_cpu}`` as JSON (a
    percentile of no requests is null; ``window_s`` from :func:`measured_window_s`)."""
    stats_fields = {key: percentile_or_none(value) if isinstance(value, float) else value
                    for key, value in asdict(stats).items()}
    document = {
        "passed": verdict.passed,
        "reasons": list(verdict.reasons),
        "generator_saturated": verdict.generator_saturated,
        "window_s": window_s,
        "slo": asdict(slo),
        "stats": {**stats_fields, "failure_ratio": stats.failure_ratio},
        "generator_cpu": [node.as_dict() for node in nodes],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
