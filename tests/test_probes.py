"""Liveness, readiness and metadata routes."""

from __future__ import annotations

import json
from pathlib import Path

from service import create_app
from training.artifact import load_artifact


def test_health_is_alive(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_ready_names_the_model(client, model_dir) -> None:
    body = client.get("/ready").get_json()
    assert body == {"status": "ready", "model_name": "iris", "model_version": load_artifact(model_dir).version}


def test_model_returns_the_metadata(client, model_dir) -> None:
    assert client.get("/model").get_json() == json.loads((model_dir / "metadata.json").read_text())


def test_failed_self_test_makes_ready_503_but_health_200(model_copy: Path) -> None:
    # Record a wrong expected class: the artifact's hash covers model.joblib, not the metadata.
    metadata = json.loads((model_copy / "metadata.json").read_text())
    metadata["self_test"]["expected_class_ids"] = [2, 2, 2]
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    client = create_app({"TESTING": True, "MODEL_DIR": str(model_copy)}).test_client()
    response = client.get("/ready")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "not_ready" and "self-test predicted [0, 1, 2]" in error["message"]
    assert client.get("/health").status_code == 200
