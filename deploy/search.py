"""The capacity search over probe outcomes, as pure functions: which rate to offer next, and what was found.

A configuration's capacity is the highest offered rate at which a probe passed
(:mod:`deploy.probe` judges one). The search, per configuration:

1. offer ``start_rps``; after a pass, double the rate until a probe fails
   (capped at the highest rate the bench offers, ``max_rps``: a pass there ends the
   search, the capacity is at least that and the bench set the limit);
2. after a fail with no pass below it (the start rate already failed), halve
   until a probe passes or the rate would drop under MIN_RATE_RPS;
3. then bisect between the highest pass below the lowest fail and that fail,
   until the fail is within ``bracket`` (a share) of the pass or ``max_probes`` probes ran.

Triton Model Analyzer's search doubles and then bisects in the same way; Vidur's
capacity search bisects an open-loop rate against a latency percentile.

Noise: on a shared host a probe can pass above a rate that failed. Such a pass
never raises the capacity: the capacity is the highest pass *below the lowest
fail*, and the passes above it are reported as noisy. Every rate the search
offers lies inside the current bracket, so the rule needs no second look at a
probe, and no probe is spent repeating one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Below one request a second the measured window holds too few requests to judge percentiles.
MIN_RATE_RPS = 1.0
# Rates are offered in tenths of a request a second.
RATE_DECIMALS = 1


@dataclass(frozen=True)
class Outcome:
    """One probe as the search sees it: the rate offered (requests/s) and whether it passed."""

    rate_rps: float
    passed: bool


@dataclass(frozen=True)
class Found:
    """What a finished (or stopped) search found.

    ``capacity_rps``: the highest pass below the lowest fail, None when no probe passed;
    ``lowest_fail_rps``: None when none failed; ``at_ceiling``: a probe at the bench's
    highest rate passed, so the capacity is a lower bound; ``converged``: the bracket
    closed within its width; ``noisy_passes``: rates that passed above the lowest fail.
    """

    capacity_rps: float | None
    lowest_fail_rps: float | None
    at_ceiling: bool
    converged: bool
    noisy_passes: tuple[float, ...]


def bracket(outcomes: Sequence[Outcome]) -> tuple[float | None, float | None]:
    """(highest pass below the lowest fail, lowest fail), each None when there is none."""
    fails = [outcome.rate_rps for outcome in outcomes if not outcome.passed]
    lowest_fail = min(fails, default=None)
    passes = [outcome.rate_rps for outcome in outcomes
              if outcome.passed and (lowest_fail is None or outcome.rate_rps < lowest_fail)]
    return max(passes, default=None), lowest_fail


def closed(low_rps: float, high_rps: float, width: float) -> bool:
    """Whether the bracket [low_rps, high_rps) is narrow enough: high - low <= width x low."""
    return high_rps - low_rps <= width * low_rps + 1e-9


def next_rate(outcomes: Sequence[Outcome], start_rps: float, max_rps: float, bracket_width: float,
              max_probes: int) -> float | None:
    """The rate to offer next (requests/s), or None when the search is over.

    ``outcomes`` in the order probed; ``max_rps`` is the highest rate the bench
    can offer; ``bracket_width`` a share (0.1: within 10%); ``max_probes`` the budget.
    """
    if len(outcomes) >= max_probes:
        return None
    if not outcomes:
        return round(min(start_rps, max_rps), RATE_DECIMALS)
    low, high = bracket(outcomes)
    if high is None:  # every probe passed: double, up to the bench's ceiling
        if low >= max_rps - 1e-9:
            return None
        return round(min(2 * low, max_rps), RATE_DECIMALS)
    if low is None:  # every probe below the lowest fail failed: halve
        rate = round(high / 2, RATE_DECIMALS)
        return rate if rate >= MIN_RATE_RPS else None
    if closed(low, high, bracket_width):
        return None
    rate = round((low + high) / 2, RATE_DECIMALS)
    return rate if low < rate < high else None  # a bracket narrower than the rounding is closed


def conclude(outcomes: Sequence[Outcome], max_rps: float, bracket_width: float) -> Found:
    """What ``outcomes`` say about the capacity (see :class:`Found`)."""
    low, high = bracket(outcomes)
    noisy = tuple(sorted(outcome.rate_rps for outcome in outcomes
                         if outcome.passed and high is not None and outcome.rate_rps > high))
    at_ceiling = high is None and low is not None and low >= max_rps - 1e-9
    converged = at_ceiling or (low is not None and high is not None and closed(low, high, bracket_width))
    return Found(capacity_rps=low, lowest_fail_rps=high, at_ceiling=at_ceiling, converged=converged,
                 noisy_passes=noisy)


def estimate_probes(start_rps: float, expected_rps: float, max_rps: float, bracket_width: float,
                    max_probes: int) -> int:
    """Probes the search spends on a configuration whose probes pass exactly up to ``expected_rps``
    (for the dry run's time estimate)."""
    outcomes: list[Outcome] = []
    while (rate := next_rate(outcomes, start_rps, max_rps, bracket_width, max_probes)) is not None:
        outcomes.append(Outcome(rate, rate <= expected_rps))
    return len(outcomes)
