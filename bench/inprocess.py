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
from training.artifact import load_artifact
from training.data import load_dataset

REPEATS = 5
BATCH_SIZES = (100, 1000)
SINGLE_ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def time_per_call_us(call: Callable[[], Any], repeats: int = REPEATS) -> float:
    """Microseconds per call of ``call``: the best of ``repeats`` autoranged rounds."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeats, number=number)) / number * 1e6


def batch_rows(n_rows: int) -> np.ndarray:
    """``n_rows`` Iris rows (the data set repeated), (n_rows, 4) float64 cm."""
    X = load_dataset().X
    return np.resize(X, (n_rows, X.shape[1]))


def batch_body(n_rows: int) -> dict[str, Any]:
    """A ``POST /predict`` batch body of ``n_rows`` real Iris rows."""
    names = tuple(SINGLE_ROW)
    return {"instances": [dict(zip(names, row)) for row in batch_rows(n_rows).tolist()]}


def model_costs(model_dir: Path) -> dict[str, float]:
    """scikit-learn's own ``predict_proba`` on the served artifact: µs for one row, µs per row in batches.

    Keys: ``predict_proba_1_row_us``, ``predict_proba_batch{n}_per_row_us`` for each batch size.
    """
    pipeline = load_artifact(model_dir).model
    one_row = np.array([list(SINGLE_ROW.values())])
    costs = {"predict_proba_1_row_us": time_per_call_us(lambda: pipeline.predict_proba(one_row))}
    for n_rows in BATCH_SIZES:
        X = batch_rows(n_rows)
        costs[f"predict_proba_batch{n_rows}_per_row_us"] = time_per_call_us(lambda: pipeline.predict_proba(X)) / n_rows
    return costs


def request_costs(model_dir: Path) -> dict[str, float]:
    """One request through the Flask test client: µs for ``POST /predict`` (one row),
    for ``POST /bench/ceiling``, and for the service's own ``Model.predict`` on one row.

    Raises ``AssertionError`` if a route does not answer 200, since timing an
    error page would measure the wrong thing.
    """
    app = create_bench_app({"TESTING": True, "MODEL_DIR": str(model_dir)})
    client = app.test_client()
    body = json.dumps(SINGLE_ROW)

    def post(path: str) -> Callable[[], Any]:
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)
        return lambda: client.post(path, data=body, content_type="application/json")

    model = app.extensions["model"]
    one_row = np.array([list(SINGLE_ROW.values())])
    return {
        "service_model_predict_us": time_per_call_us(lambda: model.predict(one_row)),
        "test_client_predict_us": time_per_call_us(post("/predict")),
        "test_client_ceiling_us": time_per_call_us(post(CEILING_ROUTE)),
    }
