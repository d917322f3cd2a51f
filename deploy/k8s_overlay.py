"""Write the scale experiments' recommendation as a kustomize overlay of deploy/k8s/base.

``python -m deploy recommend --k8s DIR`` reads a run's ``results.json``, takes
the cheapest passing configuration (:func:`deploy.recommend.recommend`), or for a
capacity run the sizing for a target rate (:func:`deploy.sizing.size_for`: its
replica count is the autoscaler's minimum), and writes ``DIR/kustomization.yaml`` and ``DIR/size.yaml``: a patch that sets
the Deployment's CPU and memory requests and limits and WEB_CONCURRENCY, and
the HorizontalPodAutoscaler's replica range. Apply with ``kubectl apply -k DIR``.
Both files begin with :data:`WRITTEN_MARK`; a kustomization or patch without it
(a hand-written overlay, the base itself) is never overwritten.
Field reference: https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import yaml

from deploy.matrix import Goal
from deploy.recommend import recommend
from deploy.report import RESULTS_JSON
from deploy.results import ConfigurationResult
from deploy.served_model import model_words
from deploy.rundir import CAPACITY_MODE, DEFAULT_ROOT
from deploy.sizing import Sizing, size_for

BASE_DIR = Path(__file__).resolve().parent / "k8s" / "base"
KUSTOMIZATION_FILE = "kustomization.yaml"
PATCH_FILE = "size.yaml"
# kustomize reads whichever of these a directory holds and refuses a directory with two.
KUSTOMIZATION_NAMES = (KUSTOMIZATION_FILE, "kustomization.yml", "Kustomization")
# The first line of every file this module writes: only files that begin with it are overwritten.
WRITTEN_MARK = "# Written by `python -m deploy recommend --k8s`: do not edit, run it again."
# The base's names (deploy/k8s/base): the Deployment, its HPA and the container.
WORKLOAD_NAME = "api-inference"
CONTAINER_NAME = "api"
# With the base's PodDisruptionBudget (maxUnavailable 1), two pods keep one
# serving through a node drain; the experiments measure capacity, not that.
MIN_REPLICAS = 2
# Headroom the autoscaler may add above the measured replica count.
SCALE_OUT_FACTOR = 2
MIB = 1024**2
DEFAULT_HEADROOM = Goal().headroom


class NoRecommendation(LookupError):
    """The results hold no configuration that passed the SLO, so there is nothing to deploy."""


class NotResults(ValueError):
    """The file is not a results.json that ``python -m deploy run`` wrote."""


class OverlayRefused(ValueError):
    """The overlay directory is a file, or holds a kustomization or patch this module did not write."""


def find_results(path: Path | None, root: Path = DEFAULT_ROOT) -> Path:
    """The results.json to read: ``path`` itself, ``path/results.json`` for a run directory,
    or the newest ``root/<timestamp>/results.json`` when ``path`` is None.

    Raises FileNotFoundError when there is none.
    """
    if path is not None:
        candidate = path / RESULTS_JSON if path.is_dir() else path
        if not candidate.is_file():
            raise FileNotFoundError(f"no {RESULTS_JSON} at {candidate}")
        return candidate
    # Run directories are named by their UTC start time, so the newest sorts last.
    finished = sorted(root.glob(f"*/{RESULTS_JSON}"))
    if not finished:
        raise FileNotFoundError(f"no finished run under {root}: run `python -m deploy run` first")
    return finished[-1]


def recommended_configuration(results_json: Path) -> ConfigurationResult:
    """The cheapest configuration that passed in ``results_json``.

    Raises NotResults when the file is not JSON of the shape ``{"configurations": [result, ...]}``,
    NoRecommendation when no configuration passed, OSError when it cannot be read.
    """
    _, results = read_results(results_json)
    best = recommend(results).cheapest_pass
    if best is None:
        raise NoRecommendation(f"no configuration in {results_json} passed the SLO; nothing to deploy")
    return best


def is_capacity_run(results_json: Path) -> bool:
    """Whether ``results_json`` was written by ``deploy capacity``. Raises like :func:`read_results`."""
    document, _ = read_results(results_json)
    return document.get("mode") == CAPACITY_MODE


def capacity_sizing(results_json: Path, target_rps: float | None) -> Sizing:
    """The sizing of a capacity run's ``results_json`` for ``target_rps`` (None: the run's goal).

    Raises NoRecommendation when there is no target, or nothing measured holds it or extrapolates to it;
    NotResults and OSError like :func:`read_results`.
    """
    document, results = read_results(results_json)
    goal = document.get("goal") or {}
    target = target_rps if target_rps is not None else goal.get("rps")
    if not target:
        raise NoRecommendation(f"{results_json} has no goal: give the rate to size for with --target-rps")
    sizing = size_for(results, float(target), float(goal.get("headroom", DEFAULT_HEADROOM)))
    if sizing.replicas is None:
        raise NoRecommendation(f"no configuration in {results_json} holds {target:g} req/s, and none has a "
                               "capacity of its own to extrapolate from")
    return sizing


def read_results(results_json: Path) -> tuple[dict, list[ConfigurationResult]]:
    """The document and the rows of a results.json.

    Raises NotResults when the file is not JSON of the shape ``{"configurations": [result, ...]}``,
    OSError when it cannot be read.
    """
    try:
        document = json.loads(results_json.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise TypeError(f"the top level is {type(document).__name__}, not an object")
        rows = document["configurations"]
        if not isinstance(rows, list):
            raise TypeError(f"'configurations' is {type(rows).__name__}, not a list")
        results = [ConfigurationResult.from_dict(row) for row in rows]
    except KeyError as error:
        raise NotResults(_not_results(results_json, f"no key {error}")) from error
    except (ValueError, TypeError, AttributeError) as error:  # bad JSON or UTF-8 is a ValueError too
        raise NotResults(_not_results(results_json, str(error).splitlines()[0])) from error
    return document, results


def _not_results(results_json: Path, reason: str) -> str:
    return f"{results_json} is not a results.json written by `deploy run` ({reason})"


def cpu_quantity(cpus: float) -> str:
    """Docker's ``cpus`` as a Kubernetes CPU quantity: 0.5 -> "500m", 2.0 -> "2"."""
    millicores = round(cpus * 1000)
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def memory_quantity(size_bytes: int) -> str:
    """Bytes as a Kubernetes memory quantity: 268435456 -> "256Mi"; Docker's "256M" is 256 MiB too."""
    if size_bytes % MIB == 0:
        return f"{size_bytes // MIB}Mi"
    if size_bytes % 1024 == 0:
        return f"{size_bytes // 1024}Ki"
    return str(size_bytes)


