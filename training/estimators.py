"""The estimators the training command can fit, by name."""

from __future__ import annotations

from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

DEFAULT_ESTIMATOR = "logistic_regression"


def _logistic_regression(seed: int) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))


def _random_forest(seed: int) -> Pipeline:
    # One job: the service predicts one row at a time, where a thread pool only adds latency.
    return make_pipeline(RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1))


ESTIMATORS = {
    "logistic_regression": _logistic_regression,
    "random_forest": _random_forest,
}


def build_estimator(name: str, seed: int) -> Pipeline:
    """Return an unfitted pipeline for ``name``; raise ``ValueError`` for an unknown name."""
    try:
        factory = ESTIMATORS[name]
    except KeyError:
        raise ValueError(f"unknown estimator {name!r}; choose one of {sorted(ESTIMATORS)}") from None
    return factory(seed)
