"""The limits every prediction route puts on its feature matrix.

``POST /predict`` and the Open Inference Protocol's ``/v2/models/.../infer``
decode their bodies differently but both end with an (n, 4) float64 matrix in
cm, in ``FEATURE_NAMES`` order. Both call ``check_batch_size`` (before
building the matrix, so an oversized body is refused cheaply) and
``check_features``, so the two contracts cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from service.errors import BatchTooLarge, ValidationFailed, summarise

# Fisher's Iris measurements lie within 0.1-7.9 cm (scikit-learn's copy of the
# UCI data set); 0 and below is not a length, and 30 cm gives wide headroom over
# any iris flower while still refusing values off by orders of magnitude.
MEASUREMENT_RANGE_CM = (0.0, 30.0)
NOT_FINITE = "Must be a finite number."
OUT_OF_RANGE = f"Must be greater than {MEASUREMENT_RANGE_CM[0]:g} and at most {MEASUREMENT_RANGE_CM[1]:g} cm."


def check_batch_size(n_rows: int, max_batch_size: int, field: str, noun: str = "instances") -> None:
    """Raise ``BatchTooLarge`` (413) naming ``field`` when ``n_rows`` is over ``max_batch_size``."""
    if n_rows > max_batch_size:
        raise BatchTooLarge(
            f"batch of {n_rows} {noun} is over the limit of {max_batch_size}",
            {field: [f"At most {max_batch_size} {noun}."]},
        )


def check_features(X: np.ndarray, field_name: Callable[[int, int], str]) -> None:
    """Check every value of ``X`` (n, 4) float64 cm is finite, above 0 and at most 30.

    Raises ``ValidationFailed`` (400) naming every bad value as ``field_name(row, column)``.
    """
    low, high = MEASUREMENT_RANGE_CM
    finite = np.isfinite(X)
    bad = ~finite | (X <= low) | (X > high)
    if not bad.any():
        return
    fields: dict[str, list[str]] = {}
    for row, column in zip(*np.nonzero(bad)):
        fields[field_name(int(row), int(column))] = [OUT_OF_RANGE if finite[row, column] else NOT_FINITE]
    raise ValidationFailed(summarise(fields), fields)
