"""One probe of a capacity search: an open load at one rate, and whether the configuration held it.

A probe **passes** when, over its measured window, all of these hold:

- the SLO's failure share, p95 and p99 (``loadtest.slo.judge``; its throughput floor is replaced by the next rule);
- the achieved rate is at least 95% of the offered rate (``deploy.loadgen.MIN_ACHIEVED_SHARE``):
  a shortfall means requests queued, and a queue is a failure, never a pass at a lower rate;
- the load generator was not saturated (the locustfile's self-watch, ``loadtest/selfwatch.py``);
- no replica was OOM-killed, restarted, or found unhealthy in the health check after the probe.

Each probe keeps its figures: offered and achieved rate, percentiles, failures,
the replicas' CPU, throttling and memory (``deploy.sampling``).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, astuple, dataclass, fields, replace
from pathlib import Path

from deploy.loadgen import MIN_ACHIEVED_SHARE
from deploy.sampling import StatsSummary
from loadtest.slo import RunStats, Slo, judge, percentile_or_none


@dataclass(frozen=True)
class ProbeResult:
    """One probe's figures and verdict. Rates in requests/s, latencies in ms (None without requests),
    CPU in % of one core (docker stats' CPU %), memory in bytes."""

    number: int  # 1-based within its configuration
    offered_rps: float
    achieved_rps: float
    users: int
    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    cpu_percent_mean: float  # mean of one replica over the probe
    cpu_percent_peak: float
    throttled_ratio: float  # CFS periods throttled / periods, all replicas, 0..1
    memory_peak_bytes: int
    samples: int  # stats samples taken of the replicas
    oom_kills: int
    restarts: int
    unhealthy: tuple[str, ...]  # replicas not healthy after the drain, e.g. "api-2 unhealthy"
    generator_saturated: bool
    passed: bool
    reasons: tuple[str, ...]  # why it failed; for a pass, its figures in words
    artifacts: str = ""  # subdirectory of the configuration's directory with the probe's files

    @property
    def failure_ratio(self) -> float:
        """Failed requests / requests, 0..1."""
        return self.failures / self.requests if self.requests else 0.0

    @property
    def events(self) -> ProbeEvents:
        """What befell the generator and the replicas during the probe."""
        return ProbeEvents(self.generator_saturated, self.oom_kills, self.restarts, self.unhealthy)

    @property
    def achieved_share(self) -> float:
        """Achieved over offered rate."""
        return self.achieved_rps / self.offered_rps if self.offered_rps else 0.0

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ProbeResult:
        """Rebuild a probe written by :meth:`to_dict`."""
        return cls(**{**data, "unhealthy": tuple(data.get("unhealthy", ())), "reasons": tuple(data["reasons"])})


@dataclass(frozen=True)
class ProbeEvents:
    """What befell the generator and the replicas during one probe, besides its figures."""

    generator_saturated: bool = False  # the locustfile's self-watch: the generator ran out of CPU
    oom_kills: int = 0
    restarts: int = 0
    unhealthy: tuple[str, ...] = ()  # replicas not healthy after the drain, e.g. "api-2 unhealthy"


def judge_probe(offered_rps: float, achieved_rps: float, stats: RunStats | None, slo: Slo,
                events: ProbeEvents) -> tuple[bool, tuple[str, ...]]:
    """(passed, reasons) for one probe under the rules of the module docstring; ``stats`` None:
    Locust wrote no statistics."""
    reasons: list[str] = []
    if stats is None:
        reasons.append("Locust wrote no statistics")
    else:
        if achieved_rps < MIN_ACHIEVED_SHARE * offered_rps:
            reasons.append(f"achieved {achieved_rps:.1f} of {offered_rps:g} req/s offered "
                           f"({achieved_rps / offered_rps:.0%} < {MIN_ACHIEVED_SHARE:.0%})")
        reasons.extend(judge(stats, replace(slo, min_rps=0.0)).reasons)
    if events.generator_saturated:
        reasons.append("load generator saturated")
    if events.oom_kills:
        reasons.append(f"OOM-killed {events.oom_kills} time(s)")
    if events.restarts:
        reasons.append(f"containers restarted {events.restarts} time(s)")
    reasons.extend(events.unhealthy)
    if reasons:
        return False, tuple(reasons)
    return True, (f"{achieved_rps:.1f} req/s, p95 {stats.p95_ms:g} ms, p99 {stats.p99_ms:g} ms, "
                  f"{stats.failure_ratio:.2%} failed",)


def probe_result(number: int, offered_rps: float, achieved_rps: float, users: int, stats: RunStats | None,
                 summary: StatsSummary, slo: Slo, events: ProbeEvents, artifacts: str = "") -> ProbeResult:
    """A judged probe from what it measured: ``users`` Locust users offering ``offered_rps``, ``stats`` over its
    window (None: Locust wrote none), ``summary`` of the replicas' samples meanwhile."""
    passed, reasons = judge_probe(offered_rps, achieved_rps, stats, slo, events)
    return ProbeResult(
        number=number, offered_rps=offered_rps, achieved_rps=round(achieved_rps, 2), users=users,
        requests=stats.requests if stats else 0, failures=stats.failures if stats else 0,
        p50_ms=percentile_or_none(stats.p50_ms) if stats else None, p95_ms=percentile_or_none(stats.p95_ms) if stats else None,
        p99_ms=percentile_or_none(stats.p99_ms) if stats else None,
        cpu_percent_mean=round(summary.cpu_percent_mean, 1), cpu_percent_peak=round(summary.cpu_percent_peak, 1),
        throttled_ratio=round(summary.throttled_ratio, 4), memory_peak_bytes=summary.memory_peak_bytes,
        samples=summary.samples, oom_kills=events.oom_kills, restarts=events.restarts, unhealthy=events.unhealthy,
        generator_saturated=events.generator_saturated, passed=passed, reasons=reasons, artifacts=artifacts,
    )


def write_probes(probes: list[ProbeResult], path: Path) -> None:
    """Write ``probes`` as CSV, one row each, reasons joined with '; '."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([spec.name for spec in fields(ProbeResult)])
        for probe in probes:
            writer.writerow(["; ".join(value) if isinstance(value, tuple) else value for value in astuple(probe)])


def rejudge_probe(probe: ProbeResult, slo: Slo) -> ProbeResult:
    """``probe`` judged again under ``slo`` from the figures it kept (after a change of the SLO or the rules)."""
    stats = None
    if probe.requests or probe.p95_ms is not None:
        nan = float("nan")
        stats = RunStats(requests=probe.requests, failures=probe.failures, requests_per_s=probe.achieved_rps,
                         p50_ms=nan if probe.p50_ms is None else probe.p50_ms,
                         p95_ms=nan if probe.p95_ms is None else probe.p95_ms,
                         p99_ms=nan if probe.p99_ms is None else probe.p99_ms)
    passed, reasons = judge_probe(probe.offered_rps, probe.achieved_rps, stats, slo, probe.events)
    return replace(probe, passed=passed, reasons=reasons)
