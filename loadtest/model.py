"""The served model as the load test sees it: its contract, its name and its sample rows.

Read from the artifact's ``metadata.json`` (fields: ``training.fields``, which
reads them with the standard library alone, as the Locust image has neither
numpy nor scikit-learn), either from a file or from the service's ``GET /model``,
which answers that very document.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.fields import Contract, ContractError, contract_from_metadata

METADATA_PATH = "/model"
FETCH_TIMEOUT_S = 10.0


class ModelError(ValueError):
    """The metadata cannot be read, or does not describe a model the load test can drive; the message says why."""


@dataclass(frozen=True, kw_only=True)
class ServedModel(Contract):
    """The model's contract, plus what the load test needs besides: the model's name (its
    ``/v2/models/<name>`` path) and real input rows (``sample``), each keyed by every feature."""

    name: str
    sample: tuple[dict[str, float], ...]


def model_from_metadata(metadata: Mapping[str, Any]) -> ServedModel:
    """The ``ServedModel`` ``metadata`` describes; ``ModelError`` naming the first field missing or malformed."""
    try:
        contract = contract_from_metadata(metadata)
    except ContractError as exc:
        raise ModelError(f"the model's metadata does not describe its inputs and outputs ({exc})") from None
    if "name" not in metadata:
        raise ModelError("the model's metadata has no 'name'")
    sample = metadata["sample"]
    names = set(contract.feature_names)
    if not isinstance(sample, list) or not sample or any(not isinstance(row, dict) or set(row) != names
                                                           for row in sample):
        raise ModelError("the model's sample must hold rows keyed by exactly its features")
    if any(not feature.admits(row[feature.name]) for row in sample for feature in contract.features):
        raise ModelError("a row of the model's sample lies outside its features' valid ranges")
    return ServedModel(**vars(contract), name=str(metadata["name"]), sample=tuple(sample))


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
