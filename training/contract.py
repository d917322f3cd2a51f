"""Derive a model's contract (``training.fields``) from its data: ranges from columns, sample rows from a matrix.

Also how the contract's numbers are written in texts (``number_text``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from training.fields import INTEGER, NUMBER, Feature

SAMPLE_ROWS = 20
# A range taken from data is the observed [min, max] widened by this share of
# its span on each side: values a little outside what training saw are still
# served; values off by orders of magnitude (a unit mistake) are refused.
DEFAULT_RANGE_MARGIN = 0.1
# Bounds taken from data are rounded outwards to this many significant digits
# of the span, so error messages show 10.64, not 10.649999999999999.
RANGE_DIGITS = 3


def number_text(value: float) -> str:
    """The shortest text that reads back as ``value``, without a trailing ``.0``: 30.0 -> "30"."""
    text = repr(float(value))
    return text.removesuffix(".0")


def range_from_data(name: str, column: np.ndarray, margin: float = DEFAULT_RANGE_MARGIN,
                    type_: str = NUMBER) -> Feature:
    """A feature whose range is ``column``'s [min, max] widened by ``margin`` x span each side,
    rounded outwards (``RANGE_DIGITS``); a constant column is widened by ``margin`` x its
    magnitude (or by ``margin`` when it is 0). Integer features get integral bounds.
    ``ValueError`` when a bound is not a finite float (a margin too large for the data)."""
    low, high = float(column.min()), float(column.max())
    span = high - low or abs(low) or 1.0
    low, high = low - margin * span, high + margin * span
    try:  # float arithmetic overflows to inf, and floor, ceil and ** raise on it
        if type_ == INTEGER:
            low, high = float(math.floor(low)), float(math.ceil(high))
        else:
            quantum = 10.0 ** (math.floor(math.log10(span)) - RANGE_DIGITS + 1)
            decimals = max(0, -math.floor(math.log10(quantum)))
            # round(..., 6) first: 11.03 - 0.38 is 10.649999999999999 in floats, and is meant as 10.65.
            low = round(math.floor(round(low / quantum, 6)) * quantum, decimals)
            high = round(math.ceil(round(high / quantum, 6)) * quantum, decimals)
    except (OverflowError, ValueError):
        low = high = math.inf
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"the range of {name!r} from the data, widened by {margin:g} times its span, "
                         "is beyond the largest number")
    return Feature(name=name, type=type_, minimum=low, maximum=high, range_source="data")


def sample_rows(X: np.ndarray, names: Sequence[str], types: Sequence[str]) -> list[dict[str, float | int]]:
    """Rows of ``X`` (n, n_features) as ``/predict`` bodies: ``{name: value}``, ints for integer features."""
    return [
        {name: int(value) if type_ == INTEGER else float(value) for name, type_, value in zip(names, types, row)}
        for row in X.tolist()
    ]
