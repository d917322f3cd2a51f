"""deploy/k8s_overlay.py: a run's recommendation written as a kustomize overlay that renders and validates.

The fixture is the results.json of a real run of deploy/matrices/smoke.toml
(two configurations, both passing; the cheaper is 1 x 0.5 CPU / 256M).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.__main__ import main
from deploy.k8s_overlay import (
    NoRecommendation,
    cpu_quantity,
    find_results,
    memory_quantity,
    recommended_configuration,
    write_overlay,
)
from tests.kustomize import KUBERNETES_VERSIONS, by_kind, render, schema_errors

RECORDED_RESULTS = Path(__file__).parent / "fixtures" / "k8s_overlay" / "results.json"
MIB = 1024**2


def rendered_overlay(results_json: Path, directory: Path) -> dict[str, dict]:
    write_overlay(recommended_configuration(results_json), directory, source=results_json)
    return by_kind(render(directory))


def api_container(resources: dict[str, dict]) -> dict:
    (container,) = resources["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def with_verdicts(tmp_path: Path, *verdicts: str) -> Path:
    """The recorded results with the configurations' verdicts replaced, in matrix order."""
    document = json.loads(RECORDED_RESULTS.read_text(encoding="utf-8"))
    for row, verdict in zip(document["configurations"], verdicts, strict=True):
        row["verdict"] = verdict
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_recorded_recommendation_becomes_a_valid_overlay(tmp_path: Path) -> None:
    overlay = tmp_path / "overlays" / "recommended"
    rendered = rendered_overlay(RECORDED_RESULTS, overlay)

    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= rendered.keys()
    for version in KUBERNETES_VERSIONS:
        assert [error for resource in rendered.values() for error in schema_errors(resource, version)] == []
    container = api_container(rendered)
    # 1 x 0.5 CPU / 256M with the workers left to the service: one per CPU, rounded up.
    size = {"cpu": "500m", "memory": "256Mi"}
    assert container["resources"] == {"requests": size, "limits": size}
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["WEB_CONCURRENCY"] == "1"
    # The base's other settings survive the patch.
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/dev/shm/api-inference-metrics"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    # One measured replica is raised to two, so a drain never empties the service.
    assert rendered["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 2
    assert rendered["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 4
    header = (overlay / "kustomization.yaml").read_text(encoding="utf-8")
    assert str(RECORDED_RESULTS) in header
    assert "1 × 0.5 CPU / 256M" in header
    assert "minReplicas is 2, not the measured 1" in header


def test_a_replicated_recommendation_keeps_its_replicas_and_workers(tmp_path: Path) -> None:
    results = with_verdicts(tmp_path, "fail", "pass")
    rendered = rendered_overlay(results, tmp_path / "overlay")

    container = api_container(rendered)
    size = {"cpu": "250m", "memory": "192Mi"}
    assert container["resources"] == {"requests": size, "limits": size}
    assert {item["name"]: item["value"] for item in container["env"]}["WEB_CONCURRENCY"] == "1"
    assert rendered["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 2
    assert "not the measured" not in (tmp_path / "overlay" / "kustomization.yaml").read_text(encoding="utf-8")


def test_marginal_results_are_not_recommended(tmp_path: Path) -> None:
    with pytest.raises(NoRecommendation, match="passed the SLO"):
        recommended_configuration(with_verdicts(tmp_path, "marginal", "fail"))


def test_the_newest_finished_run_is_found(tmp_path: Path) -> None:
    for stamp in ("20260101T000000Z", "20261130T120000Z"):
        (tmp_path / stamp).mkdir()
        (tmp_path / stamp / "results.json").write_text("{}", encoding="utf-8")
    (tmp_path / "20261231T000000Z").mkdir()  # unfinished: no results.json yet

    assert find_results(None, root=tmp_path) == tmp_path / "20261130T120000Z" / "results.json"
    assert find_results(tmp_path / "20260101T000000Z") == tmp_path / "20260101T000000Z" / "results.json"
    with pytest.raises(FileNotFoundError):
        find_results(tmp_path / "20261231T000000Z")
    with pytest.raises(FileNotFoundError, match="python -m deploy run"):
        find_results(None, root=tmp_path / "nothing-here")


@pytest.mark.parametrize(("cpus", "quantity"), [(0.5, "500m"), (0.25, "250m"), (0.35, "350m"), (1.0, "1"), (2.0, "2"), (1.5, "1500m")])
def test_cpu_quantities(cpus: float, quantity: str) -> None:
    assert cpu_quantity(cpus) == quantity


@pytest.mark.parametrize(("size_bytes", "quantity"), [(256 * MIB, "256Mi"), (1536 * MIB, "1536Mi"), (1000 * 1024, "1000Ki"), (1000, "1000")])
def test_memory_quantities(size_bytes: int, quantity: str) -> None:
    assert memory_quantity(size_bytes) == quantity


def test_recommend_command_writes_the_newest_runs_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "reports" / "experiments" / "20261130T053953Z"
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(RECORDED_RESULTS.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    assert main(["recommend", "--k8s", "k8s/recommended"]) == 0

    out = capsys.readouterr().out
    assert "recommended 1 × 0.5 CPU / 256M" in out
    assert "kubectl apply -k k8s/recommended" in out
    rendered = by_kind(render(tmp_path / "k8s" / "recommended"))
    assert api_container(rendered)["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}


def test_recommend_command_fails_when_nothing_passed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = with_verdicts(tmp_path, "fail", "marginal")

    assert main(["recommend", str(results), "--k8s", str(tmp_path / "overlay")]) == 1

    assert "passed the SLO" in capsys.readouterr().err
    assert not (tmp_path / "overlay").exists()
