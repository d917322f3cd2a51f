"""What the Open Inference Protocol (KServe V2) clients send, and how each answer is judged.

The request is the one docs/open-inference.md
shows: one FP64 ``[N, 4]`` tensor, data flat and row-major. Pure Python: the
Locust image has no numpy.
"""

from __future__ import annotations

import json
from typing import Any

from loadtest.iris_stats import FEATURE_NAMES

# The served model's name is the artifact's metadata name (training writes "iris").
MODEL_NAME = "iris"
INFER_PATH = f"/v2/models/{MODEL_NAME}/infer"
N_CLASSES = 3


def infer_request(flowers: list[dict[str, float]]) -> dict[str, Any]:
    """An ``$inference_request`` for ``flowers`` (``{feature: length_cm}`` each): one FP64 [N, 4] tensor."""
    return {"inputs": [{
        "name": "features",
        "shape": [len(flowers), len(FEATURE_NAMES)],
        "datatype": "FP64",
        "data": [flower[name] for flower in flowers for name in FEATURE_NAMES],
    }]}


def check_inference(status: int, text: str | None, n_rows: int) -> str | None:
    """None when the answer holds a label and ``N_CLASSES`` probabilities for each of ``n_rows`` flowers,
    else the failure to report (the status only for an error, so one kind of failure stays one row)."""
    if status != 200:
        return f"HTTP {status}"
    try:
        body = json.loads(text or "")
        outputs = {output["name"]: output for output in body["outputs"]}
        labels, probabilities = outputs["label"], outputs["probabilities"]
    except (ValueError, TypeError, KeyError):
        return "HTTP 200 without label and probabilities outputs"
    if labels.get("shape") != [n_rows] or len(labels.get("data", ())) != n_rows:
        return f"HTTP 200 without {n_rows} labels"
    if probabilities.get("shape") != [n_rows, N_CLASSES] or len(probabilities.get("data", ())) != n_rows * N_CLASSES:
        return f"HTTP 200 without {n_rows} x {N_CLASSES} probabilities"
    return None
