"""The service's probabilities equal scikit-learn's ``predict_proba`` for every estimator it serves."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from service.proba import compile_predict_proba
from training.data import load_dataset
from training.estimators import ESTIMATORS, build_estimator

DIRECT = "scaler + multinomial logistic regression from fitted parameters"
IRIS = load_dataset()
# Valid Iris rows to check a compiled function on, Iris-like and at the ends of the accepted
# range (0, 30] cm, in FEATURE_NAMES order; the service builds its own (``service.model.probe_rows``).
PROBE_ROWS = np.array([
    [5.1, 3.5, 1.4, 0.2],
    [6.4, 3.2, 4.5, 1.5],
    [6.3, 3.3, 6.0, 2.5],
    [0.1, 0.1, 0.1, 0.1],
    [30.0, 30.0, 30.0, 30.0],
    [7.9, 0.2, 29.0, 0.1],
])


def fitted(estimator):
    return estimator.fit(IRIS.X, IRIS.y)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_probabilities_match_scikit_learn_on_the_whole_data_set(name) -> None:
    estimator = fitted(build_estimator(name, seed=42))
    compiled = compile_predict_proba(estimator, PROBE_ROWS)
    np.testing.assert_allclose(compiled.predict_proba(IRIS.X), estimator.predict_proba(IRIS.X), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_one_row_at_a_time_matches_scikit_learn_on_the_whole_data_set(name) -> None:
    estimator = fitted(build_estimator(name, seed=42))
    compiled = compile_predict_proba(estimator, PROBE_ROWS)
    by_row = np.array([compiled.predict_proba_row(row) for row in IRIS.X.tolist()])
    np.testing.assert_allclose(by_row, estimator.predict_proba(IRIS.X), rtol=0, atol=1e-6)


def test_the_default_pipeline_is_computed_from_its_parameters() -> None:
    estimator = fitted(build_estimator("logistic_regression", seed=42))
    assert compile_predict_proba(estimator, PROBE_ROWS).method == DIRECT


def test_the_random_forest_falls_back_to_scikit_learn() -> None:
    estimator = fitted(build_estimator("random_forest", seed=42))
    assert compile_predict_proba(estimator, PROBE_ROWS).method != DIRECT


@pytest.mark.parametrize("estimator", [
    make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=1000)),
    make_pipeline(StandardScaler(with_mean=False), LogisticRegression(max_iter=1000)),
    LogisticRegression(max_iter=1000),
], ids=["other scaler", "scaling without centring", "no scaler"])
def test_other_linear_pipelines_match_whichever_way_they_are_computed(estimator) -> None:
    estimator = fitted(estimator)
    compiled = compile_predict_proba(estimator, PROBE_ROWS)
    np.testing.assert_allclose(compiled.predict_proba(IRIS.X), estimator.predict_proba(IRIS.X), rtol=0, atol=1e-6)


def test_a_two_class_model_falls_back_since_its_probabilities_are_not_a_softmax() -> None:
    two_classes = IRIS.y < 2
    estimator = make_pipeline(StandardScaler(), LogisticRegression()).fit(IRIS.X[two_classes], IRIS.y[two_classes])
    compiled = compile_predict_proba(estimator, PROBE_ROWS)
    assert compiled.method != DIRECT
    np.testing.assert_allclose(compiled.predict_proba(IRIS.X), estimator.predict_proba(IRIS.X), rtol=0, atol=1e-6)


def test_an_unfitted_model_is_left_to_scikit_learn_to_refuse() -> None:
    from sklearn.exceptions import NotFittedError

    compiled = compile_predict_proba(build_estimator("logistic_regression", seed=42), PROBE_ROWS)
    with pytest.raises(NotFittedError):
        compiled.predict_proba(IRIS.X[:1])
