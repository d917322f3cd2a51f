"""Liveness, readiness and metadata routes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SEED_REQUEST
from training.artifact import load_artifact


def test_health_is_alive(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_ready_names_the_model(client, model_dir) -> None:
    body = client.get("/ready").get_json()
    assert body == {"status": "ready", "model_name": "iris", "model_version": load_artifact(model_dir).version}


def test_model_returns_the_metadata(client, model_dir) -> None:
    assert client.get("/model").get_json() == json.loads((model_dir / "metadata.json").read_text())


def test_failed_self_test_makes_ready_503_but_health_200(not_ready_client) -> None:
    client = not_ready_client
    response = client.get("/ready")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "not_ready" and "self-test predicted [0, 1, 2], the artifact recorded [2, 2, 2]" in error["message"]
    assert client.get("/health").status_code == 200


def test_a_replica_that_is_not_ready_refuses_predictions_with_503_not_ready(not_ready_client) -> None:
    # Nginx retries a 503 on another replica (proxy_next_upstream http_503).
    refused = not_ready_client.post("/predict", json=SEED_REQUEST)
    batch = not_ready_client.post("/predict", json={"instances": [SEED_REQUEST]})

    assert refused.status_code == batch.status_code == 503
    error = refused.get_json()["error"]
    assert error["code"] == "not_ready" and "self-test predicted [0, 1, 2]" in error["message"]
    assert batch.get_json()["error"] == error


@pytest.mark.parametrize("path", ["/v2/models/iris/infer", "/v2/models/iris/versions/{version}/infer"])
def test_open_inference_infer_refuses_with_503_in_the_protocol_shape_while_not_ready(not_ready_client, path: str) -> None:
    version = not_ready_client.get("/model").get_json()["version"]
    body = {"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]}

    response = not_ready_client.post(path.format(version=version), json=body)

    assert response.status_code == 503
    message = response.get_json()["error"]
    assert isinstance(message, str) and "is not ready: self-test predicted [0, 1, 2]" in message
    assert not_ready_client.get("/v2/health/ready").status_code == 503


def test_a_ready_model_answers_both_protocols(client) -> None:
    body = {"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]}

    assert client.post("/predict", json=SEED_REQUEST).status_code == 200
    assert client.post("/v2/models/iris/infer", json=body).status_code == 200
