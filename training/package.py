"""Package any fitted scikit-learn estimator or pipeline, plus a sample of its data, as an artifact.

``python -m training package --model PIPELINE.joblib --data DATA.csv --target COLUMN --model-dir DIR``

The CSV has a header row; every column but ``--target`` is a feature, in the
order the model takes them, and holds numbers only. From it come the
contract's fields (``training.fields``): each feature's type (``integer``
when every cell is an integer literal, else ``number``) and valid range
(declared with ``--range NAME=LOW:HIGH``, else the data's, widened by
``--range-margin``), the task, the classes or the target's name, a sample of
rows and the self-test. Every check that fails raises ``PackagingError`` with
one line saying what is wrong.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.base import is_classifier, is_regressor
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.metrics import accuracy_score, r2_score

from training.artifact import PACKAGED, versions
from training.contract import DEFAULT_RANGE_MARGIN, SAMPLE_ROWS, range_from_data, sample_rows
from training.fields import CLASSIFICATION, DEFAULT_ROW_NAME, INTEGER, NUMBER, REGRESSION, Feature

SAMPLE_SEED = 0
# The name is a path segment of the Open Inference Protocol's URLs (/v2/models/<name>).
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class PackagingError(ValueError):
    """The model or the data cannot make an artifact; the message is one line saying why."""


@dataclass(frozen=True)
class PackagingParams:
    model_path: Path
    data_path: Path
    target: str
    name: str
    declared_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    range_margin: float = DEFAULT_RANGE_MARGIN
    row_name: str = DEFAULT_ROW_NAME


@dataclass(frozen=True)
class Table:
    """A CSV's features ``X`` (n, n_features) float64, their names and types, and the raw target column."""

    X: np.ndarray
    feature_names: tuple[str, ...]
    feature_types: tuple[str, ...]
    target: list[str]


def parse_range(text: str) -> tuple[str, tuple[float, float]]:
    """``NAME=LOW:HIGH`` as ``(name, (low, high))``; ``ValueError`` saying the expected form."""
    name, _, bounds = text.partition("=")
    low, _, high = bounds.partition(":")
    try:
        parsed = (float(low), float(high))
    except ValueError:
        raise ValueError(f"{text!r} is not NAME=LOW:HIGH with LOW and HIGH numbers") from None
    if not name or not all(map(np.isfinite, parsed)) or parsed[0] > parsed[1]:
        raise ValueError(f"{text!r} is not NAME=LOW:HIGH with finite LOW <= HIGH")
    return name, parsed


