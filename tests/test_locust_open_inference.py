"""The load test's Open Inference Protocol client: its requests, its judging, and its class selection."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bench.server import PRODUCTION, ROOT, gunicorn
from loadtest.model import load_served_model
from loadtest.runner import failures_by_name
from loadtest.open_inference import check_inference, infer_path, infer_request
from loadtest.payloads import RowSampler

LOCUST = Path(sys.executable).with_name("locust")
RUN_TIME_S = 4
LOCUST_TIMEOUT_S = 60


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


def run_locust(url: str, csv_prefix: Path, *user_classes: str) -> dict[str, int]:
    """A short headless run against ``url``: request name -> failures; fails the test unless Locust exits 0."""
    command = [
        str(LOCUST), "-f", str(ROOT / "loadtest/locustfile.py"), "--config", str(ROOT / "locust.conf"),
        "--headless", "--users", "2", "--spawn-rate", "2", "--run-time", f"{RUN_TIME_S}s", "--host", url,
        "--batch-share", "0.5", "--slo-p95-ms", "10000", "--slo-p99-ms", "10000", "--csv", str(csv_prefix),
        *user_classes,
    ]
    run = subprocess.run(command, cwd=csv_prefix.parent, capture_output=True, text=True, timeout=LOCUST_TIMEOUT_S)
    assert run.returncode == 0, run.stderr[-3000:]
    return failures_by_name(Path(f"{csv_prefix}_stats.csv"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["iris", "diabetes"])
def test_open_inference_user_runs_only_when_chosen(name: str, model_dir: Path, packaged, tmp_path: Path) -> None:
    artifact = model_dir if name == "iris" else packaged(name)[1]
    with gunicorn(tmp_path / "gunicorn.log", model_dir=artifact, app=PRODUCTION, workers=1) as server:
        default = run_locust(server.url, tmp_path / "default")
        chosen = run_locust(server.url, tmp_path / "chosen", "OpenInferenceUser")
    assert default and not any(name.startswith("/v2") for name in default), default
    assert sum(default.values()) == 0, default
    assert set(chosen) == {"/v2 infer single", "/v2 infer batch"}, chosen
    assert sum(chosen.values()) == 0, chosen


def test_a_target_without_the_models_metadata_stops_the_run_with_the_reason(tmp_path: Path) -> None:
    command = [
        str(LOCUST), "-f", str(ROOT / "loadtest/locustfile.py"), "--config", str(ROOT / "locust.conf"),
        "--headless", "--users", "1", "--run-time", "30s", "--host", "http://127.0.0.1:9",
    ]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=LOCUST_TIMEOUT_S)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "cannot read the model's metadata from http://127.0.0.1:9/model" in run.stderr
