"""Which model a run measured: recorded in plan.json and each result, checked on resume, shown in the reports."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from deploy import runner
from deploy.__main__ import main, resumed_model_dir
from deploy.matrix import load_matrix
from deploy.progress import Progress
from deploy.readiness import Readiness
from deploy.report import RESULTS_JSON, RESULTS_MD, model_lines
from deploy.results import COMPLETED, FAIL, ConfigurationResult, load_results, read_result
from deploy.rundir import PLAN_FILE, Host, Plan, create_run_dir, read_plan
from deploy.served_model import ModelChanged, ModelUnreadable, ServedModel, fetch_served_model
from tests.conftest import http_server

MATRICES = Path(__file__).resolve().parent.parent / "deploy" / "matrices"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "deploy"
HOST = Host(cpus=2, memory_bytes=8 * 1024**3, docker_version="27.0", cgroup_version="2", os="Debian")
IRIS = ServedModel(name="iris", version="c869581cb53c", task="classification")
WINE = ServedModel(name="wine", version="0123456789ab", task="classification")


def make_run(root: Path, **fields) -> Path:
    matrix = load_matrix(MATRICES / "smoke.toml")
    plan = Plan(matrix=str(MATRICES / "smoke.toml"), selected=tuple(c.index for c in matrix.configurations),
                started_at="2026-01-01T00:00:00+00:00", host=HOST, **fields)
    return create_run_dir(root, matrix, plan)


def older_run(root: Path) -> Path:
    """A run directory whose plan.json was written before plans recorded the model."""
    run_dir = make_run(root)
    plan = json.loads((run_dir / PLAN_FILE).read_text(encoding="utf-8"))
    for key in ("model_dir", "model", "predates_model_record"):
        del plan[key]
    (run_dir / PLAN_FILE).write_text(json.dumps(plan), encoding="utf-8")
    return run_dir


def test_a_plan_keeps_the_model_dir_and_the_served_model_and_an_older_plan_reads_as_the_images_own(tmp_path):
    run_dir = make_run(tmp_path, model_dir="/models/wine", model=WINE)
    plan = read_plan(run_dir)
    assert (plan.model_dir, plan.model, plan.predates_model_record) == ("/models/wine", WINE, False)
    assert json.loads((run_dir / PLAN_FILE).read_text())["model"] == {"name": "wine", "version": "0123456789ab",
                                                                       "task": "classification"}
    assert read_plan(make_run(tmp_path / "own")) == replace(plan, model_dir=None, model=None)
    older = read_plan(older_run(tmp_path / "older"))
    assert (older.model_dir, older.model, older.predates_model_record) == (None, None, True)


def test_a_result_keeps_its_model_in_json_and_csv_and_an_older_result_has_none():
    result = ConfigurationResult(index=1, name="a", replicas=1, cpus=0.5, memory="256M", memory_limit_bytes=256 * 2**20,
                                 workers=None, total_cpus=0.5, total_memory_bytes=256 * 2**20, status=COMPLETED,
                                 verdict=FAIL, reason="r", model=IRIS)
    assert ConfigurationResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    assert {key: value for key, value in result.flat().items() if key.startswith("model")} == {
        "model_name": "iris", "model_version": "c869581cb53c", "model_task": "classification"}
    older = result.to_dict()
    del older["model"]
    assert ConfigurationResult.from_dict(older).model is None


@pytest.fixture
def served(client):
    """The base URL of a server answering like the service does (its ``GET /model``), else 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            answer = client.get(self.path)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.content_type)
            self.end_headers()
            self.wfile.write(answer.data)

        def log_message(self, *args) -> None:
            pass

    with http_server(Handler) as url:
        yield url


def test_the_served_model_is_what_the_service_answers_at_get_model(served, model_dir):
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert fetch_served_model(served) == ServedModel(metadata["name"], metadata["version"], metadata["task"])
    with pytest.raises(ModelUnreadable, match=r"/nowhere/model answered HTTP 404"):
        fetch_served_model(served + "/nowhere")