def read_table(path: Path, target: str) -> Table:
    """Read ``path`` (CSV with a header row); ``PackagingError`` for a missing target column,
    no feature or data rows, a short or long row, or a cell that is not a number."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise PackagingError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not rows:
        raise PackagingError(f"{path} is empty; it needs a header row and data rows")
    header, body = [name.strip() for name in rows[0]], rows[1:]
    if target not in header:
        raise PackagingError(f"{path} has no column {target!r}; its columns are {', '.join(header)}")
    if len(set(header)) != len(header):
        raise PackagingError(f"{path} names a column more than once")
    if len(header) < 2 or not body:
        raise PackagingError(f"{path} needs at least one feature column beside {target!r} and one data row")
    target_at = header.index(target)
    feature_at = [index for index in range(len(header)) if index != target_at]
    cells: list[list[str]] = []
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise PackagingError(f"{path} line {line} has {len(row)} cells, the header {len(header)}")
        cells.append([row[index].strip() for index in feature_at])
    try:
        X = np.array(cells, dtype=np.float64)
    except ValueError:
        line, column = next((line, index) for line, row in enumerate(cells, start=2) for index, cell in enumerate(row)
                            if not _parses_as(float, cell))
        raise PackagingError(f"{path} line {line} column {header[feature_at[column]]!r}: "
                             f"{cells[line - 2][column]!r} is not a number; features must be numeric") from None
    if not np.isfinite(X).all():
        raise PackagingError(f"{path} holds a feature value that is not finite (nan or inf)")
    types = tuple(INTEGER if all(_parses_as(int, row[column]) for row in cells) else NUMBER
                  for column in range(len(feature_at)))
    return Table(X=X, feature_names=tuple(header[index] for index in feature_at), feature_types=types,
                 target=[row[target_at].strip() for row in body])


def _parses_as(kind: type[int] | type[float], text: str) -> bool:
    """Whether ``kind(text)`` reads ``text``: ``int`` for an integer literal ("3", not "3.0"), ``float`` for any number."""
    try:
        kind(text)
    except ValueError:
        return False
    return True


def load_fitted_model(path: Path) -> Any:
    """Unpickle ``path``; ``PackagingError`` if it cannot be read or another scikit-learn pickled it."""
    if not path.is_file():
        raise PackagingError(f"no model file at {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", InconsistentVersionWarning)
            return joblib.load(path)
    except InconsistentVersionWarning as exc:
        raise PackagingError(
            f"{path} was pickled by scikit-learn {exc.original_sklearn_version} but {sklearn.__version__} is "
            f"installed; fit it again with {sklearn.__version__}, the version the service runs"
        ) from None
    except Exception as exc:  # unpickling can raise almost anything on a file that is not a model
        raise PackagingError(f"{path} cannot be loaded as a model ({type(exc).__name__}: {exc})") from None


def _task(model: Any) -> str:
    try:
        classifier, regressor = is_classifier(model), is_regressor(model)
    except (AttributeError, TypeError):  # scikit-learn reads the tags of an estimator instance only
        raise PackagingError(f"the model file holds a {type(model).__name__}, not a scikit-learn estimator; "
                             "save the fitted estimator or pipeline with joblib.dump") from None
    if classifier:
        return CLASSIFICATION
    if regressor:
        return REGRESSION
    raise PackagingError(f"{type(model).__name__} is neither a classifier nor a regressor (scikit-learn's "
                         "is_classifier and is_regressor both say no)")


def _check_feature_names(model: Any, table: Table, data_path: Path) -> None:
    n_features = getattr(model, "n_features_in_", None)
    if n_features is not None and n_features != len(table.feature_names):
        raise PackagingError(f"the model takes {n_features} features but {data_path} has "
                             f"{len(table.feature_names)} besides the target")
    fitted_names = getattr(model, "feature_names_in_", None)
    if fitted_names is not None and tuple(map(str, fitted_names)) != table.feature_names:
        raise PackagingError(f"the model was fitted on the features {', '.join(map(str, fitted_names))} but "
                             f"{data_path} has {', '.join(table.feature_names)}, in this order")


def _predict(model: Any, X: np.ndarray) -> np.ndarray:
    # A model fitted on a data frame warns that a plain array has no feature names;
    # the names and their order were checked against feature_names_in_ instead.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        try:
            predicted = np.asarray(model.predict(X))
        except Exception as exc:  # whatever the estimator raises, packaging stops with its words
            raise PackagingError(f"the model cannot predict the data: {type(exc).__name__}: {exc}") from None
    if predicted.shape != (len(X),):
        raise PackagingError(f"the model predicts shape {predicted.shape} for {len(X)} rows; "
                             "one target per row is served")
    return predicted


def _features(table: Table, params: PackagingParams) -> list[Feature]:
    unknown = sorted(set(params.declared_ranges) - set(table.feature_names))
    if unknown:
        raise PackagingError(f"--range names {', '.join(unknown)}, not a feature of {params.data_path}")
    features = []
    for column, (name, type_) in enumerate(zip(table.feature_names, table.feature_types)):
        values = table.X[:, column]
        if name not in params.declared_ranges:
            try:
                features.append(range_from_data(name, values, params.range_margin, type_))
            except ValueError as exc:
                raise PackagingError(f"{exc}; give a smaller --range-margin or declare it with "
                                     f"--range {name}=LOW:HIGH") from None
            continue
        low, high = params.declared_ranges[name]
        outside = int(((values < low) | (values > high)).sum())
        if outside:
            raise PackagingError(f"{outside} value(s) of {name!r} in {params.data_path} lie outside its declared "
                                 f"range {low:g}:{high:g}; the service would refuse them")
        features.append(Feature(name=name, type=type_, minimum=low, maximum=high, range_source="declared"))
    return features


def _outputs(model: Any, task: str, table: Table, predicted: np.ndarray, sample: np.ndarray) -> dict[str, Any]:
    """The task's fields of the metadata: classes or target, metrics on the data, self-test expectations."""
    n_rows = len(table.X)
    if task == REGRESSION:
        try:
            y = np.array(table.target, dtype=np.float64)
        except ValueError:
            raise PackagingError("the target column of a regressor must hold numbers") from None
        if not np.isfinite(y).all():
            raise PackagingError("the target column holds a value that is not finite (nan or inf)")
        if not np.isfinite(predicted.astype(np.float64)).all():
            raise PackagingError("the model predicts a value that is not finite for a row of the data")
        return {
            "metrics": {"rows": n_rows, "r2": float(r2_score(y, predicted))},
            "expected": {"expected_predictions": [float(value) for value in _predict(model, sample)]},
        }
    class_names = [str(label) for label in model.classes_]
    if len(class_names) < 2 or len(set(class_names)) != len(class_names):
        raise PackagingError(f"the model's classes {class_names} are not two or more distinct names")
    unknown = sorted(set(table.target) - set(class_names))
    if unknown:
        raise PackagingError(f"the target column holds {', '.join(map(repr, unknown[:5]))}, "
                             f"not among the model's classes {', '.join(class_names)}")
    position = {name: index for index, name in enumerate(class_names)}
    return {
        "class_names": class_names,
        "predict_proba": hasattr(model, "predict_proba"),
        "metrics": {"rows": n_rows, "accuracy": float(accuracy_score(table.target, [str(p) for p in predicted]))},
        "expected": {"expected_class_ids": [position[str(label)] for label in _predict(model, sample)]},
    }


