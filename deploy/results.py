"""One configuration's measured figures, and how they are stored in a run directory.

Each finished configuration leaves ``<run dir>/<NN-name>/result.json``; the
run's ``results.json``/``results.csv`` hold every row. A configuration without
``result.json`` was interrupted and is run again on resume.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from deploy.matrix import configuration_label
from deploy.probe import ProbeResult
from deploy.served_model import ServedModel

RESULT_FILE = "result.json"

# How a configuration ended: measured under load, never became ready, or the
# runner itself failed around it (Docker error, Locust wrote no statistics).
COMPLETED = "completed"
NOT_READY = "not_ready"
ERROR = "error"
STATUSES = (COMPLETED, NOT_READY, ERROR)

PASS = "pass"
MARGINAL = "marginal"
FAIL = "fail"
VERDICT_MARKS = {PASS: "✅", MARGINAL: "⚠️", FAIL: "❌"}

# What set a capacity besides the configuration itself (``capacity_bound``; None: the configuration).
GENERATOR_BOUND = "generator"
HOST_BOUND = "host"


@dataclass(frozen=True)
class ContainerFigures:
    """What the Docker Engine API said about the API replicas while the load ran.

    Sources: the stats API (CPU %, memory, throttling), container inspection
    (RestartCount), the events API (``oom``), the Gunicorn start line in each
    replica's log (workers).
    """

    workers_per_replica: tuple[int | None, ...]  # Gunicorn workers each replica started, None if unknown
    cpu_percent_mean: float  # mean CPU use of one replica, % of one core (docker stats' CPU %)
    cpu_percent_peak: float  # highest one-second CPU use of any replica, % of one core
    throttled_ratio: float  # CFS periods throttled / periods with runnable tasks, all replicas, 0..1
    memory_peak_bytes: int  # highest working set (usage minus inactive file cache) of any replica
    oom_kills: int  # OOM-killer events in the API containers from start to end of the configuration
    restarts: int  # container restarts during the load
    samples: int  # stats samples taken


@dataclass(frozen=True)
class ConfigurationResult:
    """Every figure of one configuration: its limits, Locust's statistics, the containers', the verdict."""

    index: int
    name: str
    replicas: int
    cpus: float
    memory: str
    memory_limit_bytes: int
    workers: int | None  # WEB_CONCURRENCY asked for; None = the service chose
    total_cpus: float
    total_memory_bytes: int
    status: str  # COMPLETED, NOT_READY or ERROR
    verdict: str  # PASS, MARGINAL or FAIL
    reason: str  # the verdict in words
    requests: int = 0
    failures: int = 0
    failure_ratio: float = 0.0
    requests_per_s: float = 0.0
    p50_ms: float | None = None  # Locust's percentiles over the run; None when no request completed
    p95_ms: float | None = None
    p99_ms: float | None = None
    generator_saturated: bool = False  # the locustfile's verdict: the generator's CPU was saturated
    containers: ContainerFigures | None = None
    ready_s: float | None = None  # seconds from `compose up` until every replica and Nginx were ready
    started_at: str = ""  # ISO 8601, UTC
    artifacts: str = ""  # subdirectory of the run directory with Locust's CSVs, its HTML and logs
    host_load_1m: float | None = None  # the tool's host's 1-minute load average as the load ended (os.getloadavg)
    # `deploy capacity` only: the highest offered rate that passed (req/s), what bounded it besides the
    # configuration (None, GENERATOR_BOUND, HOST_BOUND), the bottleneck in words, every probe in order.
    # The figures above (req/s, percentiles, containers) are then those of the probe at capacity.
    capacity_rps: float | None = None
    capacity_bound: str | None = None
    bottleneck: str = ""
    probes: tuple[ProbeResult, ...] = ()
    # The model GET /model named once the stack was ready; None when it never became ready, or the result
    # predates the record of the model.
    model: ServedModel | None = None

    @property
    def label(self) -> str:
        """How tables name the configuration: "3 × 0.5 CPU / 250M"."""
        return configuration_label(self.replicas, self.cpus, self.memory, self.workers)

    @property
    def mark(self) -> str:
        """✅, ⚠️ or ❌ for the verdict."""
        return VERDICT_MARKS[self.verdict]

    @property
    def memory_peak_ratio(self) -> float | None:
        """Highest replica working set over its memory limit, or None when nothing was sampled."""
        if self.containers is None or not self.containers.samples:
            return None
        return self.containers.memory_peak_bytes / self.memory_limit_bytes

    @property
    def capacity_per_cpu(self) -> float | None:
        """Capacity per CPU of the configuration's limits, req/s per CPU."""
        return None if self.capacity_rps is None else self.capacity_rps / self.total_cpus

    @property
    def capacity_per_gib(self) -> float | None:
        """Capacity per GiB of the configuration's memory limits, req/s per GiB."""
        return None if self.capacity_rps is None else self.capacity_rps / (self.total_memory_bytes / 1024**3)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict with every field (containers and probes nested)."""
        data = asdict(self)
        data["memory_peak_ratio"] = self.memory_peak_ratio
        data["capacity_per_cpu"] = self.capacity_per_cpu
        data["capacity_per_gib"] = self.capacity_per_gib
        return data

    def flat(self) -> dict[str, object]:
        """One flat row for CSV: container figures and the model inlined (``model_name``, ``model_version``,
        ``model_task``), lists joined with ';', probes left out (each configuration's probes.csv has them)."""
        data = {key: value for key, value in asdict(self).items() if key not in ("containers", "probes", "model")}
        for spec in fields(ServedModel):
            data[f"model_{spec.name}"] = getattr(self.model, spec.name) if self.model else None
        figures = self.containers
        for spec in fields(ContainerFigures):
            value = getattr(figures, spec.name) if figures else None
            if spec.name == "workers_per_replica" and value is not None:
                value = ";".join("" if workers is None else str(workers) for workers in value)
            data[spec.name] = value
        data["memory_peak_ratio"] = self.memory_peak_ratio
        data["capacity_per_cpu"] = self.capacity_per_cpu
        data["capacity_per_gib"] = self.capacity_per_gib
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ConfigurationResult:
        """Rebuild a result written by :meth:`to_dict`."""
        known = {spec.name for spec in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if values.get("containers") is not None:
            figures = dict(values["containers"])
            figures["workers_per_replica"] = tuple(figures["workers_per_replica"])
            values["containers"] = ContainerFigures(**figures)
        values["probes"] = tuple(ProbeResult.from_dict(probe) for probe in values.get("probes") or ())
        values["model"] = ServedModel.from_dict(values.get("model"))
        return cls(**values)


def artifacts_dirname(index: int, name: str) -> str:
    """The subdirectory of a run directory that holds one configuration's files, e.g. "03-1x0.35cpu-192M"."""
    return f"{index:02d}-{name}"


class UnreadableResult(ValueError):
    """A result.json that cannot be read, or is not one :func:`save_result` wrote."""


def read_result(path: Path) -> ConfigurationResult:
    """The result stored at ``path``; raises UnreadableResult naming the file and the problem."""
    try:
        result = ConfigurationResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
        if result.status not in STATUSES:
            raise ValueError(f"unknown status {result.status!r}")
        if result.verdict not in VERDICT_MARKS:
            raise ValueError(f"unknown verdict {result.verdict!r}")
        return result
    except OSError as error:
        raise UnreadableResult(f"{path}: cannot read it: {error.strerror}") from error
    except (ValueError, TypeError, KeyError, AttributeError) as error:  # bad JSON or UTF-8 is a ValueError too
        reason = str(error).splitlines()[0] if str(error) else repr(error)
        raise UnreadableResult(f"{path}: not a result.json written by `deploy run` ({reason})") from error


def save_result(result: ConfigurationResult, directory: Path) -> Path:
    """Write ``result`` as ``directory/result.json`` and return that path."""
    path = directory / RESULT_FILE
    path.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_results(run_dir: Path) -> list[ConfigurationResult]:
    """Every finished configuration's result in ``run_dir``, in matrix order.

    Only the current attempt counts: a directory a redo set aside (``NN-name.superseded-...``) is skipped.
    Raises UnreadableResult for a result.json that is damaged.
    """
    results = []
    for path in sorted(Path(run_dir).glob(f"*/{RESULT_FILE}")):
        result = read_result(path)
        if path.parent.name == result.artifacts:
            results.append(result)
    return sorted(results, key=lambda result: result.index)


def superseded_results(run_dir: Path) -> list[tuple[str, ConfigurationResult]]:
    """Earlier attempts a redo set aside in ``run_dir``: (directory name, result), in matrix order.

    Raises UnreadableResult for a result.json that is damaged.
    """
    attempts = []
    for path in sorted(Path(run_dir).glob(f"*.superseded-*/{RESULT_FILE}")):
        attempts.append((path.parent.name, read_result(path)))
    return sorted(attempts, key=lambda attempt: (attempt[1].index, attempt[0]))
