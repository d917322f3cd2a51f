"""The served model as the load test sees it: its features, its task and its sample rows.

Read from the artifact's ``metadata.json`` (fields: ``training/contract.py``),
either from a file or from the service's ``GET /model``, which answers that very
document. Read here in pure Python rather than through ``training.contract``:
the Locust image has neither numpy nor scikit-learn.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLASSIFICATION = "classification"
REGRESSION = "regression"
INTEGER = "integer"
METADATA_PATH = "/model"
FETCH_TIMEOUT_S = 10.0


class ModelError(ValueError):
    """The metadata cannot be read, or does not describe a model the load test can drive; the message says why."""


@dataclass(frozen=True)
class Feature:
    """One input: ``type`` ``"number"`` or ``"integer"``; valid values are
    ``minimum <= v`` (``<`` when ``exclusive_minimum``) and ``v <= maximum``."""

    name: str
    type: str
    minimum: float
    maximum: float
    exclusive_minimum: bool = False

    def admits(self, value: float) -> bool:
        """Whether the service accepts ``value`` for this feature."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not math.isfinite(value) or value > self.maximum:
            return False
        if self.type == INTEGER and value != int(value):
            return False
        return value > self.minimum if self.exclusive_minimum else value >= self.minimum


@dataclass(frozen=True)
class ServedModel:
    """What the load test needs: the model's name (its ``/v2/models/<name>`` path), its features in
    input order, its task, its classes (classification) and real input rows (``sample``)."""

    name: str
    features: tuple[Feature, ...]
    task: str
    class_names: tuple[str, ...]
    predict_proba: bool
    sample: tuple[dict[str, float], ...]

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    @property
    def is_classifier(self) -> bool:
        return self.task == CLASSIFICATION


def model_from_metadata(metadata: Mapping[str, Any]) -> ServedModel:
    """The ``ServedModel`` ``metadata`` describes; ``ModelError`` naming the first field missing or malformed."""
    try:
        features = tuple(
            Feature(name=str(entry["name"]), type=str(entry["type"]), minimum=float(entry["minimum"]),
                    maximum=float(entry["maximum"]), exclusive_minimum=bool(entry.get("exclusive_minimum", False)))
            for entry in metadata["features"]
        )
        task, sample = metadata["task"], metadata["sample"]
        name = str(metadata["name"])
    except KeyError as exc:
        raise ModelError(f"the model's metadata has no {exc.args[0]!r}") from None
    except (TypeError, ValueError):
        raise ModelError("the model's metadata has a feature without a name, type, minimum and maximum") from None
    if task not in (CLASSIFICATION, REGRESSION):
        raise ModelError(f"the model's task must be {CLASSIFICATION} or {REGRESSION}, got {task!r}")
    if not features:
        raise ModelError("the model's metadata lists no features")
    names = {feature.name for feature in features}
    if not isinstance(sample, list) or not sample or any(not isinstance(row, dict) or set(row) != names
                                                           for row in sample):
        raise ModelError("the model's sample must hold rows keyed by exactly its features")
    if any(not feature.admits(row[feature.name]) for row in sample for feature in features):
        raise ModelError("a row of the model's sample lies outside its features' valid ranges")
    class_names = tuple(map(str, metadata.get("class_names") or ())) if task == CLASSIFICATION else ()
    if task == CLASSIFICATION and len(class_names) < 2:
        raise ModelError("a classifier's metadata must list its class_names")
    return ServedModel(name=name, features=features, task=task, class_names=class_names,
                       predict_proba=task == CLASSIFICATION and bool(metadata.get("predict_proba", False)),
                       sample=tuple(sample))


def read_metadata(source: str, host: str | None) -> dict[str, Any]:
    """The metadata document from ``source`` (a file path, or an http(s) URL), or when ``source`` is empty
    from ``host``'s ``GET /model``. Raises ``ModelError`` saying what could not be read."""
    if not source and not host:
        raise ModelError("no --host to ask GET /model, and no --model-metadata file")
    location = source or host.rstrip("/") + METADATA_PATH
    try:
        if location.startswith(("http://", "https://")):
            with urllib.request.urlopen(location, timeout=FETCH_TIMEOUT_S) as response:
                text = response.read().decode()
        else:
            text = Path(location).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, urllib.error.URLError) as exc:
        raise ModelError(f"cannot read the model's metadata from {location}: {exc}") from None
    except ValueError:
        raise ModelError(f"{location} is not a JSON document") from None


def load_served_model(source: str, host: str | None) -> ServedModel:
    """``model_from_metadata(read_metadata(source, host))``."""
    metadata = read_metadata(source, host)
    if not isinstance(metadata, dict):
        raise ModelError("the model's metadata is not a JSON object")
    return model_from_metadata(metadata)
