"""loadtest.rate_steps: an open load whose rate changes in steps."""

from __future__ import annotations

import argparse
import random

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
    """When every request starts if each answer takes no time: every user started at 0, at its random phase."""
    rng = random.Random(7)
    starts = []
    for _ in range(users):
        pacer = schedule.pacer(rng)
        schedule.clock = lambda: 0.0
        now = pacer.start()
        while now < until_s:
            starts.append(now)
            schedule.clock = lambda now=now: now
            now += pacer(None)
    return sorted(starts)


def test_users_together_start_each_step_s_rate_from_the_step_s_first_second() -> None:
    # 40 users: at 10 req/s each waits 4 s, at 40 req/s 1 s; a user in the middle of a
    # 4 s wait when the fast step begins goes early, so the rate changes at once.
    schedule = RateSchedule(STEPS, users=40, clock=lambda: 0.0)
    schedule.start(0.0)

    starts = start_times(schedule, users=40, until_s=10.0)

    # Windows in which each user's count goes up by whole numbers: exact whatever the phases.
    per_window = [sum(1 for s in starts if low <= s < high) for low, high in ((0, 4), (4, 6), (6, 10))]
    assert per_window == [40, 80, 40]
    # Each user's first request comes at a random phase of its pace, not all at once.
    first_second = sum(1 for s in starts if s < 1.0)
    assert 3 <= first_second <= 20


def test_a_late_user_starts_its_next_request_at_once() -> None:
    clock = [0.0]
    schedule = RateSchedule((RateStep(1.0, 10.0),), users=1, clock=lambda: clock[0])
    schedule.start(0.0)
    pacer = schedule.pacer(random.Random(1))
    phase_s = pacer.start()

    assert 0.0 <= phase_s < 1.0
    clock[0] = phase_s  # the first request starts
    assert pacer(None) == pytest.approx(1.0)
    clock[0] = 5.0  # the request due at phase + 1 s took until 5 s
    assert pacer(None) == 0.0
