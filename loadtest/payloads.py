"""What the simulated clients send, and how each answer is judged, for the served model (``loadtest.model``).

Valid rows are the model's own sample rows, each value moved a little within
its feature's valid range; invalid requests are the ones the service's contract
says it refuses (docs/api.md, "Errors"), each with the status and error code it
must answer. Answers are judged against the model's task. Pure Python: the
Locust image has no numpy.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any

from loadtest.model import ServedModel
from training.fields import INTEGER, Feature

JSON = "application/json"
# Each drawn value moves from its sample row's by a normal step whose standard
# deviation is this share of the feature's spread over the sample: rows stay
# near real ones (and near the classes the model was fitted on) without repeating.
PERTURBATION_SHARE = 0.1
# Probabilities are judged to sum to 1 within this, the rounding of a float64 sum
# over a few classes being far smaller.
PROBABILITY_SUM_TOLERANCE = 1e-6
UNKNOWN_FIELD = "not_a_feature"


def _decimals(value: float) -> int | None:
    """Decimal places ``value`` is written with (5.1 -> 1, 5 -> 0); None for exponent notation."""
    text = repr(value)
    if "e" in text or "E" in text:
        return None
    return len(text.partition(".")[2].rstrip("0")) if "." in text else 0


class RowSampler:
    """Draws valid ``/predict`` rows around the model's sample rows.

    A row is a sample row with each value moved by a normal step (standard
    deviation ``PERTURBATION_SHARE`` x the feature's spread over the sample),
    clipped to the feature's valid range and rounded to as many decimals as the
    sample writes it with; integer features stay integers. A value that the
    rounding would put outside the range keeps the sample row's own.
    """

    def __init__(self, model: ServedModel) -> None:
        self.model = model
        self._steps = {}
        self._decimals = {}
        for feature in model.features:
            values = [row[feature.name] for row in model.sample]
            self._steps[feature.name] = PERTURBATION_SHARE * (max(values) - min(values))
            places = [_decimals(float(value)) for value in values]
            self._decimals[feature.name] = None if None in places else max(places)

    def _value(self, feature: Feature, base: float, rng: random.Random) -> float | int:
        drawn = min(max(base + rng.gauss(0.0, self._steps[feature.name]), feature.minimum), feature.maximum)
        if feature.type == INTEGER:
            drawn = int(round(drawn))
        elif self._decimals[feature.name] is not None:
            drawn = round(drawn, self._decimals[feature.name])
        return drawn if feature.admits(drawn) else base

    def row(self, rng: random.Random) -> dict[str, float | int]:
        """One valid row ``{feature: value}``, in the model's input order."""
        base = rng.choice(self.model.sample)
        return {feature.name: self._value(feature, base[feature.name], rng) for feature in self.model.features}

    def batch(self, rng: random.Random, size: int) -> dict[str, list[dict[str, float | int]]]:
        """A batch body ``{"instances": [row, ...]}`` of ``size`` independently drawn rows."""
        return {"instances": [self.row(rng) for _ in range(size)]}


@dataclass(frozen=True)
class InvalidRequest:
    """A request the service must refuse with ``expected_status`` and error ``expected_code``."""

    name: str
    method: str
    body: bytes
    content_type: str
    expected_status: int
    expected_code: str


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def invalid_requests(model: ServedModel) -> tuple[InvalidRequest, ...]:
    """The refusals the contract promises, built on the model's first sample row: a missing field, a value
    above its range, a number sent as a string, an unknown field, an empty batch, truncated JSON, another
    content type and another method."""
    row = {name: model.sample[0][name] for name in model.feature_names}
    first, last = model.features[0], model.features[-1]
    too_large = first.maximum + max(first.maximum - first.minimum, 1.0)
    unknown = UNKNOWN_FIELD
    while unknown in row:
        unknown += "_"
    body = _json(row)
    return (
        InvalidRequest("missing_field", "POST", _json({k: v for k, v in row.items() if k != last.name}),
                       JSON, 400, "validation_error"),
        InvalidRequest("out_of_range", "POST",
                       _json({**row, first.name: math.ceil(too_large) if first.type == INTEGER else too_large}),
                       JSON, 400, "validation_error"),
        InvalidRequest("numeric_string", "POST", _json({**row, first.name: str(row[first.name])}),
                       JSON, 400, "validation_error"),
        InvalidRequest("unknown_field", "POST", _json({**row, unknown: 1.0}), JSON, 400, "validation_error"),
        InvalidRequest("empty_batch", "POST", _json({"instances": []}), JSON, 400, "validation_error"),
        InvalidRequest("truncated_json", "POST", body[: len(body) // 2], JSON, 400, "invalid_json"),
        InvalidRequest("wrong_content_type", "POST", body, "text/plain", 415, "unsupported_media_type"),
        InvalidRequest("wrong_method", "GET", b"", JSON, 405, "method_not_allowed"),
    )


def _decode(text: str | None) -> Any:
    try:
        return json.loads(text or "")
    except ValueError:
        return None


def _error_code(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("code")
    return None


def _unexpected(status: int, body: Any) -> str:
    # Only the status and error code: request IDs and echoed values in the
    # message would split one kind of failure into many rows of the failures CSV.
    code = _error_code(body)
    return f"HTTP {status} {code}" if code else f"HTTP {status}"


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a JSON number (not a boolean) with a finite value."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def probabilities_failure(values: Any, n_classes: int) -> str | None:
    """None when ``values`` are ``n_classes`` numbers in [0, 1] summing to 1, else what is wrong with them."""
    if not isinstance(values, list) or len(values) != n_classes or not all(map(is_finite_number, values)):
        return f"without {n_classes} probabilities"
    if any(not 0.0 <= p <= 1.0 for p in values) or abs(sum(values) - 1.0) > PROBABILITY_SUM_TOLERANCE:
        return "with probabilities not summing to 1"
    return None


def row_failure(row: Any, model: ServedModel) -> str | None:
    """None when one answered row is what the model's task promises, else what is wrong with it:
    a class among ``class_names`` (with a probability for each class, summing to 1, when the model
    has ``predict_proba``), or a finite number for a regressor."""
    if not isinstance(row, dict) or "prediction" not in row:
        return "without a prediction"
    if not model.is_classifier:
        return None if is_finite_number(row["prediction"]) else "with a prediction that is not a finite number"
    if row["prediction"] not in model.class_names:
        return "with a class the model does not have"
    if not model.predict_proba:
        return None
    probabilities = row.get("probabilities")
    if not isinstance(probabilities, dict) or set(probabilities) != set(model.class_names):
        return "without a probability for each class"
    return probabilities_failure([probabilities[name] for name in model.class_names], len(model.class_names))


def check_prediction(status: int, text: str | None, model: ServedModel) -> str | None:
    """None when a single prediction succeeded with an answer of the model's task, else the failure to report."""
    body = _decode(text)
    if status != 200:
        return _unexpected(status, body)
    failure = row_failure(body, model)
    return f"HTTP 200 {failure}" if failure else None


def check_batch(status: int, text: str | None, size: int, model: ServedModel) -> str | None:
    """None when a batch of ``size`` came back with ``size`` predictions of the model's task, else the failure."""
    body = _decode(text)
    if status != 200:
        return _unexpected(status, body)
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list) or len(predictions) != size:
        return f"HTTP 200 without {size} predictions"
    failure = next(filter(None, (row_failure(row, model) for row in predictions)), None)
    return f"HTTP 200 {failure}" if failure else None


def check_refusal(request: InvalidRequest, status: int, text: str | None) -> str | None:
    """None when the service refused ``request`` as its contract says, else the failure to report."""
    body = _decode(text)
    if status == request.expected_status and _error_code(body) == request.expected_code:
        return None
    return (
        f"{request.name}: expected HTTP {request.expected_status} {request.expected_code}, "
        f"got {_unexpected(status, body)}"
    )
