"""What the simulated clients send, and how each answer is judged.

Valid flowers are drawn around the real Iris class distributions (see
``iris_stats``); invalid requests are the ones the service's contract says it
refuses (docs/api.md, "Errors"), each with the status and error code it must answer.
Pure Python: the Locust image has no numpy.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from loadtest.iris_stats import CLASS_MEAN_CM, CLASS_STD_CM, FEATURE_MAX_CM, FEATURE_MIN_CM, FEATURE_NAMES

# Fisher's measurements are given to 0.1 cm; sampled ones are rounded the same way.
MEASUREMENT_DECIMALS = 1
JSON = "application/json"


def sample_flower(rng: random.Random) -> dict[str, float]:
    """One flower: ``{feature: length_cm}`` for the four features.

    The class is drawn uniformly (the data set holds 50 of each); each
    measurement is drawn from that class's normal distribution, clipped to the
    range seen in the data set and rounded to 0.1 cm, so every value satisfies
    the service's 0 < x <= 30 cm.
    """
    class_name = rng.choice(tuple(CLASS_MEAN_CM))
    flower = {}
    for i, feature in enumerate(FEATURE_NAMES):
        drawn_cm = rng.gauss(CLASS_MEAN_CM[class_name][i], CLASS_STD_CM[class_name][i])
        flower[feature] = round(min(max(drawn_cm, FEATURE_MIN_CM[i]), FEATURE_MAX_CM[i]), MEASUREMENT_DECIMALS)
    return flower


def sample_batch(rng: random.Random, size: int) -> dict[str, list[dict[str, float]]]:
    """A batch body ``{"instances": [flower, ...]}`` of ``size`` independently drawn flowers."""
    return {"instances": [sample_flower(rng) for _ in range(size)]}


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


_FLOWER = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}

INVALID_REQUESTS: tuple[InvalidRequest, ...] = (
    InvalidRequest("missing_field", "POST", _json({k: v for k, v in _FLOWER.items() if k != "petal_width"}),
                   JSON, 400, "validation_error"),
    InvalidRequest("negative_length", "POST", _json({**_FLOWER, "petal_width": -0.2}), JSON, 400, "validation_error"),
    InvalidRequest("numeric_string", "POST", _json({**_FLOWER, "sepal_length": "5.1"}), JSON, 400, "validation_error"),
    InvalidRequest("unknown_field", "POST", _json({**_FLOWER, "stem_length": 12.0}), JSON, 400, "validation_error"),
    InvalidRequest("empty_batch", "POST", _json({"instances": []}), JSON, 400, "validation_error"),
    InvalidRequest("truncated_json", "POST", b'{"sepal_length": 5.1, "sepal_width":', JSON, 400, "invalid_json"),
    InvalidRequest("wrong_content_type", "POST", _json(_FLOWER), "text/plain", 415, "unsupported_media_type"),
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


def check_prediction(status: int, text: str | None) -> str | None:
    """None when a single prediction succeeded, else the failure to report."""
    body = _decode(text)
    if status != 200:
        return _unexpected(status, body)
    if not isinstance(body, dict) or "prediction" not in body:
        return "HTTP 200 without a prediction"
    return None


def check_batch(status: int, text: str | None, size: int) -> str | None:
    """None when a batch of ``size`` came back with ``size`` predictions, else the failure to report."""
    body = _decode(text)
    if status != 200:
        return _unexpected(status, body)
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list) or len(predictions) != size:
        return f"HTTP 200 without {size} predictions"
    return None


def check_refusal(request: InvalidRequest, status: int, text: str | None) -> str | None:
    """None when the service refused ``request`` as its contract says, else the failure to report."""
    body = _decode(text)
    if status == request.expected_status and _error_code(body) == request.expected_code:
        return None
    return (
        f"{request.name}: expected HTTP {request.expected_status} {request.expected_code}, "
        f"got {_unexpected(status, body)}"
    )
