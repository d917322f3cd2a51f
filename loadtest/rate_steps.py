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


class Schedule:
    """The steps and the moment they started (``start``, at the test's start, Unix time); a wait function for users."""

    def __init__(self, steps: tuple[RateStep, ...], users: int, clock: Callable[[], float] = time.time) -> None:
        self.steps = steps
        self.users = users
        self.clock = clock
        self.started = clock()

    def start(self, started: float) -> None:
        """Count the schedule from ``started`` (the clock's time, Unix time by default)."""
        self.started = started

    def pace_s(self) -> float:
        """Seconds between a user's request starts now: ``users / rate``."""
        return self.users / rate_at(self.steps, self.clock() - self.started)

    def wait_time(self, user: Any) -> float:
        """Locust's wait function: the rest of the current pace after the request that just ended (0 if it took longer)."""
        now = self.clock()
        last_start = getattr(user, "_schedule_last_start", None)
        if last_start is None:  # the first request ran at spawn: its start is about now minus its run time
            last_start = now
        wait_s = max(0.0, last_start + self.pace_s() - now)
        user._schedule_last_start = now + wait_s
        return wait_s
