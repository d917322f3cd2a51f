"""loadtest.rate_steps: an open load whose rate changes in steps."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from loadtest.rate_steps import RateSchedule, RateStep, parse_rate_steps, rate_at

STEPS = (RateStep(10.0, 4.0), RateStep(40.0, 2.0), RateStep(10.0, 2.0))


def test_parse_rate_steps_reads_rate_and_seconds() -> None:
    assert parse_rate_steps("10:4, 40:2,10:2") == STEPS


@pytest.mark.parametrize("text", ["", "10", "10:", "a:1", "10:0", "-5:3", "inf:1", "10:4,40"])
def test_parse_rate_steps_refuses_anything_else(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_rate_steps(text)


def test_rate_at_follows_the_steps_and_keeps_the_last_after_the_end() -> None:
    assert [rate_at(STEPS, t) for t in (0, 3.9, 4, 5.9, 6, 7.9, 100)] == [10, 10, 40, 40, 10, 10, 10]


def start_times(schedule: RateSchedule, users: int, until_s: float) -> list[float]:
    """When every request starts if each user's request takes no time: users spawned at the first step's rate."""
    starts = []
    for index in range(users):
        now = index * users / schedule.steps[0].rate_rps / users  # spawned one after another at the first rate
        user = SimpleNamespace()
        while now < until_s:
            starts.append(now)
            schedule.clock = lambda now=now: now
            now += schedule.wait_time(user)
    return sorted(starts)


def test_users_together_start_each_step_s_rate_from_the_step_s_first_second() -> None:
    # 40 users: at 10 req/s each waits 4 s, at 40 req/s 1 s; a user in the middle of a
    # 4 s wait when the fast step begins goes early, so the rate changes at once.
    schedule = RateSchedule(STEPS, users=40, clock=lambda: 0.0)
    schedule.start(0.0)

    starts = start_times(schedule, users=40, until_s=8.0)

    per_second = [sum(1 for s in starts if second <= s < second + 1) for second in range(8)]
    assert per_second == [10, 10, 10, 10, 40, 40, 10, 10]


def test_a_late_user_starts_its_next_request_at_once() -> None:
    clock = [0.0]
    schedule = RateSchedule((RateStep(1.0, 10.0),), users=1, clock=lambda: clock[0])
    schedule.start(0.0)
    user = SimpleNamespace()

    assert schedule.wait_time(user) == 1.0
    clock[0] = 5.0  # the request due at 1 s took until 5 s
    assert schedule.wait_time(user) == 0.0
