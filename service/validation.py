"""The limits every prediction route puts on its feature matrix.

``POST /predict`` and the Open Inference Protocol's ``/v2/models/.../infer``
decode their bodies differently but both end with an (n, n_features) float64
matrix in the order of the artifact's ``features`` (``training.fields``).
Both call ``check_batch_size`` (before building the matrix, so an oversized
body is refused cheaply) and ``FeatureLimits.check``, so the two contracts
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from service.errors import BatchTooLarge, ValidationFailed, summarise
from training.contract import number_text
from training.fields import INTEGER, Feature

NOT_FINITE = "Must be a finite number."
NOT_INTEGER = "Must be an integer."


def check_batch_size(n_rows: int, max_batch_size: int, field: str, noun: str = "instances") -> None:
    """Raise ``BatchTooLarge`` (413) naming ``field`` when ``n_rows`` is over ``max_batch_size``."""
    if n_rows > max_batch_size:
        raise BatchTooLarge(
            f"batch of {n_rows} {noun} is over the limit of {max_batch_size}",
            {field: [f"At most {max_batch_size} {noun}."]},
        )


def out_of_range_message(feature: Feature) -> str:
    """"Must be at least 0.5 and at most 9." (``greater than`` for an exclusive minimum, the unit when known)."""
    lower = "greater than" if feature.exclusive_minimum else "at least"
    unit = f" {feature.unit}" if feature.unit else ""
    return f"Must be {lower} {number_text(feature.minimum)} and at most {number_text(feature.maximum)}{unit}."


class FeatureLimits:
    """Each feature's valid values, checked over a whole matrix at once (numpy) or on one row (Python)."""

    def __init__(self, features: Sequence[Feature]) -> None:
        self.low = np.array([feature.minimum for feature in features])
        self.high = np.array([feature.maximum for feature in features])
        self.exclusive = np.array([feature.exclusive_minimum for feature in features])
        self.integer = np.array([feature.type == INTEGER for feature in features])
        # Whole-matrix operations only where some feature needs them: a batch pays per operation.
        self.any_integer = bool(self.integer.any())
        self.all_exclusive = bool(self.exclusive.all())
        self.messages = [out_of_range_message(feature) for feature in features]
        self.row_is_valid = self._row_check(features)

    @staticmethod
    def _row_check(features: Sequence[Feature]) -> Callable[[list[float]], bool]:
        """``row -> bool`` for one row of floats, in plain Python: numpy's per-call overhead
        on a (1, n) array costs more than the checks. NaN fails every comparison."""
        lows = [feature.minimum for feature in features]
        highs = [feature.maximum for feature in features]
        integer = [feature.type == INTEGER for feature in features]
        exclusive = [feature.exclusive_minimum for feature in features]
        if len(set(lows)) == len(set(highs)) == len(set(exclusive)) == 1 and not any(integer):
            # One range for every feature (Iris): a single chained comparison each.
            low, high = lows[0], highs[0]
            if exclusive[0]:
                return lambda row: all(low < value <= high for value in row)
            return lambda row: all(low <= value <= high for value in row)
        bounds = list(zip(lows, highs, exclusive, integer))

        def row_is_valid(row: list[float]) -> bool:
            for value, (low, high, above, whole) in zip(row, bounds):
                if not (low < value <= high if above else low <= value <= high):
                    return False
                if whole and not value.is_integer():
                    return False
            return True

        return row_is_valid

    def check(self, X: np.ndarray, field_name: Callable[[int, int], str]) -> None:
        """Check every value of ``X`` (n, n_features) float64 is finite, within its feature's
        range and integral for an integer feature.

        Raises ``ValidationFailed`` (400) naming every bad value as ``field_name(row, column)``.
        """
        finite = np.isfinite(X)
        below = (X <= self.low) if self.all_exclusive else (X < self.low) | (self.exclusive & (X == self.low))
        outside = below | (X > self.high)
        bad = ~finite | outside
        if self.any_integer:
            bad |= self.integer & (X != np.floor(X))
        if not bad.any():
            return
        fields: dict[str, list[str]] = {}
        for row, column in zip(*np.nonzero(bad)):
            if not finite[row, column]:
                problem = NOT_FINITE
            elif outside[row, column]:
                problem = self.messages[column]
            else:
                problem = NOT_INTEGER
            fields[field_name(int(row), int(column))] = [problem]
        raise ValidationFailed(summarise(fields), fields)
