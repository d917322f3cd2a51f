"""The generator's self-watch: when a run's numbers describe the load generator rather than the service."""

from __future__ import annotations

import time

import gevent
import pytest
from locust.env import Environment
from locust.event import Events

from loadtest.selfwatch import (
    LATE_MS, SATURATION_PERCENT, CpuWatch, NodeCpu, Sample, locust_warnings, saturation_reason,
)

CALM = Sample(cpu_percent=20.0, late_ms=1.0)
BUSY = Sample(cpu_percent=SATURATION_PERCENT + 5, late_ms=1.0)
LATE = Sample(cpu_percent=20.0, late_ms=LATE_MS + 5)


@pytest.mark.parametrize(("samples", "saturated"), [
    ((CALM,) * 10, False),
    ((BUSY,) * 2 + (CALM,) * 8, False),    # a fifth: spawning users, say
    ((BUSY,) * 3 + (CALM,) * 7, True),
    ((LATE,) * 3 + (CALM,) * 7, True),     # starved of CPU on a shared machine: low use, yet late
    ((LATE,) * 2 + (CALM,) * 3, False),    # two stalled seconds of a short run: the host, not the generator
    ((BUSY,) * 3 + (CALM,) * 12, False),   # three seconds, a fifth exactly
    ((), False),
])
def test_a_node_is_saturated_when_over_a_fifth_and_three_of_its_samples_are(samples: tuple, saturated: bool) -> None:
    assert NodeCpu("generator", samples).saturated is saturated


def test_the_reason_names_every_saturated_node_and_locusts_own_warnings() -> None:
    nodes = [NodeCpu("master", (CALM,) * 5), NodeCpu("worker 1", (BUSY,) * 3 + (LATE,) * 2)]

    reason = saturation_reason(nodes, ["Locust's CPU warning on a worker"])

    assert reason == (
        "generator CPU saturated: results not trustworthy (worker 1: 5 of 5 samples over 90% of one core "
        "or over 20 ms late; Locust's CPU warning on a worker)")
    assert saturation_reason([NodeCpu("generator", (CALM,) * 5)], []) is None


def test_locusts_own_cpu_warnings_are_read_from_the_runner() -> None:
    environment = Environment(events=Events())
    runner = environment.create_local_runner()
    try:
        assert locust_warnings(runner) == []
        runner.cpu_warning_emitted = True
        assert locust_warnings(runner) == ["Locust's CPU warning on this process"]
    finally:
        runner.quit()


def test_a_blocked_event_loop_is_seen_late_and_the_samples_stop_with_the_test() -> None:
    environment = Environment(events=Events())
    runner = environment.create_local_runner()
    watch = CpuWatch(interval_s=0.1)
    watch.attach(environment)
    try:
        environment.events.test_start.fire(environment=environment)
        gevent.sleep(0.35)
        busy_until = time.perf_counter() + 0.5
        while time.perf_counter() < busy_until:  # CPU work that never yields, as in a saturated generator
            pass
        gevent.sleep(0.35)
        environment.events.test_stop.fire(environment=environment)
        [node] = watch.nodes()
        gevent.sleep(0.3)
        assert len(watch.nodes()[0].samples) == len(node.samples), "no samples after the test stopped"
    finally:
        runner.quit()

    assert node.node == "generator"
    assert len(node.samples) >= 5
    # The 0.5 s block delays one of a sample's 10 wake-ups by over 0.4 s: a mean of over 40 ms.
    assert max(sample.late_ms for sample in node.samples) >= 40, node.samples
    assert all(0.0 <= sample.cpu_percent for sample in node.samples)
