"""The capacity search as pure functions over synthetic probe outcomes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deploy.search import Outcome, bracket, conclude, estimate_probes, next_rate

START, CEILING, WIDTH, BUDGET = 25.0, 1000.0, 0.1, 12


def search(holds: Callable[[float], bool], start: float = START, ceiling: float = CEILING, width: float = WIDTH,
           budget: int = BUDGET) -> list[Outcome]:
    """Run the search against an oracle that says whether a rate passes; the outcomes in probe order."""
    outcomes: list[Outcome] = []
    while (rate := next_rate(outcomes, start, ceiling, width, budget)) is not None:
        outcomes.append(Outcome(rate, holds(rate)))
    return outcomes


def rates(outcomes: list[Outcome]) -> list[float]:
    return [outcome.rate_rps for outcome in outcomes]


def test_it_doubles_from_the_start_rate_until_a_probe_fails_then_bisects():
    outcomes = search(lambda rate: rate <= 130)
    assert rates(outcomes)[:4] == [25, 50, 100, 200]
    assert rates(outcomes)[4:] == [150, 125, 137.5]
    found = conclude(outcomes, CEILING, WIDTH)
    assert found.capacity_rps == 125 and found.lowest_fail_rps == 137.5
    assert found.converged and not found.at_ceiling and found.noisy_passes == ()


def test_it_stops_once_the_bracket_is_within_its_width():
    outcomes = search(lambda rate: rate <= 130, width=0.25)
    assert rates(outcomes) == [25, 50, 100, 200, 150, 125]
    found = conclude(outcomes, CEILING, 0.25)
    assert (found.capacity_rps, found.lowest_fail_rps, found.converged) == (125, 150, True)
    assert (150 - 125) <= 0.25 * 125


def test_the_budget_stops_the_search_with_the_bracket_still_open():
    outcomes = search(lambda rate: rate <= 130, budget=5)
    assert rates(outcomes) == [25, 50, 100, 200, 150]
    found = conclude(outcomes, CEILING, WIDTH)
    assert (found.capacity_rps, found.lowest_fail_rps, found.converged) == (100, 150, False)


def test_a_fail_at_the_start_rate_halves_until_a_pass_then_bisects():
    outcomes = search(lambda rate: rate <= 8)
    assert rates(outcomes)[:3] == [25, 12.5, 6.2]
    found = conclude(outcomes, CEILING, WIDTH)
    assert found.capacity_rps is not None and found.capacity_rps <= 8 < found.lowest_fail_rps
    assert found.converged


def test_nothing_passing_ends_below_one_request_a_second_without_a_capacity():
    outcomes = search(lambda rate: False)
    assert rates(outcomes) == [25, 12.5, 6.2, 3.1, 1.6]
    found = conclude(outcomes, CEILING, WIDTH)
    assert (found.capacity_rps, found.lowest_fail_rps, found.converged) == (None, 1.6, False)


def test_a_pass_at_the_generator_ceiling_ends_the_search_as_a_lower_bound():
    outcomes = search(lambda rate: True, ceiling=360)
    assert rates(outcomes) == [25, 50, 100, 200, 360]
    found = conclude(outcomes, 360, WIDTH)
    assert (found.capacity_rps, found.lowest_fail_rps, found.at_ceiling, found.converged) == (360, None, True, True)


def test_a_start_rate_above_the_ceiling_starts_at_the_ceiling():
    assert next_rate([], 500, 360, WIDTH, BUDGET) == 360


def test_a_noisy_fail_is_believed_and_a_noisy_pass_above_a_fail_never_raises_the_capacity():
    # The configuration holds 300 req/s, but the probe at 200 failed (a noisy moment on the host):
    # the search stays below that fail, the capacity is understated, never overstated.
    outcomes = search(lambda rate: rate != 200 and rate < 300)
    found = conclude(outcomes, CEILING, WIDTH)
    assert rates(outcomes) == [25, 50, 100, 200, 150, 175, 187.5]
    assert (found.capacity_rps, found.lowest_fail_rps) == (187.5, 200)
    # A pass recorded above the lowest fail (e.g. a probe of an earlier attempt) is reported, not believed.
    noisy = [Outcome(25, True), Outcome(50, True), Outcome(100, False), Outcome(200, True), Outcome(75, True)]
    found = conclude(noisy, CEILING, WIDTH)
    assert (found.capacity_rps, found.lowest_fail_rps, found.noisy_passes) == (75, 100, (200,))
    assert next_rate(noisy, START, CEILING, WIDTH, BUDGET) == 87.5  # inside the bracket, not above 200


def test_a_non_monotonic_oracle_still_ends_within_the_budget_with_a_pass_below_a_fail():
    # Passes below 100 and again between 140 and 160: a search must not be fooled into reporting 160.
    outcomes = search(lambda rate: rate < 100 or 140 < rate < 160)
    found = conclude(outcomes, CEILING, WIDTH)
    assert len(outcomes) <= BUDGET
    assert found.capacity_rps is not None and found.lowest_fail_rps is not None
    assert found.capacity_rps < found.lowest_fail_rps
    assert all(outcome.passed for outcome in outcomes if outcome.rate_rps == found.capacity_rps)


@pytest.mark.parametrize(("outcomes", "expected"), [
    ([], (None, None)),
    ([Outcome(10, True), Outcome(20, True)], (20, None)),
    ([Outcome(10, False)], (None, 10)),
    ([Outcome(10, True), Outcome(40, False), Outcome(20, False), Outcome(30, True)], (10, 20)),
])
def test_the_bracket_is_the_highest_pass_below_the_lowest_fail(outcomes, expected):
    assert bracket(outcomes) == expected


def test_the_estimate_counts_the_probes_the_search_would_spend():
    assert estimate_probes(25, 130, CEILING, WIDTH, BUDGET) == len(search(lambda rate: rate <= 130))
    assert estimate_probes(25, 130, CEILING, WIDTH, 5) == 5
