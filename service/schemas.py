"""Marshmallow schemas for the prediction contract.

A measurement is a JSON number, finite, in centimetres, and inside
``MEASUREMENT_RANGE_CM``. Numeric strings, booleans and null are refused
rather than coerced: a client that sends ``"5.1"`` has a bug worth hearing about.
The schemas check types; the range is checked on the assembled matrix by
``service.validation``, the one check every prediction route shares.
"""

from __future__ import annotations

import math
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from service.validation import MEASUREMENT_RANGE_CM, NOT_FINITE
from training.data import FEATURE_NAMES


class Measurement(fields.Float):
    """A length in cm: a JSON number (not a string or a boolean), finite; its range is documented here."""

    default_error_messages = {
        "type": "Not a number: got {type}.",
        "special": NOT_FINITE,
        "too_large": "Number too large.",
    }

    def __init__(self, **kwargs: Any) -> None:
        low, high = MEASUREMENT_RANGE_CM
        super().__init__(
            allow_nan=False,
            # For the OpenAPI document: service.validation.check_features enforces the range.
            metadata={
                "description": "Length in centimetres.",
                "minimum": low, "exclusiveMinimum": True, "maximum": high,
            },
            **kwargs,
        )

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


class FeaturesSchema(Schema):
    """One flower: four measurements in cm, all required, nothing else."""

    # Marshmallow's default, "Invalid input type.", says nothing of what was expected.
    error_messages = {"type": f"Must be an object with {', '.join(FEATURE_NAMES[:-1])} and {FEATURE_NAMES[-1]}."}

    class Meta:
        unknown = RAISE

    sepal_length = Measurement(required=True)
    sepal_width = Measurement(required=True)
    petal_length = Measurement(required=True)
    petal_width = Measurement(required=True)


assert tuple(FeaturesSchema().fields) == FEATURE_NAMES, "schema fields must follow the model's feature order"


class BatchSchema(Schema):
    """Several flowers: ``{"instances": [{...}, ...]}``, at least one."""

    class Meta:
        unknown = RAISE

    instances = fields.List(
        fields.Nested(FeaturesSchema),
        required=True,
        validate=validate.Length(min=1, error="Must hold at least one instance."),
    )


class PredictionSchema(Schema):
    prediction = fields.String(required=True, metadata={"example": "setosa"})
    class_id = fields.Integer(required=True, metadata={"example": 0})
    probabilities = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)


class SinglePredictionResponse(PredictionSchema):
    model_version = fields.String(required=True)


class BatchPredictionResponse(Schema):
    predictions = fields.List(fields.Nested(PredictionSchema), required=True)
    model_version = fields.String(required=True)


class ErrorDetail(Schema):
    status = fields.Integer(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.List(fields.String()))


class ErrorResponse(Schema):
    error = fields.Nested(ErrorDetail, required=True)
    request_id = fields.String(allow_none=True)
