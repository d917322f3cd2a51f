"""Per-class statistics of Fisher's Iris measurements, in cm.

Computed from the copy bundled with scikit-learn (``sklearn.datasets.load_iris``:
150 rows, 50 per class). They live here as constants because the Locust image runs
without scikit-learn or numpy; ``tests/test_locustfile.py`` recomputes them from
scikit-learn and fails when they drift.
"""

from __future__ import annotations

FEATURE_NAMES: tuple[str, ...] = ("sepal_length", "sepal_width", "petal_length", "petal_width")

# class name -> per-feature mean (cm), in FEATURE_NAMES order, rounded to 4 decimals.
CLASS_MEAN_CM: dict[str, tuple[float, ...]] = {
    "setosa": (5.006, 3.428, 1.462, 0.246),
    "versicolor": (5.936, 2.77, 4.26, 1.326),
    "virginica": (6.588, 2.974, 5.552, 2.026),
}

# class name -> per-feature sample standard deviation (ddof=1, cm), rounded to 4 decimals.
CLASS_STD_CM: dict[str, tuple[float, ...]] = {
    "setosa": (0.3525, 0.3791, 0.1737, 0.1054),
    "versicolor": (0.5162, 0.3138, 0.4699, 0.1978),
    "virginica": (0.6359, 0.3225, 0.5519, 0.2747),
}

# Per-feature smallest and largest value in the whole data set (cm): the range a
# sampled measurement is clipped to, so every drawn flower is one Fisher could have measured.
FEATURE_MIN_CM: tuple[float, ...] = (4.3, 2.0, 1.0, 0.1)
FEATURE_MAX_CM: tuple[float, ...] = (7.9, 4.4, 6.9, 2.5)
