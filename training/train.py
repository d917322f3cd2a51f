"""Fit and evaluate a classifier on Iris; produce the metadata the service needs (``training.fields``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split

from training.artifact import TRAINED, versions
from training.contract import SAMPLE_ROWS, sample_rows
from training.data import FEATURE_NAMES, FEATURES, ROW_NAME, TARGET_NAME, Dataset
from training.estimators import build_estimator
from training.fields import CLASSIFICATION, NUMBER

DEFAULT_SEED = 42
DEFAULT_TEST_SIZE = 0.2
DEFAULT_CV_FOLDS = 5
MODEL_NAME = "iris"


@dataclass(frozen=True)
class TrainingParams:
    estimator: str
    seed: int = DEFAULT_SEED
    test_size: float = DEFAULT_TEST_SIZE
    cv_folds: int = DEFAULT_CV_FOLDS


@dataclass(frozen=True)
class TrainingResult:
    model: Any
    metadata: dict[str, Any]


def _self_test(X_test: np.ndarray, y_test: np.ndarray, model: Any) -> dict[str, Any]:
    """One held-out row per class, with the class the fitted model gives it.

    The service repeats these predictions at start-up as its readiness check.
    """
    rows = [int(np.flatnonzero(y_test == label)[0]) for label in np.unique(y_test)]
    inputs = X_test[rows]
    return {
        "inputs": inputs.tolist(),
        "expected_class_ids": [int(c) for c in model.predict(inputs)],
    }


def train(dataset: Dataset, params: TrainingParams, progress: Callable[[str], None] = lambda _: None) -> TrainingResult:
    """Split (stratified), cross-validate, fit on the training split, evaluate on the held-out split.

    ``progress`` receives one line per step. Raises ``ValueError`` for an
    unknown estimator or a ``test_size`` outside (0, 1).
    """
    if not 0.0 < params.test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {params.test_size}")
    model = build_estimator(params.estimator, params.seed)
    X_train, X_test, y_train, y_test = train_test_split(
        dataset.X, dataset.y, test_size=params.test_size, stratify=dataset.y, random_state=params.seed
    )
    progress(f"split: {len(y_train)} training rows, {len(y_test)} held-out rows (stratified, seed {params.seed})")

    folds = StratifiedKFold(n_splits=params.cv_folds, shuffle=True, random_state=params.seed)
    cv_scores = cross_val_score(model, X_train, y_train, cv=folds, scoring="accuracy")
    progress(f"cross-validation: accuracy {cv_scores.mean():.3f} ± {cv_scores.std():.3f} over {params.cv_folds} folds")

    model.fit(X_train, y_train)
    y_pred = model.predict(X_test)
    metrics = {
        "cv_accuracy_mean": float(cv_scores.mean()),
        "cv_accuracy_std": float(cv_scores.std()),
        "cv_folds": params.cv_folds,
        "test_accuracy": float(accuracy_score(y_test, y_pred)),
        "test_f1_macro": float(f1_score(y_test, y_pred, average="macro")),
        "test_rows": int(len(y_test)),
        "train_rows": int(len(y_train)),
    }
    progress(f"held-out: accuracy {metrics['test_accuracy']:.3f}, macro F1 {metrics['test_f1_macro']:.3f}")
    progress(classification_report(y_test, y_pred, target_names=list(dataset.class_names), digits=3).rstrip())

    metadata = {
        "name": MODEL_NAME,
        "source": TRAINED,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "estimator": params.estimator,
        "task": CLASSIFICATION,
        "target": TARGET_NAME,
        "row_name": ROW_NAME,
        "features": [feature.as_metadata() for feature in FEATURES],
        "class_names": list(dataset.class_names),
        "predict_proba": True,
        "sample": sample_rows(X_test[:SAMPLE_ROWS], FEATURE_NAMES, [NUMBER] * len(FEATURE_NAMES)),
        "metrics": metrics,
        "params": {
            "estimator": params.estimator,
            "seed": params.seed,
            "test_size": params.test_size,
            "cv_folds": params.cv_folds,
            "model_params": {k: repr(v) for k, v in model.get_params(deep=True).items() if "__" in k},
        },
        "versions": versions(),
        "self_test": _self_test(X_test, y_test, model),
    }
    return TrainingResult(model=model, metadata=metadata)