def test_a_resume_takes_the_plans_model_dir_and_refuses_another(tmp_path, model_dir, capsys, monkeypatch):
    other = Path(shutil.copytree(model_dir, tmp_path / "other"))
    run_dir = make_run(tmp_path / "runs", model_dir=str(model_dir))
    assert resumed_model_dir(run_dir, read_plan(run_dir), None) == model_dir
    assert resumed_model_dir(run_dir, read_plan(make_run(tmp_path / "own")), None) is None
    assert main(["run", "--resume", str(run_dir), "--dry-run"]) == 0
    assert main(["run", "--resume", str(run_dir), "--model-dir", str(model_dir), "--dry-run"]) == 0
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir), "--model-dir", str(other), "--dry-run"]) == 2
    assert capsys.readouterr().err == (f"error: {run_dir} measured the artifact in {model_dir}, not --model-dir "
                                       f"{other}: resume it without --model-dir, or start a new run\n")
    own = make_run(tmp_path / "own")
    assert main(["run", "--resume", str(own), "--model-dir", str(other), "--dry-run"]) == 2
    assert capsys.readouterr().err == (f"error: {own} measured the image's built-in model, not --model-dir {other}: "
                                       "resume it without --model-dir, or start a new run\n")
    older = older_run(tmp_path / "older")
    assert main(["run", "--resume", str(older), "--dry-run"]) == 0
    capsys.readouterr()
    assert main(["run", "--resume", str(older), "--model-dir", str(other), "--dry-run"]) == 2
    assert "the image's built-in model (its plan.json predates the record of the model)" in capsys.readouterr().err
    gone = make_run(tmp_path / "gone", model_dir=str(tmp_path / "deleted"))
    assert main(["run", "--resume", str(gone), "--dry-run"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {gone} measured the artifact in {tmp_path / 'deleted'}, "
                                              "which is no longer one")


class FakeStack:
    """The runner's view of a Compose stack, without Docker: nothing starts, nothing needs tearing down."""

    def __init__(self, *args) -> None:
        self.project, self.url = "p", "http://127.0.0.1:1"

    def down(self) -> None:
        pass

    def start(self, configuration, log_path: Path) -> None:
        log_path.write_text("", encoding="utf-8")


class FakeClient:
    def info(self) -> dict:
        return {"NCPU": 2}


def measured(ready: runner.ReadyStack) -> ConfigurationResult:
    c = ready.configuration
    return ConfigurationResult(index=c.index, name=c.name, replicas=c.replicas, cpus=c.cpus, memory=c.memory,
                               memory_limit_bytes=c.memory_limit_bytes, workers=c.workers, total_cpus=c.total_cpus,
                               total_memory_bytes=c.total_memory_bytes, status=COMPLETED, verdict=FAIL, reason="r",
                               artifacts=ready.directory.name)


@pytest.fixture
def serving(monkeypatch):
    """``serving(model)``: the runner's stacks become ready at once and answer ``GET /model`` with ``model``."""
    monkeypatch.setattr(runner, "ComposeStack", FakeStack)
    monkeypatch.setattr(runner, "require_free_port", lambda port: None)
    monkeypatch.setattr(runner, "OomWatch", lambda client, project: type("Watch", (), {"stop": lambda self: None})())
    monkeypatch.setattr(runner, "wait_ready", lambda *args, **kwargs: Readiness(True, "", 1.0))
    monkeypatch.setattr(runner, "keep_logs", lambda *args: None)
    return lambda model: monkeypatch.setattr(runner, "fetch_served_model", lambda url: model)


def run(run_dir: Path) -> list[ConfigurationResult]:
    matrix, plan = load_matrix(run_dir / "matrix.toml"), read_plan(run_dir)
    options = runner.RunOptions(root=run_dir, project="p", port=1, build=False)
    return runner.run_matrix(matrix, plan, run_dir, options, FakeClient(), Progress(len(plan.selected)), measured)


def test_the_first_ready_configuration_records_the_served_model_in_the_plan_and_every_result(tmp_path, serving):
    serving(IRIS)
    run_dir = make_run(tmp_path)
    results = run(run_dir)
    assert results and all(result.model == IRIS for result in results)
    assert read_plan(run_dir).model == IRIS


def test_a_resumed_configuration_serving_another_model_stops_the_run_unmeasured(tmp_path, serving):
    run_dir = make_run(tmp_path, model=IRIS)
    serving(WINE)
    with pytest.raises(ModelChanged) as raised:
        run(run_dir)
    assert str(raised.value) == (f"{run_dir} measured iris c869581cb53c (classification), but "
                                 f"{load_matrix(run_dir / 'matrix.toml').configurations[0].name} serves wine "
                                 "0123456789ab (classification): resume it with the model it measured, or start a new run")
    assert load_results(run_dir) == [] and read_plan(run_dir).model == IRIS


def test_the_command_ends_a_changed_model_with_one_error_line_and_exit_2(tmp_path, capsys, monkeypatch):
    import docker

    run_dir = make_run(tmp_path, model=IRIS)
    monkeypatch.setattr(docker, "from_env", FakeClient)
    monkeypatch.setattr(runner, "describe_host", lambda client: HOST)

    def changed(*args) -> list:
        raise ModelChanged("the run measured iris, this one serves wine")

    monkeypatch.setattr(runner, "run_matrix", changed)
    assert main(["run", "--resume", str(run_dir)]) == 2
    assert capsys.readouterr().err == "error: the run measured iris, this one serves wine\n"


def test_the_header_names_the_model_where_it_came_from_and_any_row_that_differs():
    plan = Plan(matrix="m.toml", selected=(1, 2, 3), started_at="t", host=HOST, model_dir="/models/wine", model=WINE)
    row = ConfigurationResult(index=1, name="a", replicas=1, cpus=0.5, memory="256M", memory_limit_bytes=1, workers=None,
                              total_cpus=0.5, total_memory_bytes=1, status=COMPLETED, verdict=FAIL, reason="r", model=WINE)
    rows = [row, replace(row, index=2, model=IRIS), replace(row, index=3, model=None)]
    assert model_lines(plan, rows) == [
        "Model: wine 0123456789ab (classification), the artifact mounted from `/models/wine`, "
        "as `GET /model` answered through Nginx.",
        "Configuration 2 measured another model: iris c869581cb53c (classification).",
        "Configuration(s) 3: measured before runs recorded the model; taken as the image's built-in model.",
    ]
    assert model_lines(replace(plan, model_dir=None, model=None), [])[0] == (
        "Model: the image's built-in model; which one is not known (no configuration became ready).")


def test_report_and_recommend_on_a_run_recorded_before_the_model_take_it_as_the_images_own(tmp_path, capsys):
    run_dir = Path(shutil.copytree(FIXTURES / "capacity-run", tmp_path / "run"))
    assert main(["report", str(run_dir)]) == 0
    said = ("Model: not recorded (the run predates the record of the model); taken as the image's built-in model.")
    assert said in capsys.readouterr().out
    assert said in (run_dir / RESULTS_MD).read_text(encoding="utf-8")
    document = json.loads((run_dir / RESULTS_JSON).read_text(encoding="utf-8"))
    assert (document["model"], document["model_dir"]) == (None, None)
    assert main(["recommend", str(run_dir), "--target-rps", "100"]) == 0
    assert "error: " not in capsys.readouterr().err


def test_report_keeps_each_rows_model(tmp_path, capsys):
    run_dir = Path(shutil.copytree(FIXTURES / "capacity-run", tmp_path / "run"))
    plan = json.loads((run_dir / PLAN_FILE).read_text(encoding="utf-8"))
    (run_dir / PLAN_FILE).write_text(json.dumps(plan | {"model_dir": None, "model": asdict(IRIS)}), encoding="utf-8")
    for path in run_dir.glob("*/result.json"):
        path.write_text(json.dumps(json.loads(path.read_text()) | {"model": asdict(IRIS)}), encoding="utf-8")
    assert main(["report", str(run_dir)]) == 0
    assert "Model: iris c869581cb53c (classification), the image's built-in model" in capsys.readouterr().out
    assert all(read_result(path).model == IRIS for path in run_dir.glob("*/result.json"))
    assert json.loads((run_dir / RESULTS_JSON).read_text())["model"] == asdict(IRIS)


def test_an_overload_report_names_the_model_and_where_it_came_from():
    from deploy.overload import OverloadPlan, OverloadResult

    result = OverloadResult("1 × 0.5 CPU / 256M", OverloadPlan(capacity_rps=100.0), [], [], False,
                            model=WINE, model_dir="/models/wine")
    assert "Model: wine 0123456789ab (classification), the artifact mounted from `/models/wine`." in result.markdown("c")
    assert (result.to_json()["model"], result.to_json()["model_dir"]) == (asdict(WINE), "/models/wine")
    assert "Model: the image's built-in model." in replace(result, model=None, model_dir=None).markdown("c")



def _results_with_model(tmp_path: Path, fixture: str, model: ServedModel | None) -> Path:
    """A results.json of ``fixture`` (a `deploy run` results.json, or a capacity run directory, reported here)
    whose rows recorded ``model`` (None: written before rows recorded it)."""
    if fixture == "run":
        document = json.loads((Path(__file__).parent / "fixtures" / "k8s_overlay" / RESULTS_JSON).read_text())
        for row in document["configurations"]:
            row["model"] = None if model is None else asdict(model)
        path = tmp_path / RESULTS_JSON
        path.write_text(json.dumps(document), encoding="utf-8")
        return path
    run_dir = Path(shutil.copytree(FIXTURES / "capacity-run", tmp_path / "run"))
    if model is not None:
        for path in run_dir.glob("*/result.json"):
            path.write_text(json.dumps(json.loads(path.read_text()) | {"model": asdict(model)}), encoding="utf-8")
    assert main(["report", str(run_dir)]) == 0
    return run_dir / RESULTS_JSON


@pytest.mark.parametrize(("fixture", "args"), [("run", []), ("capacity", ["--target-rps", "100"])])
@pytest.mark.parametrize(("model", "said"), [(None, "model not recorded"),
                                             (IRIS, "model iris c869581cb53c (classification)")])
def test_recommend_names_the_model_it_sized_for_on_the_console_and_in_the_overlay(tmp_path, capsys, fixture, args,
                                                                                 model, said):
    results_json = _results_with_model(tmp_path, fixture, model)
    capsys.readouterr()
    overlay = tmp_path / "overlay"
    assert main(["recommend", str(results_json), *args, "--k8s", str(overlay)]) == 0
    console = capsys.readouterr().out.splitlines()[0]
    assert console.startswith(f"{results_json}: ") and console.rstrip(".").endswith(f"ized for {said}")
    header = (overlay / "kustomization.yaml").read_text(encoding="utf-8")
    assert f"\n# Sized for {said}.\n" in header
