"""The load test's Open Inference Protocol client: its requests, its judging, and its class selection."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bench.server import PRODUCTION, ROOT, gunicorn
from loadtest.open_inference import INFER_PATH, check_inference, infer_request
from loadtest.payloads import sample_flower

LOCUST = Path(sys.executable).with_name("locust")
RUN_TIME_S = 4
LOCUST_TIMEOUT_S = 60


def test_the_request_is_answered_and_judged_a_success(client) -> None:
    flowers = [sample_flower(random.Random(seed)) for seed in range(5)]
    response = client.post(INFER_PATH, json=infer_request(flowers))
    assert response.status_code == 200
    assert check_inference(response.status_code, response.get_data(as_text=True), len(flowers)) is None


def test_a_short_or_failed_answer_is_judged_a_failure(client) -> None:
    flowers = [sample_flower(random.Random(seed)) for seed in range(3)]
    text = client.post(INFER_PATH, json=infer_request(flowers)).get_data(as_text=True)
    assert check_inference(200, text, 4) == "HTTP 200 without 4 labels"
    body = json.loads(text)
    body["outputs"] = [o for o in body["outputs"] if o["name"] != "probabilities"]
    assert check_inference(200, json.dumps(body), 3) == "HTTP 200 without label and probabilities outputs"
    assert check_inference(200, "<html>", 3) == "HTTP 200 without label and probabilities outputs"
    refused = client.post("/v2/models/other/infer", json=infer_request(flowers))
    assert check_inference(refused.status_code, refused.get_data(as_text=True), 3) == "HTTP 404"


def request_names(stats_csv: Path) -> dict[str, int]:
    """Locust's ``_stats.csv``: request name -> failures, without the Aggregated row."""
    with stats_csv.open() as file:
        return {row["Name"]: int(row["Failure Count"]) for row in csv.DictReader(file) if row["Type"]}


def run_locust(url: str, csv_prefix: Path, *user_classes: str) -> dict[str, int]:
    command = [
        str(LOCUST), "-f", str(ROOT / "loadtest/locustfile.py"), "--config", str(ROOT / "locust.conf"),
        "--headless", "--users", "2", "--spawn-rate", "2", "--run-time", f"{RUN_TIME_S}s", "--host", url,
        "--batch-share", "0.5", "--slo-p95-ms", "10000", "--slo-p99-ms", "10000", "--csv", str(csv_prefix),
        *user_classes,
    ]
    run = subprocess.run(command, cwd=csv_prefix.parent, capture_output=True, text=True, timeout=LOCUST_TIMEOUT_S)
    assert run.returncode == 0, run.stderr[-3000:]
    return request_names(Path(f"{csv_prefix}_stats.csv"))


@pytest.mark.slow
def test_open_inference_user_runs_only_when_chosen(model_dir: Path, tmp_path: Path) -> None:
    with gunicorn(tmp_path / "gunicorn.log", model_dir=model_dir, app=PRODUCTION, workers=1) as server:
        default = run_locust(server.url, tmp_path / "default")
        chosen = run_locust(server.url, tmp_path / "chosen", "OpenInferenceUser")
    assert default and not any(name.startswith("/v2") for name in default), default
    assert set(chosen) == {"/v2 infer single", "/v2 infer batch"}, chosen
    assert sum(chosen.values()) == 0, chosen
