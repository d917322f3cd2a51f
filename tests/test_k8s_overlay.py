"""deploy/k8s_overlay.py: a run's recommendation written as a kustomize overlay that renders and validates.

The fixture is the results.json of a real run of deploy/matrices/smoke.toml
(two configurations, both passing; the cheaper is 1 x 0.5 CPU / 256M).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deploy.__main__ import main
from deploy.k8s_overlay import (
    BASE_DIR,
    WRITTEN_MARK,
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


def error_line(argv: list[str], capsys: pytest.CaptureFixture[str], code: int) -> str:
    """Run the CLI; check its exit code and that it printed one error line and no traceback; return the line."""
    try:
        exit_code = main(argv)
    except SystemExit as exited:  # argparse refuses an argument by exiting
        exit_code = exited.code
    err = capsys.readouterr().err
    assert exit_code == code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith(("error:", "python -m deploy"))]
    assert len(lines) == 1, err
    return lines[0]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("hand_written", ["kustomization.yaml", "size.yaml", "kustomization.yml", "Kustomization"])
def test_a_hand_written_overlay_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              hand_written: str) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / hand_written).write_text("# mine\nresources:\n  - ../base\n", encoding="utf-8")
    before = snapshot(overlay)

    line = error_line(["recommend", str(RECORDED_RESULTS), "--k8s", str(overlay)], capsys, code=2)

    assert line == (f"error: {overlay / hand_written} exists and was not written by `python -m deploy recommend --k8s`; "
                    "it is left alone: choose another directory or remove it")
    assert snapshot(overlay) == before


def test_the_projects_overlays_and_base_are_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A copy of deploy/k8s, so that a regression cannot damage the repository's own files.
    k8s = Path(shutil.copytree(BASE_DIR.parent, tmp_path / "k8s"))
    before = snapshot(k8s)
    for directory in (k8s / "base", k8s / "overlays" / "reference"):
        line = error_line(["recommend", str(RECORDED_RESULTS), "--k8s", str(directory)], capsys, code=2)
        assert line.startswith(f"error: {directory / 'kustomization.yaml'} exists and was not written by")
    assert snapshot(k8s) == before


def test_a_second_run_replaces_the_overlay_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overlay = tmp_path / "overlay"
    assert main(["recommend", str(RECORDED_RESULTS), "--k8s", str(overlay)]) == 0
    assert (overlay / "size.yaml").read_text(encoding="utf-8").startswith(WRITTEN_MARK + "\n")

    assert main(["recommend", str(with_verdicts(tmp_path, "fail", "pass")), "--k8s", str(overlay)]) == 0

    limits = api_container(by_kind(render(overlay)))["resources"]["limits"]
    assert limits == {"cpu": "250m", "memory": "192Mi"}


def test_an_empty_directory_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    line = error_line(["recommend", str(RECORDED_RESULTS), "--k8s", ""], capsys, code=2)
    assert line == "python -m deploy recommend: error: argument --k8s: must name a directory, got an empty string"
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_the_directory_should_be_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("keep me", encoding="utf-8")

    line = error_line(["recommend", str(RECORDED_RESULTS), "--k8s", str(file)], capsys, code=2)
    assert line == f"error: {file} is a file, not a directory"
    line = error_line(["recommend", str(RECORDED_RESULTS), "--k8s", str(file / "overlay")], capsys, code=2)
    assert line == f"error: {file / 'overlay'}: {file} is a file, not a directory"
    assert file.read_text(encoding="utf-8") == "keep me"


def test_a_directory_the_system_cannot_create_is_one_error_line(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # Longer than any file system's name limit (255 bytes): the OS refuses it, even to root.
    overlay = tmp_path / ("x" * 300)
    line = error_line(["recommend", str(RECORDED_RESULTS), "--k8s", str(overlay)], capsys, code=1)
    assert line == f"error: cannot write {overlay}: File name too long"
