"""The load test's Open Inference Protocol client: its requests, its judging, and its class selection."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench.server import PRODUCTION, ROOT, gunicorn
from loadtest.model import load_served_model
from loadtest.runner import LocustRun, failures_by_name, generator_saturated, headless_command, run_locust
from loadtest.open_inference import check_inference, infer_path, infer_request
from loadtest.payloads import RowSampler

LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"
RUN_TIME_S = 4


@pytest.fixture(params=["iris", "wine", "wine-ridge", "diabetes"])
def artifact(request: pytest.FixtureRequest, model_dir: Path, packaged) -> Path:
    return model_dir if request.param == "iris" else packaged(request.param)[1]


def _rows(model, n_rows: int) -> list[dict[str, float]]:
    return RowSampler(model).batch(random.Random(n_rows), n_rows)["instances"]


def test_the_request_is_answered_and_judged_a_success(artifact: Path) -> None:
    from service import create_app

    client = create_app({"TESTING": True, "MODEL_DIR": str(artifact)}).test_client()
    model = load_served_model(str(artifact / "metadata.json"), None)
    rows = _rows(model, 5)
    response = client.post(infer_path(model), json=infer_request(rows, model))
    assert response.status_code == 200
    assert check_inference(response.status_code, response.get_data(as_text=True), len(rows), model) is None


def test_a_short_or_failed_answer_is_judged_a_failure(client, model_dir: Path) -> None:
    model = load_served_model(str(model_dir / "metadata.json"), None)
    rows = _rows(model, 3)
    text = client.post(infer_path(model), json=infer_request(rows, model)).get_data(as_text=True)
    assert check_inference(200, text, 4, model) == "HTTP 200 without 4 labels"
    body = json.loads(text)
    outputs = {output["name"]: output for output in body["outputs"]}
    outputs["label"]["data"][0] = "rose"
    assert check_inference(200, json.dumps(body), 3, model) == "HTTP 200 with a class the model does not have"
    outputs["label"]["data"][0] = model.class_names[0]
    outputs["probabilities"]["data"][0] += 0.5
    assert check_inference(200, json.dumps(body), 3, model) == "HTTP 200 with probabilities not summing to 1"
    body["outputs"] = [o for o in body["outputs"] if o["name"] != "probabilities"]
    assert check_inference(200, json.dumps(body), 3, model) == "HTTP 200 without label and probabilities outputs"
    assert check_inference(200, "<html>", 3, model) == "HTTP 200 without label and probabilities outputs"
    refused = client.post("/v2/models/other/infer", json=infer_request(rows, model))
    assert check_inference(refused.status_code, refused.get_data(as_text=True), 3, model) == "HTTP 404"


def test_a_regressors_answer_needs_finite_predictions(packaged) -> None:
    model = load_served_model(str(packaged("diabetes")[1] / "metadata.json"), None)
    answer = {"outputs": [{"name": "prediction", "shape": [2], "datatype": "FP64", "data": [151.2, 98.0]}]}
    assert check_inference(200, json.dumps(answer), 2, model) is None
    answer["outputs"][0]["data"][1] = "98"
    assert check_inference(200, json.dumps(answer), 2, model) == (
        "HTTP 200 with a prediction that is not a finite number")
    assert check_inference(200, json.dumps(answer), 3, model) == "HTTP 200 without 3 predictions"
    assert check_inference(200, '{"outputs": []}', 2, model) == "HTTP 200 without prediction outputs"


def run_headless(url: str, directory: Path, *options: str, users: int = 2, run_time_s: float = RUN_TIME_S) -> LocustRun:
    """A headless run of the project's locustfile with locust.conf's settings against ``url``, its files in
    ``directory`` (made here), run from there; ``options`` (user classes last) follow."""
    directory.mkdir(exist_ok=True)
    command = headless_command(LOCUSTFILE, url, users=users, spawn_rate=users, run_time_s=run_time_s,
                               directory=directory, options=["--config", str(ROOT / "locust.conf"), *options])
    return run_locust(command, directory, run_time_s, cwd=directory)


def failures(url: str, directory: Path, *user_classes: str) -> dict[str, int]:
    """A short run against ``url``: request name -> failures; fails the test unless Locust exits 0, or 1 with a
    verdict that says the generator saturated (a host busy with other work can starve it)."""
    run = run_headless(url, directory, "--batch-share", "0.5", "--slo-p95-ms", "10000", "--slo-p99-ms", "10000",
                       *user_classes)
    assert run.exit_code == (1 if generator_saturated(directory) else 0), run.log.read_text(encoding="utf-8")[-3000:]
    return failures_by_name(run.stats_csv)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["iris", "diabetes"])
def test_open_inference_user_runs_only_when_chosen(name: str, model_dir: Path, packaged, tmp_path: Path) -> None:
    artifact = model_dir if name == "iris" else packaged(name)[1]
    with gunicorn(tmp_path / "gunicorn.log", model_dir=artifact, app=PRODUCTION, workers=1) as server:
        default = failures(server.url, tmp_path / "default")
        chosen = failures(server.url, tmp_path / "chosen", "OpenInferenceUser")
    assert default and not any(name.startswith("/v2") for name in default), default
    assert sum(default.values()) == 0, default
    assert set(chosen) == {"/v2 infer single", "/v2 infer batch"}, chosen
    assert sum(chosen.values()) == 0, chosen


def test_a_target_without_the_models_metadata_stops_the_run_with_the_reason(tmp_path: Path) -> None:
    run = run_headless("http://127.0.0.1:9", tmp_path, users=1, run_time_s=30)

    log = run.log.read_text(encoding="utf-8")
    assert run.exit_code == 2, log[-3000:]
    assert "cannot read the model's metadata from http://127.0.0.1:9/model" in log
