"""Load shapes: the users each one asks for over time, that each ends by itself, selection by name."""

from __future__ import annotations

import pytest

from loadtest.shapes import SHAPES, ConstantShape, SpikeShape, StepShape, shape_from
from tests.conftest import parse_options


def _timeline(shape, until_s: float, every_s: float = 1.0) -> list:
    """What the shape asks for at 0, every_s, 2 * every_s, ... up to until_s."""
    return [shape.users_at(i * every_s) for i in range(int(until_s / every_s) + 1)]


def test_constant_holds_its_users_then_stops() -> None:
    shape = ConstantShape(users=8, spawn_rate=2.0, duration_s=5)
    assert _timeline(shape, 6) == [(8, 2.0)] * 5 + [None, None]


def test_step_adds_its_users_every_step_up_to_the_cap_then_stops() -> None:
    shape = StepShape(users=7, spawn_rate=4.0, duration_s=12, step_users=3, step_time_s=3)
    assert [stage and stage[0] for stage in _timeline(shape, 13)] == [
        3, 3, 3, 6, 6, 6, 7, 7, 7, 7, 7, 7, None, None]
    assert shape.users_at(2.999) == (3, 4.0) and shape.users_at(3.0) == (6, 4.0)


def test_spike_jumps_to_its_peak_within_a_second_and_back() -> None:
    shape = SpikeShape(users=5, spawn_rate=1.0, duration_s=10, spike_users=40, spike_at_s=3, spike_duration_s=4)
    assert _timeline(shape, 11) == [
        (5, 1.0), (5, 1.0), (5, 1.0),
        (40, 40.0), (40, 40.0), (40, 40.0), (40, 40.0),
        (5, 40.0), (5, 40.0), (5, 40.0),
        None, None,
    ]


@pytest.mark.parametrize("shape", [
    ConstantShape(users=2, spawn_rate=1.0, duration_s=30),
    StepShape(users=2, spawn_rate=1.0, duration_s=30, step_users=1, step_time_s=10),
    SpikeShape(users=2, spawn_rate=1.0, duration_s=30, spike_users=4, spike_at_s=10, spike_duration_s=10),
], ids=lambda shape: shape.name)
def test_tick_follows_the_clock_and_returns_none_at_the_end(shape) -> None:
    shape.reset_time()
    assert shape.tick() == shape.users_at(0.0) is not None
    shape.start_time -= 30  # as if the run had gone on for its whole run time
    assert shape.tick() is None


def test_shape_none_leaves_the_plain_options_in_charge() -> None:
    assert shape_from(parse_options(["--shape", "none", "-u", "5", "-t", "10s"])) is None


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_a_shape_is_chosen_by_name_and_sized_by_users_spawn_rate_and_run_time(name: str) -> None:
    shape = shape_from(parse_options(["--shape", name, "-u", "9", "-r", "3", "-t", "2m"]))
    assert type(shape) is SHAPES[name] and shape.name == name
    assert (shape.users, shape.spawn_rate, shape.duration_s) == (9, 3.0, 120.0)
    assert shape.users_at(119.9) is not None and shape.users_at(120.0) is None


def test_shape_options_reach_the_shape() -> None:
    step = shape_from(parse_options(["--shape", "step", "-u", "20", "-t", "60", "--step-users", "4",
                                     "--step-time-s", "7.5"]))
    assert (step.step_users, step.step_time_s) == (4, 7.5)
    spike = shape_from(parse_options(["--shape", "spike", "-u", "2", "-t", "60", "--spike-users", "30",
                                      "--spike-at-s", "10", "--spike-duration-s", "5"]))
    assert (spike.spike_users, spike.spike_at_s, spike.spike_duration_s) == (30, 10.0, 5.0)


@pytest.mark.parametrize(("args", "message"), [
    (["--shape", "constant", "-u", "5"], "needs --users and --run-time"),
    (["--shape", "step", "-t", "30s"], "needs --users and --run-time"),
    (["--shape", "spike", "-u", "5", "-t", "30s", "--spike-at-s", "20", "--spike-duration-s", "15"],
     "the spike ends at 35 s, after the run time of 30 s"),
])
def test_a_shape_that_cannot_stop_as_asked_is_refused(args: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        shape_from(parse_options(args))
