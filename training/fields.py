"""What a model takes and answers, as its artifact's ``metadata.json`` records it.

The service builds its schemas, validation, error messages, OpenAPI document
and Open Inference Protocol metadata from these fields; the load test draws
its requests from ``sample``. Fields (docs/your-model.md shows an example):

- ``features``: in the order the model's input matrix takes them, each
  ``{"name", "type": "number" | "integer", "minimum", "maximum",
  "exclusive_minimum": bool, "range_source": "declared" | "data"}`` plus an
  optional ``"unit"`` and ``"description"``. A value ``v`` is valid when it is
  finite, ``minimum <= v`` (``<`` when ``exclusive_minimum``), ``v <= maximum``,
  and integral for an ``integer`` feature.
- ``task``: ``"classification"`` or ``"regression"``; ``target``: the name of
  what is predicted; ``row_name`` (optional, default ``"row"``): what one input
  row is, in the singular, for the service's texts (Iris: ``"flower"``).
- ``class_names`` (classification only): the classes as strings, in the
  order of the model's ``classes_`` (the columns of ``predict_proba``);
  ``predict_proba`` (classification only): whether the model gives probabilities.
- ``sample``: a few real input rows (at most ``training.contract.SAMPLE_ROWS``),
  each an object keyed by feature name, as a ``POST /predict`` body takes it.
- ``self_test``: ``{"inputs": [[...], ...]}`` (rows in feature order) with
  ``"expected_class_ids"`` (classification) or ``"expected_predictions"``
  (regression), which the service repeats at start-up.

Read in the standard library alone: the load test imports this module in the
Locust image, which has neither numpy nor scikit-learn (compose.locust.yaml
mounts this file beside ``loadtest/``). Deriving the fields from data is
``training.contract``'s job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
NUMBER = "number"
INTEGER = "integer"
FEATURE_TYPES = (NUMBER, INTEGER)
DEFAULT_ROW_NAME = "row"


class ContractError(ValueError):
    """The metadata does not describe a model the service can serve; the message says which field."""


@dataclass(frozen=True)
class Feature:
    """One input column: its JSON type and its valid range (see the module docstring)."""

    name: str
    type: str
    minimum: float
    maximum: float
    exclusive_minimum: bool = False
    range_source: str = "declared"
    unit: str | None = None
    description: str | None = None

    def admits(self, value: Any) -> bool:
        """Whether ``value`` is valid for this feature: a JSON number (not a bool), finite, within
        the range, and integral for an ``integer`` feature."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not math.isfinite(value) or value > self.maximum:
            return False
        if self.type == INTEGER and value != int(value):
            return False
        return value > self.minimum if self.exclusive_minimum else value >= self.minimum

    def as_metadata(self) -> dict[str, Any]:
        """The feature as ``metadata.json`` holds it; ``unit`` and ``description`` only when set."""
        entry: dict[str, Any] = {
            "name": self.name, "type": self.type, "minimum": self.minimum, "maximum": self.maximum,
            "exclusive_minimum": self.exclusive_minimum, "range_source": self.range_source,
        }
        if self.unit is not None:
            entry["unit"] = self.unit
        if self.description is not None:
            entry["description"] = self.description
        return entry


@dataclass(frozen=True)
class Contract:
    """The served model's inputs and outputs, read from its metadata."""

    features: tuple[Feature, ...]
    task: str
    target: str
    class_names: tuple[str, ...] = ()
    predict_proba: bool = False
    row_name: str = DEFAULT_ROW_NAME

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    @property
    def is_classifier(self) -> bool:
        return self.task == CLASSIFICATION


def _feature(entry: Any, index: int) -> Feature:
    where = f"features[{index}]"
    if not isinstance(entry, Mapping):
        raise ContractError(f"{where} must be an object")
    try:
        feature = Feature(
            name=str(entry["name"]), type=str(entry["type"]),
            minimum=float(entry["minimum"]), maximum=float(entry["maximum"]),
            exclusive_minimum=bool(entry.get("exclusive_minimum", False)),
            range_source=str(entry.get("range_source", "declared")),
            unit=entry.get("unit"), description=entry.get("description"),
        )
    except KeyError as exc:
        raise ContractError(f"{where} has no {exc.args[0]!r}") from None
    except (TypeError, ValueError):
        raise ContractError(f"{where}: minimum and maximum must be numbers") from None
    if feature.type not in FEATURE_TYPES:
        raise ContractError(f"{where}.type must be one of {', '.join(FEATURE_TYPES)}, got {feature.type!r}")
    if not (math.isfinite(feature.minimum) and math.isfinite(feature.maximum) and feature.minimum <= feature.maximum):
        raise ContractError(f"{where}: minimum and maximum must be finite, minimum <= maximum")
    return feature


def contract_from_metadata(metadata: Mapping[str, Any]) -> Contract:
    """Read and check the contract fields of ``metadata``; raise ``ContractError`` naming the first bad field."""
    for key in ("features", "task", "target", "sample", "self_test"):
        if key not in metadata:
            raise ContractError(f"metadata has no {key!r}")
    if not isinstance(metadata["features"], list) or not metadata["features"]:
        raise ContractError("features must be a non-empty list")
    features = tuple(_feature(entry, index) for index, entry in enumerate(metadata["features"]))
    names = [feature.name for feature in features]
    if len(set(names)) != len(names):
        raise ContractError("feature names must be unique")
    if "instances" in names:
        raise ContractError("no feature may be named 'instances': /predict reads that key as a batch")
    row_name = metadata.get("row_name", DEFAULT_ROW_NAME)
    if not isinstance(row_name, str) or not row_name.strip():
        raise ContractError(f"row_name must be a non-empty string, got {row_name!r}")
    task = metadata["task"]
    if task not in TASKS:
        raise ContractError(f"task must be {' or '.join(TASKS)}, got {task!r}")
    if task == REGRESSION:
        return Contract(features=features, task=task, target=str(metadata["target"]), row_name=row_name)
    class_names = metadata.get("class_names")
    if not isinstance(class_names, list) or len(class_names) < 2 or len(set(map(str, class_names))) != len(class_names):
        raise ContractError("class_names must list two or more distinct classes")
    return Contract(
        features=features, task=task, target=str(metadata["target"]),
        class_names=tuple(map(str, class_names)), predict_proba=bool(metadata.get("predict_proba", False)),
        row_name=row_name,
    )
