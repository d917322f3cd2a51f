"""The loaded classifier: vectorised prediction and the start-up self-test.

Knows nothing about HTTP: it takes an (n, 4) float64 matrix in cm, in
``FEATURE_NAMES`` order, and returns class ids and probabilities.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from service.proba import CompiledProba, compile_predict_proba
from training.artifact import Artifact, load_artifact

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Predictions:
    """``class_ids`` (n,) int64 and ``probabilities`` (n, n_classes) float64, rows in input order."""

    class_ids: np.ndarray
    probabilities: np.ndarray


@dataclass
class Model:
    """A verified artifact plus the outcome of its self-test (readiness)."""

    artifact: Artifact
    class_names: tuple[str, ...] = field(init=False)
    ready_reason: str | None = field(init=False, default="self-test not run")
    compiled: CompiledProba = field(init=False)

    def __post_init__(self) -> None:
        self.class_names = tuple(self.artifact.metadata["class_names"])
        self.compiled = compile_predict_proba(self.artifact.model)

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

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (n, n_classes) for ``X`` (n, 4) float64 cm whose values the service has
        validated, as the artifact's ``predict_proba`` gives them (``service.proba``)."""
        return self.compiled.predict_proba(X)

    def predict_proba_row(self, row: Sequence[float]) -> list[float]:
        """Probabilities (n_classes floats) for one validated row of 4 floats in cm,
        equal to ``predict_proba`` on it within a few units in the last place."""
        return self.compiled.predict_proba_row(row)

    def predict(self, X: np.ndarray) -> Predictions:
        """Predict every row of ``X`` (n, 4) float64 cm in one vectorised call to ``predict_proba``."""
        probabilities = self.predict_proba(X)
        return Predictions(class_ids=probabilities.argmax(axis=1), probabilities=probabilities)

    def self_test(self) -> None:
        """Re-predict the rows recorded at training time; set ``ready_reason`` on any mismatch."""
        try:
            recorded = self.metadata["self_test"]
            X = np.asarray(recorded["inputs"], dtype=np.float64)
            expected = [int(c) for c in recorded["expected_class_ids"]]
            got = self.predict(X)
        except Exception as exc:  # a model that cannot predict is not ready, whatever the reason
            self.ready_reason = f"self-test prediction failed: {type(exc).__name__}: {exc}"
        else:
            sums = got.probabilities.sum(axis=1)
            if got.class_ids.tolist() != expected:
                self.ready_reason = f"self-test predicted {got.class_ids.tolist()}, training recorded {expected}"
            elif not np.allclose(sums, 1.0):
                self.ready_reason = f"self-test probabilities sum to {sums.tolist()}, not 1"
            else:
                self.ready_reason = None
        if self.ready_reason:
            LOG.error("model %s not ready: %s", self.version, self.ready_reason)


def load_model(model_dir: Path) -> Model:
    """Load, verify and self-test the artifact in ``model_dir``; raise ``ArtifactError`` if unusable."""
    model = Model(load_artifact(model_dir))
    model.self_test()
    LOG.info(
        "loaded model %s version %s from %s (ready: %s; probabilities: %s)",
        model.name, model.version, model_dir, model.ready, model.compiled.method,
    )
    return model
