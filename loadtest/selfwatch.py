"""Whether the load generator itself ran out of CPU during a run.

A Locust process runs all its users on one core (gevent). Once that core is
not enough, responses wait inside the generator before they are timed, and the
latencies and throughput it reports describe the generator rather than the
service. Two signals, sampled every second on every generator process:

- CPU use: more than 90 % of one core, Locust's own threshold
  (``CPU_WARNING_THRESHOLD`` in ``locust/runners.py``; Locust samples it only
  every 10 s, too seldom for a short run);
- lateness: how much later than asked a short ``gevent.sleep`` wakes up, on
  average. Every ready greenlet runs before it, so responses wait as long before
  they are timed. On a shared machine a starved generator gets far less than a
  core, shows low CPU use, and yet runs late; lateness catches that too.

A node counts as saturated when more than a fifth of its samples, and three at
least, show either.
In a distributed run each worker sends its samples to the master, which judges
every node.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gevent
import psutil
from locust.runners import MasterRunner, WorkerRunner

SATURATION_PERCENT = 90.0  # of one core: Locust's own threshold
# Mean lateness of a wake-up: a response waits about as long before it is timed.
# Measured on a shared 2-core machine: 1-4 ms for 4 users, 45-55 ms for a
# generator of 200 users that got a fifth of a core.
LATE_MS = 20.0
# Spawning users costs CPU for a moment, and a busy host can stall any process
# for a second; a fifth of the run, and at least three seconds, is no longer that.
SATURATED_SHARE = 0.2
MIN_SATURATED_SAMPLES = 3
SAMPLE_INTERVAL_S = 1.0
WAKEUPS_PER_SAMPLE = 10  # lateness is the mean over this many wake-ups a sample
MESSAGE_TYPE = "loadtest_generator_cpu"


@dataclass(frozen=True)
class Sample:
    """One second of one generator process: CPU use (percent of one core), mean wake-up lateness (ms)."""

    cpu_percent: float
    late_ms: float

    @property
    def saturated(self) -> bool:
        return self.cpu_percent > SATURATION_PERCENT or self.late_ms > LATE_MS


@dataclass(frozen=True)
class NodeCpu:
    """One generator process's samples over a test."""

    node: str
    samples: tuple[Sample, ...]

    @property
    def saturated_samples(self) -> int:
        return sum(sample.saturated for sample in self.samples)

    @property
    def saturated(self) -> bool:
        """True when over ``SATURATED_SHARE`` of the samples, and ``MIN_SATURATED_SAMPLES`` at least, were saturated."""
        count = self.saturated_samples
        return count >= MIN_SATURATED_SAMPLES and count / len(self.samples) > SATURATED_SHARE

    def describe(self) -> str:
        """``"worker 1: 9 of 30 samples over 90% of one core or over 50 ms late"``."""
        return (f"{self.node}: {self.saturated_samples} of {len(self.samples)} samples over "
                f"{SATURATION_PERCENT:g}% of one core or over {LATE_MS:g} ms late")

    def as_dict(self) -> dict[str, Any]:
        """Counts and extremes, for the verdict file."""
        return {
            "node": self.node,
            "samples": len(self.samples),
            "saturated_samples": self.saturated_samples,
            "max_cpu_percent": max((sample.cpu_percent for sample in self.samples), default=0.0),
            "max_late_ms": round(max((sample.late_ms for sample in self.samples), default=0.0), 1),
        }


def saturation_reason(nodes: Sequence[NodeCpu], locust_warnings: Sequence[str]) -> str | None:
    """The verdict line when any node was saturated or Locust itself warned, else None."""
    causes = [node.describe() for node in nodes if node.saturated] + list(locust_warnings)
    if not causes:
        return None
    return "generator CPU saturated: results not trustworthy (" + "; ".join(causes) + ")"


def locust_warnings(runner: Any) -> list[str]:
    """Locust's own CPU warnings for the current test (its 10 s samples over 90 %)."""
    warnings = []
    if getattr(runner, "cpu_warning_emitted", False):
        warnings.append("Locust's CPU warning on this process")
    if getattr(runner, "worker_cpu_warning_emitted", False):
        warnings.append("Locust's CPU warning on a worker")
    return warnings


class CpuWatch:
    """Samples this process while a test runs; on the master, also collects the workers' samples."""

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._samples: dict[str, list[Sample]] = {}
        self._greenlet: gevent.Greenlet | None = None

    def attach(self, environment: Any) -> None:
        """Sample from each test start to its stop; call once, from Locust's ``init`` event."""
        if isinstance(environment.runner, MasterRunner):
            environment.runner.register_message(MESSAGE_TYPE, self._on_worker_sample)
        environment.events.test_start.add_listener(self._start)
        environment.events.test_stop.add_listener(self._stop)

    def nodes(self) -> list[NodeCpu]:
        """The samples of every node seen since the last test start."""
        return [NodeCpu(node, tuple(samples)) for node, samples in self._samples.items()]

    def record(self, node: str, sample: Sample) -> None:
        self._samples.setdefault(node, []).append(sample)

    def _start(self, environment: Any, **_: Any) -> None:
        self._stop()
        self._samples = {}
        self._greenlet = gevent.spawn(self._sample, environment.runner)

    def _stop(self, **_: Any) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _sample(self, runner: Any) -> None:
        process = psutil.Process()
        process.cpu_percent()  # the first call only sets the baseline
        node = "master" if isinstance(runner, MasterRunner) else "generator"
        tick_s = self.interval_s / WAKEUPS_PER_SAMPLE
        while True:
            late_s = 0.0
            for _ in range(WAKEUPS_PER_SAMPLE):
                asleep_at = time.perf_counter()
                gevent.sleep(tick_s)
                late_s += max(time.perf_counter() - asleep_at - tick_s, 0.0)
            sample = Sample(cpu_percent=process.cpu_percent(), late_ms=1000 * late_s / WAKEUPS_PER_SAMPLE)
            if isinstance(runner, WorkerRunner):
                runner.send_message(MESSAGE_TYPE, {"cpu_percent": sample.cpu_percent, "late_ms": sample.late_ms})
            else:
                self.record(node, sample)

    def _on_worker_sample(self, environment: Any, msg: Any, **_: Any) -> None:
        index = environment.runner.get_worker_index(msg.node_id)
        self.record(f"worker {index}", Sample(float(msg.data["cpu_percent"]), float(msg.data["late_ms"])))
