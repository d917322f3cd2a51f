"""The /v2 routes under a real Gunicorn, spoken to by tritonclient, an independent protocol client.

tritonclient (NVIDIA's client for Triton Inference Server) builds its requests
from its own reading of the protocol: no Content-Type, ``binary_data_output``
and ``binary_data`` parameters, errors read from ``{"error": ...}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from bench.server import PRODUCTION, Server, gunicorn
from tests.conftest import SEED_REQUEST
from training.artifact import load_artifact
from training.data import FEATURE_NAMES

pytestmark = pytest.mark.slow

ROWS = [
    SEED_REQUEST,
    {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5},
    {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5},
    {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8},
]
X = np.array([[row[name] for name in FEATURE_NAMES] for row in ROWS], dtype=np.float64)


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("v2-client") / "gunicorn.log"
    with gunicorn(log, model_dir=model_dir, app=PRODUCTION, workers=1) as running:
        yield running


@pytest.fixture
def client(server: Server) -> Iterator[triton.InferenceServerClient]:
    connection = triton.InferenceServerClient(url=server.url.removeprefix("http://"))
    yield connection
    connection.close()


def predict(server: Server) -> list[dict]:
    response = requests.post(f"{server.url}/predict", json={"instances": ROWS}, timeout=10)
    response.raise_for_status()
    return response.json()["predictions"]


def test_tritonclient_gets_the_same_prediction_as_predict(server, client, model_dir) -> None:
    version = load_artifact(model_dir).version
    features = triton.InferInput("features", list(X.shape), "FP64")
    features.set_data_from_numpy(X, binary_data=False)
    result = client.infer("iris", [features], request_id="req-1")
    response = result.get_response()
    assert response["model_name"] == "iris" and response["model_version"] == version and response["id"] == "req-1"

    expected = predict(server)
    class_names = [name for name in expected[0]["probabilities"]]
    assert result.as_numpy("label").tolist() == [p["prediction"] for p in expected]
    assert result.as_numpy("class_id").tolist() == [p["class_id"] for p in expected]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.dtype == np.float64 and probabilities.shape == (len(ROWS), 3)
    assert probabilities.tolist() == [[p["probabilities"][name] for name in class_names] for p in expected]


def test_tritonclient_health_and_metadata(client, model_dir) -> None:
    version = load_artifact(model_dir).version
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("iris") and client.is_model_ready("iris", version)
    assert not client.is_model_ready("iris", "no-such-version")
    assert client.get_server_metadata()["name"] == "api-inference"
    metadata = client.get_model_metadata("iris", version)
    assert metadata["versions"] == [version]
    assert [(t["name"], t["datatype"], t["shape"]) for t in metadata["inputs"]] == [("features", "FP64", [-1, 4])]


def test_tritonclient_named_fp32_tensors_and_requested_output(server, client) -> None:
    inputs = []
    for column, name in enumerate(FEATURE_NAMES):
        tensor = triton.InferInput(name, [len(ROWS)], "FP32")
        tensor.set_data_from_numpy(X[:, column].astype(np.float32), binary_data=False)
        inputs.append(tensor)
    outputs = [triton.InferRequestedOutput("probabilities", binary_data=False)]
    result = client.infer("iris", inputs, outputs=outputs, parameters={"probabilities_datatype": "FP32"})
    assert [output["name"] for output in result.get_response()["outputs"]] == ["probabilities"]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.dtype == np.float32
    expected = [list(p["probabilities"].values()) for p in predict(server)]
    # FP32 inputs are the float32 nearest each length, so the answer is close to /predict's, not equal.
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    assert probabilities.argmax(axis=1).tolist() == np.argmax(expected, axis=1).tolist()


def test_tritonclient_reads_the_protocol_errors(client) -> None:
    features = triton.InferInput("features", list(X.shape), "FP64")
    features.set_data_from_numpy(X, binary_data=False)
    with pytest.raises(InferenceServerException) as unknown:
        client.infer("resnet", [features])
    assert unknown.value.status() == "404" and "unknown model 'resnet'" in unknown.value.message()

    binary = triton.InferInput("features", list(X.shape), "FP64")
    binary.set_data_from_numpy(X, binary_data=True)
    with pytest.raises(InferenceServerException) as refused:
        client.infer("iris", [binary])
    assert refused.value.status() == "400" and "binary tensor data" in refused.value.message()

    too_long = triton.InferInput("features", [1, 4], "FP64")
    too_long.set_data_from_numpy(np.array([[5.1, 3.5, 1.4, 300.0]]), binary_data=False)
    with pytest.raises(InferenceServerException) as out_of_range:
        client.infer("iris", [too_long])
    assert out_of_range.value.status() == "400"
    assert out_of_range.value.message() == "features[0].petal_width: Must be greater than 0 and at most 30 cm."
