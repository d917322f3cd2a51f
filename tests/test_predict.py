"""POST /predict: the single contract and the batch form."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SEED_REQUEST, VERSICOLOR, VIRGINICA
from training.artifact import load_artifact


def test_seed_request_answers_setosa_with_probabilities(client, model_dir) -> None:
    response = client.post("/predict", json=SEED_REQUEST)
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["prediction", "class_id", "probabilities", "model_version"]
    assert body["prediction"] == "setosa" and body["class_id"] == 0
    assert set(body["probabilities"]) == {"setosa", "versicolor", "virginica"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert body["model_version"] == load_artifact(model_dir).version


def test_probabilities_match_the_model(client, model_dir) -> None:
    expected = load_artifact(model_dir).model.predict_proba(np.array([list(VIRGINICA.values())]))[0]
    body = client.post("/predict", json=VIRGINICA).get_json()
    assert list(body["probabilities"].values()) == pytest.approx(expected.tolist(), abs=1e-12)


def test_probabilities_read_back_as_exactly_the_models_floats(client, app) -> None:
    model = app.extensions["model"]
    single = client.post("/predict", json=VIRGINICA).get_json()
    assert list(single["probabilities"].values()) == model.predict_proba_row(list(VIRGINICA.values()))
    batch = client.post("/predict", json={"instances": [VIRGINICA, VERSICOLOR]}).get_json()
    expected = model.predict_proba(np.array([list(VIRGINICA.values()), list(VERSICOLOR.values())])).tolist()
    assert [list(p["probabilities"].values()) for p in batch["predictions"]] == expected


def test_integers_are_accepted_as_lengths(client) -> None:
    response = client.post("/predict", json={"sepal_length": 5, "sepal_width": 3, "petal_length": 1, "petal_width": 1})
    assert response.status_code == 200


def test_batch_answers_in_input_order(client) -> None:
    rows = [VIRGINICA, SEED_REQUEST, VERSICOLOR, SEED_REQUEST]
    response = client.post("/predict", json={"instances": rows})
    assert response.status_code == 200
    body = response.get_json()
    assert [p["prediction"] for p in body["predictions"]] == ["virginica", "setosa", "versicolor", "setosa"]
    assert body["model_version"]
    singles = [client.post("/predict", json=row).get_json()["probabilities"] for row in rows]
    for batched, single in zip(body["predictions"], singles):
        assert batched["probabilities"] == pytest.approx(single, abs=1e-12)


def test_batch_calls_the_model_once(client, app, monkeypatch) -> None:
    model = app.extensions["model"]
    calls = []
    original = model.predict_proba
    monkeypatch.setattr(model, "predict_proba", lambda X: calls.append(X.shape) or original(X))
    client.post("/predict", json={"instances": [SEED_REQUEST] * 7})
    assert calls == [(7, 4)]


def test_batch_at_the_limit_is_accepted(client, app) -> None:
    limit = app.config["MAX_BATCH_SIZE"]
    response = client.post("/predict", json={"instances": [SEED_REQUEST] * limit})
    assert response.status_code == 200 and len(response.get_json()["predictions"]) == limit


def test_json_with_charset_is_accepted(client) -> None:
    import json

    response = client.post("/predict", data=json.dumps(SEED_REQUEST), content_type="application/json; charset=utf-8")
    assert response.status_code == 200