def workers(result: ConfigurationResult) -> int:
    """The Gunicorn workers the configuration ran: WEB_CONCURRENCY as set, else the service's own
    rule (service/cpu.py), one per CPU of the limit rounded up."""
    return result.workers if result.workers is not None else math.ceil(result.cpus)


def replica_range(replicas: int) -> tuple[int, int]:
    """(minReplicas, maxReplicas) for the autoscaler from the measured replica count."""
    minimum = max(replicas, MIN_REPLICAS)
    return minimum, minimum * SCALE_OUT_FACTOR


def patches(result: ConfigurationResult, replicas: int | None = None) -> list[dict]:
    """The strategic-merge patches of ``result``: the Deployment's container, then the HPA sized from
    ``replicas`` (default: the configuration's own)."""
    size = {"cpu": cpu_quantity(result.cpus), "memory": memory_quantity(result.memory_limit_bytes)}
    minimum, maximum = replica_range(replicas or result.replicas)
    container = {
        "name": CONTAINER_NAME,
        "env": [{"name": "WEB_CONCURRENCY", "value": str(workers(result))}],
        "resources": {"requests": dict(size), "limits": dict(size)},
    }
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": WORKLOAD_NAME},
         "spec": {"template": {"spec": {"containers": [container]}}}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": WORKLOAD_NAME},
         "spec": {"minReplicas": minimum, "maxReplicas": maximum}},
    ]


def check_overlay_dir(directory: Path) -> None:
    """Raise OverlayRefused unless :func:`write_overlay` may write into ``directory``: it must be a directory
    or not exist yet (nor any parent be a file), and hold no kustomization or size.yaml without
    :data:`WRITTEN_MARK`."""
    existing = next((path for path in (directory, *directory.parents) if path.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "" if existing == directory else f": {existing}"
        raise OverlayRefused(f"{directory}{where} is a file, not a directory")
    for name in (*KUSTOMIZATION_NAMES, PATCH_FILE):
        path = directory / name
        if (path.exists() or path.is_symlink()) and not _written_here(path):
            raise OverlayRefused(f"{path} exists and was not written by `python -m deploy recommend --k8s`; "
                                 "it is left alone: choose another directory or remove it")


def _written_here(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == WRITTEN_MARK
    except (OSError, ValueError):  # a directory, a dangling link, not UTF-8: not ours
        return False


def write_overlay(result: ConfigurationResult, directory: Path, source: Path, base_dir: Path = BASE_DIR,
                  sizing: Sizing | None = None) -> list[Path]:
    """Write ``directory/kustomization.yaml`` and ``directory/size.yaml`` for ``result``; return both paths.

    ``source`` (the results.json read) is named in the header; the base is
    referenced by a path relative to ``directory``, as kustomize requires. With
    ``sizing`` (a capacity run's), ``result`` is the replica size and the
    autoscaler's minimum is the sizing's replica count.
    Raises OverlayRefused (see :func:`check_overlay_dir`) before writing anything,
    OSError when the directory or a file cannot be written.
    """
    check_overlay_dir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    replicas = sizing.replicas if sizing is not None else result.replicas
    minimum, _ = replica_range(replicas)
    if sizing is None:
        header = [
            WRITTEN_MARK,
            f"# From {source}: the cheapest configuration that passed, {result.label},",
            f"# measured at {result.requests_per_s:.0f} req/s, p95 {result.p95_ms:.0f} ms, "
            f"p99 {result.p99_ms:.0f} ms, {result.failure_ratio:.2%} failed.",
        ]
    else:
        how = ("extrapolated from the capacity of " if sizing.extrapolation else "measured capacity of ") + \
            f"{result.label}: {result.capacity_rps:g} req/s"
        header = [
            WRITTEN_MARK,
            f"# From {source}: {replicas} replica(s) of {cpu_quantity(result.cpus)} CPU / "
            f"{memory_quantity(result.memory_limit_bytes)} for {sizing.target_rps:g} req/s "
            f"with {sizing.headroom:.0%} headroom,",
            f"# {how}.",
        ]
    header.append(f"# Sized for {model_words(result.model)}.")
    if minimum != replicas:
        header.append(f"# minReplicas is {minimum}, not the measured {replicas}: one pod keeps serving through a drain.")
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(base_dir, directory)],
        "patches": [{"path": PATCH_FILE}],
    }
    kustomization_path, patch_path = directory / KUSTOMIZATION_FILE, directory / PATCH_FILE
    # The patch first: a failure in between leaves no new kustomization naming a missing patch.
    patch_path.write_text(WRITTEN_MARK + "\n" + yaml.safe_dump_all(patches(result, replicas), sort_keys=False),
                          encoding="utf-8")
    kustomization_path.write_text("\n".join(header) + "\n" + yaml.safe_dump(kustomization, sort_keys=False),
                                  encoding="utf-8")
    return [kustomization_path, patch_path]
