"""``POST /predict``: one flower, or a batch under ``instances``."""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from service.body import json_body
from service.errors import ApiError, ValidationFailed, flatten_messages, summarise
from service.metrics import PREDICTIONS
from service.model import Model, Predictions
from service.schemas import BatchSchema, FeaturesSchema, json_type
from service.validation import check_batch_size, check_features
from training.data import FEATURE_NAMES

bp = Blueprint("predict", __name__)

FEATURES_SCHEMA = FeaturesSchema()
BATCH_SCHEMA = BatchSchema()


def _load(schema: Any, body: dict[str, Any]) -> Any:
    try:
        return schema.load(body)
    except ValidationError as exc:
        fields = flatten_messages(exc.messages)
        raise ValidationFailed(summarise(fields), fields) from None


def _single_field(row: int, column: int) -> str:
    return FEATURE_NAMES[column]


def _batch_field(row: int, column: int) -> str:
    return f"instances[{row}].{FEATURE_NAMES[column]}"


def parse_request(body: Any, max_batch_size: int) -> tuple[np.ndarray, bool]:
    """Validate a decoded body; return ``X`` (n, 4) float64 cm and whether it was a batch.

    Raises ``ValidationFailed`` naming each bad field (``instances[i].name`` in a
    batch) and ``BatchTooLarge`` past ``max_batch_size`` rows.
    """
    if not isinstance(body, dict):
        raise ApiError(f"request body must be a JSON object, got {json_type(body)}", {"body": ["Not an object."]})
    if "instances" in body:
        instances = body["instances"]
        if isinstance(instances, list):
            check_batch_size(len(instances), max_batch_size, "instances")
        rows = _load(BATCH_SCHEMA, body)["instances"]
        batch = True
    else:
        rows = [_load(FEATURES_SCHEMA, body)]
        batch = False
    X = np.array([[row[name] for name in FEATURE_NAMES] for row in rows], dtype=np.float64)
    check_features(X, _batch_field if batch else _single_field)
    return X, batch


def render(predictions: Predictions, class_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """One ``{"prediction", "class_id", "probabilities"}`` dict per row, in input order."""
    rendered = []
    for class_id, row in zip(predictions.class_ids.tolist(), predictions.probabilities.tolist()):
        rendered.append({
            "prediction": class_names[class_id],
            "class_id": class_id,
            "probabilities": dict(zip(class_names, row)),
        })
    return rendered


@bp.post("/predict")
def predict() -> ResponseReturnValue:
    """Predict the species of one flower or of a batch."""
    model: Model = current_app.extensions["model"]
    X, batch = parse_request(json_body(request), current_app.config["MAX_BATCH_SIZE"])
    rows = render(model.predict(X), model.class_names)
    for row in rows:
        PREDICTIONS.labels(row["prediction"]).inc()
    if batch:
        return jsonify(predictions=rows, model_version=model.version)
    return jsonify(**rows[0], model_version=model.version)
