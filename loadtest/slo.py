"""Service level objective (SLO) of a load test run, and its verdict.

No Locust import: the scale experiments read finished runs' CSV files with
``read_stats_csv`` and ``judge`` them without starting a load generator.
Percentiles are Locust's own (``StatsEntry.get_response_time_percentile``), both
live and in the ``*_stats.csv`` it writes. Locust buckets response times before it
computes them: whole ms below 100 ms, about 2 significant digits above, so 147 ms
counts as 150 ms (``locust/stats.py``, ``StatsEntry._log_response_time``).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from os import PathLike
from typing import Any

AGGREGATED_ROW = "Aggregated"


@dataclass(frozen=True)
class Slo:
    """What a run must achieve.

    ``max_failure_ratio``: largest share of failed requests, 0-1; ``p95_ms`` and
    ``p99_ms``: largest 95th and 99th percentile latency, ms; ``min_rps``: smallest
    throughput achieved over the run, requests/s (0: no floor).
    """

    max_failure_ratio: float = 0.01
    p95_ms: float = 300.0
    p99_ms: float = 1000.0
    min_rps: float = 0.0


@dataclass(frozen=True)
class RunStats:
    """One run's totals over all requests: latency percentiles in ms (NaN when no request completed)."""

    requests: int
    failures: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def failure_ratio(self) -> float:
        """Failed requests / requests, 0-1 (0 when there were none)."""
        return self.failures / self.requests if self.requests else 0.0


def percentile_or_none(value: float) -> float | None:
    """A percentile of RunStats for JSON, which has no NaN: None for a run without requests."""
    return None if math.isnan(value) else value


def _percentile_ms(text: str) -> float:
    return math.nan if text == "N/A" else float(text)


def read_stats_csv(path: str | PathLike[str]) -> RunStats:
    """Read the ``Aggregated`` row of Locust's ``PREFIX_stats.csv``.

    Raises ``ValueError`` naming the file when it is not UTF-8 text, has no
    such row, or the row lacks a column or holds a value that is not a number;
    ``OSError`` when it cannot be read.
    """
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text; expected Locust's PREFIX_stats.csv") from None
    for row in rows:
        if row.get("Name") != AGGREGATED_ROW:
            continue
        try:
            return RunStats(
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                requests_per_s=float(row["Requests/s"]),
                p50_ms=_percentile_ms(row["50%"]),
                p95_ms=_percentile_ms(row["95%"]),
                p99_ms=_percentile_ms(row["99%"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"{path}: the {AGGREGATED_ROW} row lacks the column {error}") from None
        except ValueError as error:
            raise ValueError(f"{path}: the {AGGREGATED_ROW} row holds a value that is not a number ({error})") from None
    raise ValueError(f"{path}: no {AGGREGATED_ROW!r} row; expected Locust's PREFIX_stats.csv")


def run_stats(total: Any) -> RunStats:
    """Totals from Locust's live ``environment.stats.total`` (a ``locust.stats.StatsEntry``)."""
    requests = total.num_requests

    def percentile_ms(fraction: float) -> float:
        return float(total.get_response_time_percentile(fraction)) if requests else math.nan

    return RunStats(
        requests=requests,
        failures=total.num_failures,
        requests_per_s=float(total.total_rps),
        p50_ms=percentile_ms(0.50),
        p95_ms=percentile_ms(0.95),
        p99_ms=percentile_ms(0.99),
    )


@dataclass(frozen=True)
class Verdict:
    """Whether a run met its SLO; ``reasons`` says, one line each, what it missed.

    ``generator_saturated`` is True when the load generator ran out of CPU
    (``loadtest.selfwatch``): one of the reasons then says so in words.
    """

    passed: bool
    reasons: tuple[str, ...]
    generator_saturated: bool = False

    def describe(self) -> str:
        """``"SLO met"`` or ``"SLO missed: reason; reason"``."""
        return "SLO met" if self.passed else "SLO missed: " + "; ".join(self.reasons)


def _percent(ratio: float) -> str:
    return f"{100 * ratio:.1f}%" if ratio == 0 or 100 * ratio >= 0.1 else f"{100 * ratio:.2g}%"


def judge(stats: RunStats, slo: Slo) -> Verdict:
    """Compare a run with its SLO; a run without a single request fails."""
    if stats.requests == 0:
        return Verdict(False, ("no requests were made",))
    reasons = []
    if stats.failure_ratio > slo.max_failure_ratio:
        reasons.append(f"{_percent(stats.failure_ratio)} failed requests > {_percent(slo.max_failure_ratio)}")
    if stats.p95_ms > slo.p95_ms:
        reasons.append(f"p95 {stats.p95_ms:g} ms > {slo.p95_ms:g} ms")
    if stats.p99_ms > slo.p99_ms:
        reasons.append(f"p99 {stats.p99_ms:g} ms > {slo.p99_ms:g} ms")
    if stats.requests_per_s < slo.min_rps:
        reasons.append(f"{stats.requests_per_s:.1f} requests/s < {slo.min_rps:g} requests/s")
    return Verdict(not reasons, tuple(reasons))
