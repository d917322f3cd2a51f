"""The directory one run of a matrix writes into, and finding an unfinished one to resume.

Layout of ``reports/experiments/<timestamp>/``::

    plan.json            what was asked: matrix, selected rows, load, SLO, host
    matrix.toml          a copy of the matrix file as it was run
    NN-<name>/           per configuration: Locust's CSVs and HTML, its log, stats samples, result.json
    NN-<name>.superseded-<time>/   an earlier attempt, set aside by --redo
    results.{csv,json,md}, *.png   written when every selected configuration is done
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.matrix import Matrix
from deploy.results import ERROR, RESULT_FILE, artifacts_dirname

if TYPE_CHECKING:
    from deploy.pinning import Pinning

PLAN_FILE = "plan.json"
MATRIX_COPY = "matrix.toml"
DONE_FILE = "results.json"
DEFAULT_ROOT = Path("reports/experiments")
# What a run measures: the matrix's fixed load (`deploy run`) or each configuration's capacity (`deploy capacity`).
RUN_MODE = "run"
CAPACITY_MODE = "capacity"


@dataclass(frozen=True)
class Host:
    """The machine the stack and the load generator shared."""

    cpus: int  # CPUs the Docker engine reports (docker info NCPU)
    memory_bytes: int
    docker_version: str
    cgroup_version: str
    os: str


@dataclass(frozen=True)
class Plan:
    """A run's fixed facts, written once when it starts and read again on resume."""

    matrix: str  # path of the matrix file as given
    selected: tuple[int, ...]  # 1-based configuration indices to run
    started_at: str  # ISO 8601, UTC
    host: Host
    mode: str = RUN_MODE  # RUN_MODE or CAPACITY_MODE
    target_rps: float | None = None  # capacity runs: --target-rps, which replaces the matrix's [goal] rps
    placement: str = ""  # --pin in words, for the reports ("": unpinned)
    generator_cpus: tuple[int, ...] = ()  # --pin's host CPUs of the load generator, ascending ((): unpinned)
    stack_cpus: tuple[int, ...] = ()  # --pin's host CPUs of Nginx and the replicas, ascending ((): unpinned)

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        """Rebuild a plan read from plan.json (one written before capacity runs existed is a fixed-load run;
        one written before plans kept the CPU lists has empty ones, its ``placement`` alone telling of a --pin)."""
        return cls(matrix=data["matrix"], selected=tuple(data["selected"]), started_at=data["started_at"],
                   host=Host(**data["host"]), mode=data.get("mode", RUN_MODE), target_rps=data.get("target_rps"),
                   placement=data.get("placement", ""), generator_cpus=tuple(data.get("generator_cpus", ())),
                   stack_cpus=tuple(data.get("stack_cpus", ())))

    @staticmethod
    def pinning_fields(pinning: Pinning | None) -> dict:
        """The plan fields that record ``pinning`` (None: unpinned), as keyword arguments of Plan."""
        if pinning is None:
            return {"placement": "", "generator_cpus": (), "stack_cpus": ()}
        return {"placement": pinning.describe(), "generator_cpus": tuple(sorted(pinning.generator)),
                "stack_cpus": tuple(sorted(pinning.stack))}

    @property
    def pinning_unrecorded(self) -> bool:
        """True for a plan that ran with --pin but was written before plans kept its CPU lists."""
        return bool(self.placement) and not self.generator_cpus

    def same_pinning(self, pinning: Pinning | None) -> bool:
        """True when ``pinning`` (None: unpinned) puts the generator and the stack on the CPUs this plan ran on."""
        asked = self.pinning_fields(pinning)
        return (self.generator_cpus, self.stack_cpus) == (asked["generator_cpus"], asked["stack_cpus"])


def create_run_dir(root: Path, matrix: Matrix, plan: Plan) -> Path:
    """Make ``root/<UTC timestamp>/`` with the plan and a copy of the matrix; return it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = root / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = root / f"{stamp}-{suffix}"
    run_dir.mkdir(parents=True)
    shutil.copyfile(matrix.path, run_dir / MATRIX_COPY)
    (run_dir / PLAN_FILE).write_text(json.dumps(asdict(plan), indent=2) + "\n", encoding="utf-8")
    return run_dir


def discard_unstarted(run_dir: Path) -> bool:
    """Remove ``run_dir`` when it holds nothing but what ``create_run_dir`` put there (no configuration started);
    True when removed. Anything else in it is left alone."""
    if {path.name for path in run_dir.iterdir()} - {PLAN_FILE, MATRIX_COPY}:
        return False
    for name in (PLAN_FILE, MATRIX_COPY):
        (run_dir / name).unlink(missing_ok=True)
    run_dir.rmdir()
    return True


def read_plan(run_dir: Path) -> Plan:
    """The plan of an existing run directory; raises FileNotFoundError when it has none."""
    return Plan.from_dict(json.loads((run_dir / PLAN_FILE).read_text(encoding="utf-8")))


def configuration_dir(run_dir: Path, index: int, name: str) -> Path:
    """Where configuration ``index`` keeps its files (created if missing)."""
    directory = run_dir / artifacts_dirname(index, name)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def is_finished(run_dir: Path, index: int, name: str) -> bool:
    """True when configuration ``index`` has its result in ``run_dir``.

    A configuration the runner failed around (status "error": Docker or Locust
    broke, not the configuration) is not finished: a resumed run tries it again.
    """
    path = run_dir / artifacts_dirname(index, name) / RESULT_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("status") != ERROR
    except (OSError, ValueError):
        return False


def set_aside(run_dir: Path, index: int, name: str) -> Path | None:
    """Rename configuration ``index``'s directory to ``NN-name.superseded-<UTC time>`` so it is measured again;
    its files stay for comparison. Returns the new path, or None when it had none."""
    directory = run_dir / artifacts_dirname(index, name)
    if not directory.exists():
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return directory.rename(directory.with_name(f"{directory.name}.superseded-{stamp}"))


def latest_unfinished(root: Path, matrix_path: Path, mode: str = RUN_MODE) -> Path | None:
    """The newest run directory under ``root`` of the same matrix file and ``mode`` that has no results yet, or None."""
    candidates = []
    for plan_path in root.glob(f"*/{PLAN_FILE}"):
        run_dir = plan_path.parent
        try:
            plan = read_plan(run_dir)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not (run_dir / DONE_FILE).exists() and Path(plan.matrix).resolve() == matrix_path.resolve() \
                and plan.mode == mode:
            candidates.append(run_dir)
    return max(candidates, key=lambda path: path.name, default=None)
