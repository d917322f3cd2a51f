"""Sample the API replicas' CPU, memory and CPU throttling from the Docker stats API while the load runs.

One thread per container follows the engine's stats stream (one sample a
second). The figures are computed the way the ``docker stats`` CLI computes
them (docker/cli, cli/command/container/stats_helpers.go): CPU % from the
container's and the host's CPU-time deltas, memory as usage minus the inactive
file cache. Throttling comes from ``cpu_stats.throttling_data``, which the
engine reads from the container's cgroup (``cpu.stat`` on cgroup v1 and v2).
"""

from __future__ import annotations

import csv
import threading
import time
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from docker.errors import DockerException
from docker.models.containers import Container
from requests.exceptions import RequestException

from deploy.containers import replica_name

JOIN_TIMEOUT_S = 5.0
SAMPLES_FILE = "samples.csv"


@dataclass(frozen=True)
class StatsSample:
    """One stats reading of one replica."""

    replica: str
    elapsed_s: float  # since sampling started
    cpu_percent: float | None  # % of one core over the last interval; None on the stream's first reading
    memory_bytes: int  # usage minus inactive file cache
    memory_limit_bytes: int
    throttled_periods: int  # cumulative since the container started
    periods: int  # cumulative CFS periods with runnable tasks


@dataclass(frozen=True)
class StatsSummary:
    """Samples of every replica reduced to the figures a report shows."""

    cpu_percent_mean: float
    cpu_percent_peak: float
    throttled_ratio: float
    memory_peak_bytes: int
    samples: int


def cpu_percent(stats: dict) -> float | None:
    """CPU use over the interval between ``precpu_stats`` and ``cpu_stats``, % of one core (docker stats' formula)."""
    cpu, previous = stats.get("cpu_stats", {}), stats.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - previous.get("cpu_usage", {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - previous.get("system_cpu_usage", 0)
    if not previous.get("system_cpu_usage") or system_delta <= 0 or cpu_delta < 0:
        return None
    online = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or ()) or 1
    return cpu_delta / system_delta * online * 100.0


def memory_working_set(stats: dict) -> int:
    """Memory usage minus the inactive file cache, bytes (cgroup v1 ``total_inactive_file``, v2 ``inactive_file``)."""
    memory = stats.get("memory_stats", {})
    usage = int(memory.get("usage", 0))
    details = memory.get("stats", {})
    inactive = details.get("total_inactive_file", details.get("inactive_file", 0))
    return usage - inactive if inactive < usage else usage


def parse_stats(replica: str, elapsed_s: float, stats: dict) -> StatsSample:
    """One stats API reading (a ``/containers/{id}/stats`` document) as a sample."""
    throttling = stats.get("cpu_stats", {}).get("throttling_data", {})
    return StatsSample(
        replica=replica,
        elapsed_s=round(elapsed_s, 3),
        cpu_percent=cpu_percent(stats),
        memory_bytes=memory_working_set(stats),
        memory_limit_bytes=int(stats.get("memory_stats", {}).get("limit", 0)),
        throttled_periods=int(throttling.get("throttled_periods", 0)),
        periods=int(throttling.get("periods", 0)),
    )


def summarize(samples: list[StatsSample]) -> StatsSummary:
    """Mean and peak CPU %, the share of throttled periods, and the memory peak over ``samples``.

    The throttled share adds each replica's increase in throttled periods and
    divides by the increase in periods; a counter that went down (the container
    restarted) counts from its new start.
    """
    cpu = [sample.cpu_percent for sample in samples if sample.cpu_percent is not None]
    throttled = periods = 0
    for replica in {sample.replica for sample in samples}:
        own = [sample for sample in samples if sample.replica == replica]
        for earlier, later in zip(own, own[1:]):
            restarted = later.periods < earlier.periods
            throttled += later.throttled_periods - (0 if restarted else earlier.throttled_periods)
            periods += later.periods - (0 if restarted else earlier.periods)
    return StatsSummary(
        cpu_percent_mean=sum(cpu) / len(cpu) if cpu else 0.0,
        cpu_percent_peak=max(cpu, default=0.0),
        throttled_ratio=throttled / periods if periods else 0.0,
        memory_peak_bytes=max((sample.memory_bytes for sample in samples), default=0),
        samples=len(samples),
    )


def write_samples(samples: list[StatsSample], path: Path) -> None:
    """Write every sample as CSV, one row per replica and second."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([spec.name for spec in fields(StatsSample)])
        writer.writerows(astuple(sample) for sample in samples)


def read_samples(path: Path) -> list[StatsSample]:
    """Read samples written by :func:`write_samples`."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            StatsSample(
                replica=row["replica"], elapsed_s=float(row["elapsed_s"]),
                cpu_percent=float(row["cpu_percent"]) if row["cpu_percent"] else None,
                memory_bytes=int(row["memory_bytes"]), memory_limit_bytes=int(row["memory_limit_bytes"]),
                throttled_periods=int(row["throttled_periods"]), periods=int(row["periods"]),
            )
            for row in csv.DictReader(handle)
        ]


class StatsSampler:
    """Follow the stats streams of some containers in background threads until :meth:`stop`."""

    def __init__(self, containers: list[Container]) -> None:
        self._containers = containers
        self._samples: list[StatsSample] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = 0.0

    def start(self) -> StatsSampler:
        """Start one sampling thread per container."""
        self._started = time.monotonic()
        for container in self._containers:
            thread = threading.Thread(target=self._follow, args=(container,), daemon=True,
                                      name=f"stats-{replica_name(container)}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> list[StatsSample]:
        """Stop the threads (each wakes at its next sample, about a second) and return every sample, in time order."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT_S)
        with self._lock:
            return sorted(self._samples, key=lambda sample: (sample.elapsed_s, sample.replica))

    def _follow(self, container: Container) -> None:
        replica = replica_name(container)
        while not self._stopping.is_set():
            try:
                for stats in container.stats(stream=True, decode=True):
                    if self._stopping.is_set():
                        return
                    # A stopped container's stream sends empty readings; they are not samples.
                    if not stats.get("memory_stats"):
                        continue
                    sample = parse_stats(replica, time.monotonic() - self._started, stats)
                    with self._lock:
                        self._samples.append(sample)
            except (DockerException, RequestException):
                # The container restarted or went away; try again while the load runs.
                pass
            self._stopping.wait(1.0)
