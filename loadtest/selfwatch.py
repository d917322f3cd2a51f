"""Whether the load generator itself ran out of CPU during a run.

A Locust process runs all its users on one core (gevent). Once it needs most
of that core, requests queue inside the generator, and the latencies and
throughput it reports describe the generator rather than the service. Locust
warns above 90 % of one core (``CPU_WARNING_THRESHOLD``, ``locust/runners.py``)
but samples only every 10 s; this watch samples every second, so a short run is
judged too, and counts the share of saturated samples. In a distributed run each
worker sends its samples to the master, which judges every node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gevent
import psutil
from locust.runners import MasterRunner, WorkerRunner

# Locust's own threshold: percent of one core.
SATURATION_PERCENT = 90.0
# Spawning users costs CPU for a moment; a fifth of the run spent saturated is
# no longer a moment.
SATURATED_SHARE = 0.2
SAMPLE_INTERVAL_S = 1.0
MESSAGE_TYPE = "loadtest_generator_cpu"


@dataclass(frozen=True)
class NodeCpu:
    """One generator process's CPU samples, percent of one core."""

    node: str
    samples: tuple[float, ...]

    @property
    def saturated_samples(self) -> int:
        return sum(1 for percent in self.samples if percent > SATURATION_PERCENT)

    @property
    def saturated(self) -> bool:
        """True when more than ``SATURATED_SHARE`` of the samples were over ``SATURATION_PERCENT``."""
        return bool(self.samples) and self.saturated_samples / len(self.samples) > SATURATED_SHARE

    def describe(self) -> str:
        """``"worker 1: 9 of 30 samples over 90% of one core"``."""
        return (f"{self.node}: {self.saturated_samples} of {len(self.samples)} samples "
                f"over {SATURATION_PERCENT:g}% of one core")


def saturation_reason(nodes: Sequence[NodeCpu], locust_warnings: Sequence[str]) -> str | None:
    """The verdict line when any node was saturated or Locust itself warned, else None."""
    causes = [node.describe() for node in nodes if node.saturated] + list(locust_warnings)
    if not causes:
        return None
    return "generator CPU saturated: results not trustworthy (" + "; ".join(causes) + ")"


class CpuWatch:
    """Samples this process's CPU while a test runs; on the master, also the workers'."""

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._samples: dict[str, list[float]] = {}
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

    def record(self, node: str, cpu_percent: float) -> None:
        self._samples.setdefault(node, []).append(cpu_percent)

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
        while True:
            gevent.sleep(self.interval_s)
            cpu_percent = process.cpu_percent()
            if isinstance(runner, WorkerRunner):
                runner.send_message(MESSAGE_TYPE, {"cpu_percent": cpu_percent})
            else:
                self.record(node, cpu_percent)

    def _on_worker_sample(self, environment: Any, msg: Any, **_: Any) -> None:
        index = environment.runner.get_worker_index(msg.node_id)
        self.record(f"worker {index}", float(msg.data["cpu_percent"]))


def locust_warnings(runner: Any) -> list[str]:
    """Locust's own CPU warnings for the current test (its 10 s samples over 90 %)."""
    warnings = []
    if getattr(runner, "cpu_warning_emitted", False):
        warnings.append("Locust's CPU warning on this process")
    if getattr(runner, "worker_cpu_warning_emitted", False):
        warnings.append("Locust's CPU warning on a worker")
    return warnings
