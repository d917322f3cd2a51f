"""Costs measured inside this process: the model alone, and one request through Flask.

Times come from ``timeit``: the best of ``REPEATS`` rounds, each long enough
for ``Timer.autorange`` (at least 0.2 s), as the ``timeit`` docs advise, since
the slower rounds measure interference from other processes, not the code.
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.wsgi import CEILING_ROUTE, create_bench_app
from training.artifact import Artifact, load_artifact
from training.data import FEATURE_NAMES, load_dataset

REPEATS = 5
BATCH_SIZES = (100, 1000)


def time_per_call_us(call: Callable[[], Any], repeats: int = REPEATS) -> float:
    """Microseconds per call of ``call``: the best of ``repeats`` autoranged rounds."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeats, number=number)) / number * 1e6


def real_rows(artifact: Artifact) -> list[list[float | int]]:
    """The rows the bench sends, in the model's input order: for a model of the Iris features,
    Fisher's 150 rows as the bench always sent (its first, 5.1, 3.5, 1.4, 0.2 cm, is the
    single-row body), so figures compare with earlier reports; else the artifact's sample."""
    names = artifact.contract.feature_names
    if names == FEATURE_NAMES:
        return load_dataset().X.tolist()
    return [[row[name] for name in names] for row in artifact.metadata["sample"]]


def batch_rows(artifact: Artifact, n_rows: int) -> list[list[float | int]]:
    """``n_rows`` rows: ``real_rows`` repeated."""
    rows = real_rows(artifact)
    return [rows[i % len(rows)] for i in range(n_rows)]


def single_body(artifact: Artifact) -> dict[str, Any]:
    """A ``POST /predict`` body of one row: the first of ``real_rows``."""
    return dict(zip(artifact.contract.feature_names, real_rows(artifact)[0]))


def batch_body(artifact: Artifact, n_rows: int) -> dict[str, Any]:
    """A ``POST /predict`` batch body of ``n_rows`` rows (``batch_rows``)."""
    names = artifact.contract.feature_names
    return {"instances": [dict(zip(names, row)) for row in batch_rows(artifact, n_rows)]}


def model_method(artifact: Artifact) -> str:
    """What the service asks of the model: ``predict_proba`` when its answers carry probabilities, else ``predict``."""
    return "predict_proba" if artifact.contract.predict_proba else "predict"


def model_costs(model_dir: Path) -> dict[str, Any]:
    """scikit-learn's own ``model_method`` on the served artifact: µs for one row, µs per row in batches.

    Keys: ``method``, ``model_1_row_us``, ``model_batch{n}_per_row_us`` for each batch size.
    """
    artifact = load_artifact(model_dir)
    method = model_method(artifact)
    call = getattr(artifact.model, method)
    one_row = np.array(batch_rows(artifact, 1), dtype=np.float64)
    costs: dict[str, Any] = {"method": method, "model_1_row_us": time_per_call_us(lambda: call(one_row))}
    for n_rows in BATCH_SIZES:
        X = np.array(batch_rows(artifact, n_rows), dtype=np.float64)
        costs[f"model_batch{n_rows}_per_row_us"] = time_per_call_us(lambda: call(X)) / n_rows
    return costs


def request_costs(model_dir: Path) -> dict[str, float]:
    """One request through the Flask test client: µs for ``POST /predict`` (one row),
    for ``POST /bench/ceiling``, and for the service's own ``Model.predict`` on one row.

    Raises ``AssertionError`` if a route does not answer 200, since timing an
    error page would measure the wrong thing.
    """
    app = create_bench_app({"TESTING": True, "MODEL_DIR": str(model_dir)})
    client = app.test_client()
    artifact = load_artifact(model_dir)
    body = json.dumps(single_body(artifact))

    def post(path: str) -> Callable[[], Any]:
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)
        return lambda: client.post(path, data=body, content_type="application/json")

    model = app.extensions["model"]
    one_row = np.array(batch_rows(artifact, 1), dtype=np.float64)
    return {
        "service_model_predict_us": time_per_call_us(lambda: model.predict(one_row)),
        "test_client_predict_us": time_per_call_us(post("/predict")),
        "test_client_ceiling_us": time_per_call_us(post(CEILING_ROUTE)),
    }
