"""The Iris data set as bundled with scikit-learn (no download at run time)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_iris

from training.fields import NUMBER, Feature

# Order matters: the service builds its (n, 4) input matrix in this order.
FEATURE_NAMES: tuple[str, ...] = ("sepal_length", "sepal_width", "petal_length", "petal_width")
FEATURE_UNIT = "cm"
TARGET_NAME = "species"
# What one input row is, for the service's texts ("one flower", "N flowers by ...").
ROW_NAME = "flower"
# Fisher's Iris measurements lie within 0.1-7.9 cm (scikit-learn's copy of the
# UCI data set); 0 and below is not a length, and 30 cm gives wide headroom over
# any iris flower while still refusing values off by orders of magnitude.
MEASUREMENT_RANGE_CM = (0.0, 30.0)
FEATURES: tuple[Feature, ...] = tuple(
    Feature(name=name, type=NUMBER, minimum=MEASUREMENT_RANGE_CM[0], maximum=MEASUREMENT_RANGE_CM[1],
            exclusive_minimum=True, unit=FEATURE_UNIT, description="Length in centimetres.")
    for name in FEATURE_NAMES
)


@dataclass(frozen=True)
class Dataset:
    """Features ``X`` (150, 4) float64 in cm, labels ``y`` (150,) int64 in 0..2."""

    X: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]


def load_dataset() -> Dataset:
    """Load Fisher's Iris data (150 rows, 3 classes) from scikit-learn's bundled copy."""
    bunch = load_iris()
    return Dataset(
        X=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.int64),
        class_names=tuple(str(name) for name in bunch.target_names),
    )
