"""The loaded model: vectorised prediction and the start-up self-test.

Knows nothing about HTTP: it takes an (n, n_features) float64 matrix whose
values the service has validated, columns in the order of the artifact's
``features`` (``training.fields``), and returns class ids and probabilities
(classification) or numbers (regression).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from service.proba import CompiledProba, RowProbaFunction, argmax_is_predict, compile_predict_proba, without_revalidation
from training.artifact import Artifact, load_artifact
from training.fields import Contract

LOG = logging.getLogger(__name__)
# Regression self-test: the same scikit-learn computes the same numbers, up to
# the order a BLAS on another machine sums them in.
SELF_TEST_RTOL = 1e-9
# A model fitted on a data frame warns on every plain array it is given; packaging checked the
# names and their order against the artifact's features (``training.package``), and the service
# sends arrays in that order. One process-wide filter, registered at import.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


@dataclass(frozen=True)
class Predictions:
    """Rows in input order. Classification: ``class_ids`` (n,) int64 into ``class_names`` and
    ``probabilities`` (n, n_classes) float64, None when the model has no ``predict_proba``.
    Regression: ``values`` (n,) float64."""

    class_ids: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    values: np.ndarray | None = None


def probe_rows(contract: Contract, inputs: Sequence[Sequence[float]]) -> np.ndarray:
    """Valid rows to check a compiled function on: ``inputs`` (the self-test's real rows),
    every feature at its minimum, at its maximum, and the two alternating."""
    low = [feature.minimum for feature in contract.features]
    high = [feature.maximum for feature in contract.features]
    alternating = [[(low, high)[(i + k) % 2][i] for i in range(len(low))] for k in (0, 1)]
    return np.array([*inputs, low, high, *alternating], dtype=np.float64)


@dataclass
class Model:
    """A verified artifact plus the outcome of its self-test (readiness)."""

    artifact: Artifact
    class_names: tuple[str, ...] = field(init=False)
    ready_reason: str | None = field(init=False, default="self-test not run")
    compiled: CompiledProba | None = field(init=False, default=None)
    # One row's probabilities when the class is their argmax (``service.proba.argmax_is_predict``),
    # for /predict's single-row path; None otherwise.
    row_proba: RowProbaFunction | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        contract = self.artifact.contract
        estimator = self.artifact.model
        self.class_names = contract.class_names
        self._predict = without_revalidation(estimator.predict)
        if contract.is_classifier and contract.predict_proba:
            self.compiled = compile_predict_proba(estimator, probe_rows(contract, self.metadata["self_test"]["inputs"]))
            if argmax_is_predict(estimator, self.compiled):
                self.row_proba = self.compiled.predict_proba_row
        if contract.is_classifier:
            self._classes = np.asarray(estimator.classes_)
            self._classes_order = np.argsort(self._classes, kind="stable")

    @property
    def contract(self) -> Contract:
        """What the model takes and answers, read from the artifact's metadata (``training.contract``)."""
        return self.artifact.contract

    @property
    def version(self) -> str:
        return self.artifact.version

    @property
    def name(self) -> str:
        return str(self.artifact.metadata["name"])

    @property
    def metadata(self) -> dict[str, Any]:
        return self.artifact.metadata

    @property
    def ready(self) -> bool:
        return self.ready_reason is None

    @property
    def method(self) -> str:
        """How predictions are computed, for the start-up log."""
        if self.compiled is None:
            return "scikit-learn predict (input checked once, by the service)"
        if self.row_proba is None:
            return f"{self.compiled.method}; classes from scikit-learn predict"
        return self.compiled.method

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (n, n_classes) for a validated ``X`` (n, n_features) float64,
        as the artifact's ``predict_proba`` gives them (``service.proba``)."""
        return self.compiled.predict_proba(X)

    def predict_proba_row(self, row: Sequence[float]) -> list[float]:
        """Probabilities (n_classes floats) for one validated row of floats, equal to
        ``predict_proba`` on it within a few units in the last place; only where ``row_proba`` is set."""
        return self.row_proba(row)

    def predict(self, X: np.ndarray) -> Predictions:
        """Predict every row of ``X`` (n, n_features) float64 in one vectorised call per output."""
        if not self.contract.is_classifier:
            return Predictions(values=np.asarray(self._predict(X), dtype=np.float64).reshape(-1))
        probabilities = self.predict_proba(X) if self.compiled is not None else None
        if self.row_proba is not None:
            return Predictions(class_ids=probabilities.argmax(axis=1), probabilities=probabilities)
        # A label's index in classes_, by bisection in their sorted order (scikit-learn's own
        # classes_ are sorted already, np.unique's; an estimator of another library may not be).
        labels = self._predict(X)
        class_ids = self._classes_order[np.searchsorted(self._classes, labels, sorter=self._classes_order)]
        return Predictions(class_ids=class_ids.astype(np.int64), probabilities=probabilities)

    def _self_test_failure(self, recorded: dict[str, Any], got: Predictions) -> str | None:
        if got.values is not None:
            expected_values = [float(value) for value in recorded["expected_predictions"]]
            if not np.allclose(got.values, expected_values, rtol=SELF_TEST_RTOL, atol=0.0):
                return f"self-test predicted {got.values.tolist()}, the artifact recorded {expected_values}"
            return None
        expected = [int(c) for c in recorded["expected_class_ids"]]
        if got.class_ids.tolist() != expected:
            return f"self-test predicted {got.class_ids.tolist()}, the artifact recorded {expected}"
        if got.probabilities is not None:
            sums = got.probabilities.sum(axis=1)
            if not np.allclose(sums, 1.0):
                return f"self-test probabilities sum to {sums.tolist()}, not 1"
        return None

    def self_test(self) -> None:
        """Re-predict the rows recorded at training time; set ``ready_reason`` on any mismatch."""
        try:
            recorded = self.metadata["self_test"]
            X = np.asarray(recorded["inputs"], dtype=np.float64)
            got = self.predict(X)
            self.ready_reason = self._self_test_failure(recorded, got)
        except Exception as exc:  # a model that cannot predict is not ready, whatever the reason
            self.ready_reason = f"self-test prediction failed: {type(exc).__name__}: {exc}"
        if self.ready_reason:
            LOG.error("model %s not ready: %s", self.version, self.ready_reason)


def load_model(model_dir: Path) -> Model:
    """Load, verify and self-test the artifact in ``model_dir``; raise ``ArtifactError`` if unusable."""
    model = Model(load_artifact(model_dir))
    model.self_test()
    LOG.info(
        "loaded model %s version %s from %s (%s of %s from %d features; ready: %s; predictions: %s)",
        model.name, model.version, model_dir, model.contract.task, model.contract.target,
        len(model.contract.features), model.ready, model.method,
    )
    return model
