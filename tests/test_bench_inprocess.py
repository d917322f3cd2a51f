"""The bench's requests and the model cost it measures follow the served artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.inprocess import batch_body, model_costs, model_method, single_body
from service import create_app
from training.artifact import load_artifact


def test_the_iris_bodies_are_the_ones_earlier_reports_measured(model_dir: Path) -> None:
    artifact = load_artifact(model_dir)
    assert single_body(artifact) == {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    rows = batch_body(artifact, 151)["instances"]
    assert rows[150] == rows[0] and rows[50] != rows[0], "Fisher's 150 rows, repeated"
    assert model_method(artifact) == "predict_proba"


@pytest.mark.parametrize("name, method", [("wine", "predict_proba"), ("wine-ridge", "predict"), ("diabetes", "predict")])
def test_another_models_bodies_come_from_its_sample_and_are_answered(packaged, name: str, method: str) -> None:
    model_dir = packaged(name)[1]
    artifact = load_artifact(model_dir)
    sample = artifact.metadata["sample"]
    client = create_app({"TESTING": True, "MODEL_DIR": str(model_dir)}).test_client()

    single = client.post("/predict", json=single_body(artifact))
    batch = client.post("/predict", json=batch_body(artifact, 100))

    assert single_body(artifact) == sample[0]
    assert single.status_code == 200 and batch.status_code == 200, (single.get_json(), batch.get_json())
    assert len(batch.get_json()["predictions"]) == 100
    assert model_method(artifact) == method


def test_the_model_cost_is_timed_on_the_method_the_service_calls(packaged, monkeypatch) -> None:
    monkeypatch.setattr("bench.inprocess.time_per_call_us", lambda call: call() is not None and 1.0)
    costs = model_costs(packaged("diabetes")[1])
    assert costs == {"method": "predict", "model_1_row_us": 1.0, "model_batch100_per_row_us": 0.01,
                     "model_batch1000_per_row_us": 0.001}
