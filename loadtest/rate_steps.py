"""An open-model load whose rate changes in steps: ``--rate-steps 150:40,300:30,...``.

A fixed number of users (``--users``) each start a request, then wait so that
together they start ``rate`` requests per second: a user's pace (seconds from
one request's start to the next) is ``users / rate``. The rate is the step's at
the moment the wait is computed, counted from the start of the test
(``events.test_start``), so the offered rate follows the schedule whatever the
answers, as long as each answer takes less than the pace. Spawning the users at
the first step's rate (``--spawn-rate``) makes their first requests that rate too.
Locust's ``constant_throughput`` is this with one rate for the whole run.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RateStep:
    """``rate_rps`` requests/s offered for ``duration_s`` seconds."""

    rate_rps: float
    duration_s: float


def parse_rate_steps(text: str) -> tuple[RateStep, ...]:
    """``"150:40,300:30"`` -> two steps; argparse's ``ArgumentTypeError`` for anything else."""
    steps = []
    for part in text.split(","):
        rate, _, duration = part.strip().partition(":")
        try:
            step = RateStep(float(rate), float(duration))
        except ValueError:
            raise argparse.ArgumentTypeError(f"rate steps are RATE:SECONDS[,RATE:SECONDS...], got {text!r}") from None
        if not (0 < step.rate_rps < float("inf") and 0 < step.duration_s < float("inf")):
            raise argparse.ArgumentTypeError(f"a step's rate and seconds must be finite and above 0, got {part.strip()!r}")
        steps.append(step)
    return tuple(steps)


def rate_at(steps: tuple[RateStep, ...], elapsed_s: float) -> float:
    """The rate of the step ``elapsed_s`` seconds into the schedule; the last step's after its end."""
    for step in steps:
        if elapsed_s < step.duration_s:
            return step.rate_rps
        elapsed_s -= step.duration_s
    return steps[-1].rate_rps


class RateSchedule:
    """The steps, the users sharing them and when they started (``start``, Unix time by default).

    Each user's requests are spaced so that every user starts one request per
    ``users / rate`` seconds, with the rate integrated over the steps: a user
    waiting out a slow step's long pace starts its next request early when a
    faster step begins, so the offered rate changes at the step's start, not a
    pace later.
    """

    def __init__(self, steps: tuple[RateStep, ...], users: int, clock: Callable[[], float] = time.time) -> None:
        self.steps = steps
        self.users = users
        self.clock = clock
        self.started = clock()

    def start(self, started: float) -> None:
        """Count the schedule from ``started`` (the clock's time)."""
        self.started = started

    def requests_per_user(self, elapsed_s: float) -> float:
        """How many requests each user has started ``elapsed_s`` into the schedule: the integral of ``rate / users``."""
        count = 0.0
        for step in self.steps:
            span_s = min(max(elapsed_s, 0.0), step.duration_s)
            count += span_s * step.rate_rps / self.users
            elapsed_s -= step.duration_s
            if elapsed_s <= 0:
                return count
        return count + elapsed_s * self.steps[-1].rate_rps / self.users

    def elapsed_at(self, requests_per_user: float) -> float:
        """The moment, in seconds into the schedule, at which each user has started ``requests_per_user`` requests."""
        elapsed_s = 0.0
        for step in self.steps:
            step_count = step.duration_s * step.rate_rps / self.users
            if requests_per_user <= step_count:
                return elapsed_s + requests_per_user * self.users / step.rate_rps
            requests_per_user -= step_count
            elapsed_s += step.duration_s
        return elapsed_s + requests_per_user * self.users / self.steps[-1].rate_rps

    def pacer(self, rng: random.Random) -> RatePacer:
        """The wait of one user, its first request at a random phase (``rng``) of its pace."""
        return RatePacer(self, rng)


class RatePacer:
    """One user's requests on a :class:`RateSchedule`: the first after a random phase within the user's pace
    (Locust starts a second's users at once; without it they would send together, every pace), then one each
    time the schedule's count per user goes up by one."""

    def __init__(self, schedule: RateSchedule, rng: random.Random) -> None:
        self.schedule = schedule
        self.rng = rng
        self.done: float | None = None

    def start(self) -> float:
        """Seconds to wait before the first request: a random phase of the count per user now."""
        now_s = self.schedule.clock() - self.schedule.started
        self.done = self.schedule.requests_per_user(now_s) + self.rng.random()
        return self.schedule.elapsed_at(self.done) - now_s

    def __call__(self, user: Any) -> float:
        """Seconds until the user's next request is due (0 when it is late already)."""
        now_s = self.schedule.clock() - self.schedule.started
        self.done = (self.schedule.requests_per_user(now_s) if self.done is None else self.done) + 1
        return max(0.0, self.schedule.elapsed_at(self.done) - now_s)
