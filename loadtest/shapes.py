"""Load shapes: constant, step and spike, chosen by name with ``--shape``.

Locust runs any ``LoadTestShape`` subclass it finds in the locustfile's namespace,
and then ignores ``--users``/``--spawn-rate``/``--run-time``. The locustfile
therefore imports only this module, never the classes, and installs the one
``--shape`` names (``shape_from``) when Locust starts; ``--shape none`` installs
none and leaves the plain options in charge. Every shape reads its size from
``--users``, ``--spawn-rate`` and ``--run-time`` and ends the test by itself when
the run time is over (``tick`` returns ``None``). Locust's docs: "Custom load shape"
(https://docs.locust.io/en/stable/custom-load-shape.html).
"""

from __future__ import annotations

import argparse
from abc import abstractmethod

from locust import LoadTestShape

from loadtest.shape_rules import check_spike_fits

Stage = tuple[int, float]


class TimedShape(LoadTestShape):
    """A shape given as a function of the time since the test started."""

    abstract = True
    name = ""

    def __init__(self, users: int, spawn_rate: float, duration_s: float) -> None:
        super().__init__()
        if users < 1 or spawn_rate <= 0 or duration_s <= 0:
            raise ValueError(f"{self.name} shape needs users >= 1, spawn rate > 0 and a duration > 0")
        self.users = users
        self.spawn_rate = spawn_rate
        self.duration_s = duration_s

    @abstractmethod
    def users_at(self, run_time_s: float) -> Stage | None:
        """``(user_count, spawn_rate_per_s)`` at ``run_time_s`` into the test, ``None`` once it is over."""

    def tick(self) -> Stage | None:
        return self.users_at(self.get_run_time())


class ConstantShape(TimedShape):
    """``users`` users, ramped up at ``spawn_rate`` per second, for ``duration_s``."""

    name = "constant"

    def users_at(self, run_time_s: float) -> Stage | None:
        if run_time_s >= self.duration_s:
            return None
        return self.users, self.spawn_rate


class StepShape(TimedShape):
    """``step_users`` users, ``step_users`` more every ``step_time_s`` up to ``users``, for ``duration_s``."""

    name = "step"

    def __init__(self, users: int, spawn_rate: float, duration_s: float, step_users: int, step_time_s: float) -> None:
        super().__init__(users, spawn_rate, duration_s)
        if step_users < 1 or step_time_s <= 0:
            raise ValueError("step shape needs step users >= 1 and a step time > 0")
        self.step_users = step_users
        self.step_time_s = step_time_s

    def users_at(self, run_time_s: float) -> Stage | None:
        if run_time_s >= self.duration_s:
            return None
        steps = int(run_time_s // self.step_time_s) + 1
        return min(self.users, steps * self.step_users), self.spawn_rate


class SpikeShape(TimedShape):
    """``users`` users, ``spike_users`` from ``spike_at_s`` for ``spike_duration_s``, then ``users`` again.

    The spike arrives and leaves within about a second (its users are started at
    ``spike_users`` per second, or ``spawn_rate`` when that is faster); the
    baseline ramps up at ``spawn_rate``.
    """

    name = "spike"

    def __init__(
        self, users: int, spawn_rate: float, duration_s: float,
        spike_users: int, spike_at_s: float, spike_duration_s: float,
    ) -> None:
        super().__init__(users, spawn_rate, duration_s)
        if spike_users < 1 or spike_at_s < 0 or spike_duration_s <= 0:
            raise ValueError("spike shape needs spike users >= 1, a start >= 0 s and a duration > 0 s")
        check_spike_fits(spike_at_s, spike_duration_s, duration_s)
        self.spike_users = spike_users
        self.spike_at_s = spike_at_s
        self.spike_duration_s = spike_duration_s

    def users_at(self, run_time_s: float) -> Stage | None:
        if run_time_s >= self.duration_s:
            return None
        spike_rate = max(self.spawn_rate, float(self.spike_users))
        if run_time_s < self.spike_at_s:
            return self.users, self.spawn_rate
        if run_time_s < self.spike_at_s + self.spike_duration_s:
            return self.spike_users, spike_rate
        return self.users, spike_rate


SHAPES: dict[str, type[TimedShape]] = {shape.name: shape for shape in (ConstantShape, StepShape, SpikeShape)}


def shape_from(options: argparse.Namespace) -> TimedShape | None:
    """The shape ``options.shape`` names, sized by the other options; ``None`` for ``none``.

    Raises ``ValueError`` when a shape lacks ``--users`` or ``--run-time``, or its
    options contradict each other.
    """
    if options.shape == "none":
        return None
    if not options.num_users or not options.run_time:
        raise ValueError(f"--shape {options.shape} needs --users and --run-time (it stops by itself at the end)")
    size = {"users": options.num_users, "spawn_rate": options.spawn_rate or 1.0, "duration_s": float(options.run_time)}
    if options.shape == "step":
        return StepShape(**size, step_users=options.step_users, step_time_s=options.step_time_s)
    if options.shape == "spike":
        return SpikeShape(
            **size, spike_users=options.spike_users,
            spike_at_s=options.spike_at_s, spike_duration_s=options.spike_duration_s,
        )
    return SHAPES[options.shape](**size)
