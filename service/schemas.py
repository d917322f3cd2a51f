"""Marshmallow schemas for the prediction contract, built from the artifact's ``features``.

A feature's value is a JSON number, finite, inside the feature's range
(``training.fields``). Numeric strings, booleans and null are refused
rather than coerced: a client that sends ``"5.1"`` has a bug worth hearing about.
The schemas check types; the range is checked on the assembled matrix by
``service.validation``, the one check every prediction route shares.
The request and response schemas are built once per app, from its artifact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from service.validation import NOT_FINITE
from training.fields import INTEGER, Contract, Feature


class FeatureValue(fields.Float):
    """One feature's value: a JSON number (not a string or a boolean), finite; its range is documented here."""

    default_error_messages = {
        "type": "Not a number: got {type}.",
        "special": NOT_FINITE,
        "too_large": "Number too large.",
    }

    def __init__(self, feature: Feature, **kwargs: Any) -> None:
        # For the OpenAPI document: service.validation.FeatureLimits enforces the range.
        described: dict[str, Any] = {}
        if feature.description is not None:
            described["description"] = feature.description
        if feature.type == INTEGER:
            described["type"] = "integer"
        described["minimum"] = feature.minimum
        if feature.exclusive_minimum:
            described["exclusiveMinimum"] = True
        described["maximum"] = feature.maximum
        super().__init__(allow_nan=False, metadata=described, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("type", type=json_type(value))
        try:
            number = float(value)
        except OverflowError:
            raise self.make_error("too_large") from None
        if not math.isfinite(number):
            raise self.make_error("special")
        return number


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type: string, boolean, null, object, array, number."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "number"


def _object_with(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f"Must be an object with {names[0]}."
    return f"Must be an object with {', '.join(names[:-1])} and {names[-1]}."


def features_schema(features: Sequence[Feature]) -> type[Schema]:
    """The schema of one input row: every feature required, in input order, nothing else."""
    names = [feature.name for feature in features]
    attributes: dict[str, Any] = {feature.name: FeatureValue(feature, required=True) for feature in features}
    # Marshmallow's default, "Invalid input type.", says nothing of what was expected.
    attributes["error_messages"] = {"type": _object_with(names)}
    attributes["Meta"] = type("Meta", (), {"unknown": RAISE})
    attributes["__doc__"] = "One input row: every feature, nothing else."
    return type("FeaturesSchema", (Schema,), attributes)


def batch_schema(row_schema: type[Schema]) -> type[Schema]:
    """The schema of a batch: ``{"instances": [{...}, ...]}``, at least one row."""

    class BatchSchema(Schema):
        """Several rows: ``{"instances": [{...}, ...]}``, at least one."""

        class Meta:
            unknown = RAISE

        instances = fields.List(
            fields.Nested(row_schema),
            required=True,
            validate=validate.Length(min=1, error="Must hold at least one instance."),
        )

    return BatchSchema


def prediction_schema(contract: Contract) -> type[Schema]:
    """One row's answer: the class (with ``class_id``, and ``probabilities`` when the model
    gives them), or the regression's number."""
    if not contract.is_classifier:
        return type("PredictionSchema", (Schema,), {
            "prediction": fields.Float(required=True, metadata={"description": f"The predicted {contract.target}."}),
        })
    attributes: dict[str, Any] = {
        "prediction": fields.String(required=True, metadata={"example": contract.class_names[0]}),
        "class_id": fields.Integer(required=True, metadata={"example": 0}),
    }
    if contract.predict_proba:
        attributes["probabilities"] = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    return type("PredictionSchema", (Schema,), attributes)


def response_schemas(contract: Contract) -> tuple[type[Schema], type[Schema]]:
    """The single and the batch answer of ``POST /predict`` for ``contract``'s model."""
    row = prediction_schema(contract)
    single = type("SinglePredictionResponse", (row,), {"model_version": fields.String(required=True)})
    batch = type("BatchPredictionResponse", (Schema,), {
        "predictions": fields.List(fields.Nested(row), required=True),
        "model_version": fields.String(required=True),
    })
    return single, batch


class ErrorDetail(Schema):
    status = fields.Integer(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.List(fields.String()))


class ErrorResponse(Schema):
    error = fields.Nested(ErrorDetail, required=True)
    request_id = fields.String(allow_none=True)
