"""What the Open Inference Protocol (KServe V2) clients send, and how each answer is judged.

The request is the one docs/open-inference.md shows: one FP64 ``[N, n_features]``
tensor, data flat and row-major, features in the model's input order. The answer
is judged against the model's task: a classifier's ``label`` (each among its
classes) and, with ``predict_proba``, ``probabilities`` ``[N, n_classes]`` whose
rows sum to 1; a regressor's ``prediction`` ``[N]`` of finite numbers. Pure
Python: the Locust image has no numpy.
"""

from __future__ import annotations

import json
from typing import Any

from loadtest.model import ServedModel
from loadtest.payloads import is_finite_number, probabilities_failure


def infer_path(model: ServedModel) -> str:
    """The model's infer route: ``/v2/models/<name>/infer``."""
    return f"/v2/models/{model.name}/infer"


def infer_request(rows: list[dict[str, float]], model: ServedModel) -> dict[str, Any]:
    """An ``$inference_request`` for ``rows`` (``{feature: value}`` each): one FP64 [N, n_features] tensor."""
    names = model.feature_names
    return {"inputs": [{
        "name": "features",
        "shape": [len(rows), len(names)],
        "datatype": "FP64",
        "data": [row[name] for row in rows for name in names],
    }]}


def _outputs_failure(outputs: dict[str, Any], n_rows: int, model: ServedModel) -> str | None:
    if not model.is_classifier:
        predictions = outputs["prediction"]
        if predictions.get("shape") != [n_rows] or len(predictions.get("data", ())) != n_rows:
            return f"HTTP 200 without {n_rows} predictions"
        if not all(map(is_finite_number, predictions["data"])):
            return "HTTP 200 with a prediction that is not a finite number"
        return None
    labels = outputs["label"]
    if labels.get("shape") != [n_rows] or len(labels.get("data", ())) != n_rows:
        return f"HTTP 200 without {n_rows} labels"
    if any(label not in model.class_names for label in labels["data"]):
        return "HTTP 200 with a class the model does not have"
    if not model.predict_proba:
        return None
    n_classes = len(model.class_names)
    probabilities = outputs["probabilities"]
    data = probabilities.get("data", ())
    if probabilities.get("shape") != [n_rows, n_classes] or len(data) != n_rows * n_classes:
        return f"HTTP 200 without {n_rows} x {n_classes} probabilities"
    failure = next(filter(None, (probabilities_failure(list(data[i:i + n_classes]), n_classes)
                                 for i in range(0, len(data), n_classes))), None)
    return f"HTTP 200 {failure}" if failure else None


def expected_outputs(model: ServedModel) -> tuple[str, ...]:
    """The outputs an answer must hold: ``label`` (and ``probabilities``) for a classifier, ``prediction`` else."""
    if not model.is_classifier:
        return ("prediction",)
    return ("label", "probabilities") if model.predict_proba else ("label",)


def check_inference(status: int, text: str | None, n_rows: int, model: ServedModel) -> str | None:
    """None when the answer holds the model's outputs for each of ``n_rows`` rows, else the failure to report
    (the status only for an error, so one kind of failure stays one row)."""
    if status != 200:
        return f"HTTP {status}"
    expected = expected_outputs(model)
    try:
        body = json.loads(text or "")
        outputs = {output["name"]: output for output in body["outputs"]}
        if not all(isinstance(outputs[name], dict) for name in expected):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        return f"HTTP 200 without {' and '.join(expected)} outputs"
    return _outputs_failure(outputs, n_rows, model)
