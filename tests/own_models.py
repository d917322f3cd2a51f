"""Models fitted outside this project, as a user brings them: a joblib file and a CSV of their data.

Wine (178 rows, 13 features, 3 cultivars) and diabetes (442 rows, 10
features, a disease progression score) ship inside scikit-learn, so nothing
is downloaded.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from training.__main__ import main as training_main


@dataclass(frozen=True)
class OwnModel:
    """A fitted estimator, its data (``X`` (n, n_features) float64, ``y`` (n,)) and the files it was saved to."""

    name: str
    estimator: Any
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target: str
    model_path: Path
    data_path: Path


def write_csv(path: Path, feature_names: tuple[str, ...], X: np.ndarray, target: str, y: np.ndarray) -> None:
    """A CSV with a header row: the features, then the target."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*feature_names, target])
        for row, label in zip(X.tolist(), y.tolist()):
            writer.writerow([*row, label])


def _save(name: str, estimator: Any, X: np.ndarray, y: np.ndarray, feature_names: tuple[str, ...], target: str,
          directory: Path) -> OwnModel:
    estimator.fit(X, y)
    model_path = directory / f"{name}.joblib"
    data_path = directory / f"{name}.csv"
    joblib.dump(estimator, model_path)
    write_csv(data_path, feature_names, X, target, y)
    return OwnModel(name, estimator, X, y, feature_names, target, model_path, data_path)


def wine(directory: Path, estimator: Any | None = None, name: str = "wine") -> OwnModel:
    """A scaler + logistic regression (or ``estimator``) fitted on all of wine; classes are the cultivar names."""
    bunch = load_wine()
    names = tuple(feature.replace("/", "_") for feature in bunch.feature_names)
    y = np.asarray(bunch.target_names)[bunch.target]
    estimator = estimator or make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return _save(name, estimator, np.asarray(bunch.data, dtype=np.float64), y, names, "cultivar", directory)


def wine_without_probabilities(directory: Path) -> OwnModel:
    """A ridge classifier on wine: it has ``predict`` but no ``predict_proba``."""
    return wine(directory, make_pipeline(StandardScaler(), RidgeClassifier()), name="wine-ridge")


def diabetes(directory: Path) -> OwnModel:
    """A ridge regression fitted on all of diabetes; the target is the progression score."""
    bunch = load_diabetes()
    return _save("diabetes", Ridge(), np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target),
                 tuple(bunch.feature_names), "progression", directory)


def with_integer_column(model: OwnModel, column: int) -> OwnModel:
    """``model`` with ``column`` rounded: its CSV rewritten to hold integer literals there (101, not 101.0),
    and a fresh copy of its estimator (``sklearn.base.clone``) fitted on the rounded data and saved
    over its model file; ``model.estimator`` itself is left as it was fitted."""
    X = model.X.copy()
    X[:, column] = np.round(X[:, column])
    estimator = clone(model.estimator).fit(X, model.y)
    joblib.dump(estimator, model.model_path)
    lines = [",".join([*model.feature_names, model.target])]
    for row, label in zip(X.tolist(), model.y.tolist()):
        cells = [str(int(value)) if index == column else repr(value) for index, value in enumerate(row)]
        lines.append(",".join([*cells, str(label)]))
    model.data_path.write_text("\n".join(lines) + "\n")
    return OwnModel(model.name, estimator, X, model.y, model.feature_names, model.target,
                    model.model_path, model.data_path)


def package(model: OwnModel, model_dir: Path, *extra: str) -> int:
    """Run ``python -m training package`` on ``model`` in this process; its exit status."""
    return training_main(["package", "--model", str(model.model_path), "--data", str(model.data_path),
                          "--target", model.target, "--model-dir", str(model_dir), *extra])
