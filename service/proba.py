"""Class probabilities from a fitted estimator, without scikit-learn's per-call overhead.

scikit-learn's ``predict_proba`` re-validates its input on every call (type,
shape, finiteness, feature names: about 95% of its 70-180 µs on one row, the
arithmetic being under 5 µs). The service has already checked every value
(``service.validation``), so it computes:

- a pipeline of ``StandardScaler`` steps ending in a multinomial
  ``LogisticRegression`` (more than two classes) directly from the fitted
  parameters, with the same numpy operations in the same order as
  ``StandardScaler.transform``, ``LinearClassifierMixin.decision_function``
  and ``sklearn.utils.extmath.softmax`` (scikit-learn 1.9), and for a
  single row the same arithmetic on Python floats, since numpy's per-call
  overhead on a (1, 4) array outweighs the arithmetic;
- any other estimator with its own ``predict_proba`` inside
  ``sklearn.config_context(assume_finite=True, skip_parameter_validation=True)``,
  which skips the finiteness scan and the parameter checks but nothing else.

Compiled functions are used only after they reproduced scikit-learn's
probabilities on the probe rows (the served model's own, ``service.model``) to
``PROBE_TOLERANCE``; otherwise the fallback is.

``argmax_is_predict`` says when a class can be read from these probabilities
as scikit-learn's ``predict`` gives it; for any other estimator the service
asks ``predict`` for the class.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

ProbaFunction = Callable[[np.ndarray], np.ndarray]
RowProbaFunction = Callable[[Sequence[float]], list[float]]

PROBE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class CompiledProba:
    """``predict_proba``: X (n, n_features) float64, finite, already validated ->
    (n, n_classes) float64, rows summing to 1, classes in ``classes_`` order.
    ``predict_proba_row``: the same for one row given as floats, as a list,
    for single-row requests, where numpy's per-call overhead on a (1, 4)
    array is most of the cost. ``method`` says which way it computes, for the start-up log;
    ``direct`` whether it computes from the fitted parameters."""

    predict_proba: ProbaFunction
    predict_proba_row: RowProbaFunction
    method: str
    direct: bool = False


def _row_of(predict_proba: ProbaFunction) -> RowProbaFunction:
    def predict_proba_row(row: Sequence[float]) -> list[float]:
        return predict_proba(np.array([row], dtype=np.float64))[0].tolist()

    return predict_proba_row


def _scaling_steps(steps: list[object]) -> list[tuple[np.ndarray | None, np.ndarray | None]] | None:
    """(mean, scale) of each dense StandardScaler step, None for a step that is anything else."""
    scalings = []
    for step in steps:
        if step in (None, "passthrough"):
            continue
        if type(step) is not StandardScaler:
            return None
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None
        scalings.append((mean, scale))
    return scalings


def _linear_softmax(estimator: object) -> ProbaFunction | None:
    """The arithmetic of scaler(s) + multinomial logistic regression, or None if ``estimator`` is not that."""
    steps = [step for _, step in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    *transforms, final = steps
    scalings = _scaling_steps(transforms)
    if scalings is None or type(final) is not LogisticRegression or len(final.classes_) <= 2:
        return None
    coef_T = final.coef_.T
    intercept = final.intercept_

    def predict_proba(X: np.ndarray) -> np.ndarray:
        for mean, scale in scalings:
            if mean is not None:
                X = X - mean
            if scale is not None:
                X = X / scale
        scores = X @ coef_T + intercept
        scores -= scores.max(axis=1).reshape(-1, 1)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1).reshape(-1, 1)
        return scores

    return predict_proba


def _linear_softmax_row(estimator: object) -> RowProbaFunction:
    """The same arithmetic as ``_linear_softmax`` on one row, in Python floats:
    equal to it within a few units in the last place (BLAS may sum the dot
    products in another order, numpy's exp may differ from libm's by one unit)."""
    steps = [step for _, step in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    scalings = [
        (None if mean is None else mean.tolist(), None if scale is None else scale.tolist())
        for mean, scale in _scaling_steps(steps[:-1])
    ]
    final = steps[-1]
    weights = final.coef_.tolist()
    intercepts = final.intercept_.tolist()

    def predict_proba_row(row: Sequence[float]) -> list[float]:
        z = row
        for mean, scale in scalings:
            if mean is not None:
                z = list(map(operator.sub, z, mean))
            if scale is not None:
                z = list(map(operator.truediv, z, scale))
        scores = [sum(map(operator.mul, z, w)) + b for w, b in zip(weights, intercepts)]
        top = max(scores)
        exps = [math.exp(score - top) for score in scores]
        total = sum(exps)
        return [e / total for e in exps]

    return predict_proba_row


def without_revalidation(method: ProbaFunction) -> ProbaFunction:
    """``method`` (an estimator's ``predict_proba`` or ``predict``) called inside
    ``sklearn.config_context(assume_finite=True, skip_parameter_validation=True)``."""
    def call(X: np.ndarray) -> np.ndarray:
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return method(X)

    return call


def final_step(estimator: object) -> object:
    """The last step of a pipeline, or the estimator itself."""
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def argmax_is_predict(estimator: object, compiled: CompiledProba) -> bool:
    """Whether ``classes_[argmax(predict_proba(X))]`` is, by scikit-learn's code, what ``predict(X)`` gives:

    - the compiled scaler + multinomial logistic regression: ``predict`` takes the
      argmax of the scores, and softmax keeps their order (the service's way since
      its first version);
    - a random forest or extra-trees classifier with one output: its
      ``ForestClassifier.predict`` is ``classes_.take(argmax(predict_proba(X)))``
      (sklearn/ensemble/_forest.py, scikit-learn 1.9).
    """
    if compiled.direct:
        return True
    final = final_step(estimator)
    return type(final) in (RandomForestClassifier, ExtraTreesClassifier) and getattr(final, "n_outputs_", 0) == 1


def compile_predict_proba(estimator: object, probe_rows: np.ndarray) -> CompiledProba:
    """The fastest exact ``predict_proba`` for a fitted ``estimator`` (see the module docstring);
    ``probe_rows`` (n, n_features) float64 are valid inputs spanning the accepted ranges."""
    unchecked = without_revalidation(estimator.predict_proba)
    fallback = CompiledProba(unchecked, _row_of(unchecked),
                             "scikit-learn predict_proba (input checked once, by the service)")
    try:
        direct = _linear_softmax(estimator)
        if direct is None or getattr(estimator, "n_features_in_", None) != probe_rows.shape[1]:
            return fallback
        direct_row = _linear_softmax_row(estimator)
        expected = estimator.predict_proba(probe_rows)
        by_row = np.array([direct_row(row) for row in probe_rows.tolist()])
        for got in (direct(probe_rows), by_row):
            if not np.allclose(got, expected, rtol=0.0, atol=PROBE_TOLERANCE):
                return fallback
    except Exception:  # an estimator this cannot read is left to scikit-learn, and to the self-test
        return fallback
    return CompiledProba(direct, direct_row, "scaler + multinomial logistic regression from fitted parameters", direct=True)