def _estimator_name(model: Any) -> str:
    steps = getattr(model, "steps", None)
    return " -> ".join(type(step).__name__ for _, step in steps) if steps else type(model).__name__


def package(params: PackagingParams) -> tuple[Any, dict[str, Any]]:
    """Load and check the model against the data; return it with its metadata (``training.fields``).

    Raises ``PackagingError`` (one line) for a bad name, model file or CSV; a model
    pickled by another scikit-learn; an object that is not a scikit-learn estimator,
    or one that is neither a classifier nor a regressor; a ``range_margin`` that
    widens a range beyond the largest float;
    feature counts or names (``feature_names_in_``) that differ from the CSV's; a model
    that cannot predict the data; target values outside a classifier's classes; and
    data outside a declared range.
    """
    if not MODEL_NAME.fullmatch(params.name):
        raise PackagingError(f"model name {params.name!r} must be letters, digits, '_', '.' or '-' "
                             "(it is part of the /v2 URLs), starting with a letter or digit")
    model = load_fitted_model(params.model_path)
    task = _task(model)
    table = read_table(params.data_path, params.target)
    _check_feature_names(model, table, params.data_path)
    features = _features(table, params)
    predicted = _predict(model, table.X)
    rows = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(table.X), min(SAMPLE_ROWS, len(table.X)), replace=False))
    sample = table.X[rows]
    outputs = _outputs(model, task, table, predicted, sample)
    metadata = {
        "name": params.name,
        "source": PACKAGED,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "estimator": _estimator_name(model),
        "task": task,
        "target": params.target,
        "row_name": params.row_name,
        "features": [feature.as_metadata() for feature in features],
        **{key: outputs[key] for key in ("class_names", "predict_proba") if key in outputs},
        "range_margin": params.range_margin,
        "metrics": {**outputs["metrics"], "on": f"the packaged data ({params.data_path.name})"},
        "sample": sample_rows(sample, table.feature_names, table.feature_types),
        "self_test": {"inputs": sample.tolist(), **outputs["expected"]},
        "versions": versions(),
    }
    return model, metadata

