"""Sizing for a target rate from measured capacities: the cheapest that holds it, else an extrapolation."""

from __future__ import annotations

import pytest

from deploy.results import COMPLETED, PASS, ConfigurationResult
from deploy.sizing import describe_sizing, scalings, size_for

MIB = 1024**2


def row(index: int, replicas: int, cpus: float, capacity: float | None, memory_mib: int = 256,
        bound: str | None = None) -> ConfigurationResult:
    return ConfigurationResult(
        index=index, name=f"{replicas}x{cpus:g}", replicas=replicas, cpus=cpus, memory=f"{memory_mib}M",
        memory_limit_bytes=memory_mib * MIB, workers=None, total_cpus=round(replicas * cpus, 6),
        total_memory_bytes=replicas * memory_mib * MIB, status=COMPLETED, verdict=PASS, reason="",
        capacity_rps=capacity, capacity_bound=bound,
    )


MEASURED = [row(1, 1, 0.25, 110), row(2, 2, 0.25, 200), row(3, 1, 0.5, 230), row(4, 1, 1.0, 380),
            row(5, 4, 0.25, 360)]


def test_the_pick_is_the_cheapest_configuration_whose_capacity_covers_the_target_and_the_headroom():
    sizing = size_for(MEASURED, target_rps=150, headroom=0.2)  # needs 180 req/s
    assert sizing.required_rps == pytest.approx(180)
    # 2 x 0.25 (200 req/s) and 1 x 0.5 (230) both hold it at 0.5 CPU: the one with less memory in total wins.
    assert sizing.pick.name == "1x0.5"
    assert sizing.extrapolation is None and sizing.replicas == 1
    assert "**For 150 req/s with 20% headroom (a capacity of 180 req/s): 1 × 0.5 CPU / 256M**" in describe_sizing(sizing)[0]
    assert size_for(MEASURED, target_rps=80, headroom=0.2).pick.name == "1x0.25"  # needs 96


def test_a_lower_bound_counts_as_its_figure():
    sizing = size_for([row(1, 1, 1.0, 360, bound="generator")], target_rps=250, headroom=0.2)
    assert sizing.pick is not None and "generator-bound: at least that" in describe_sizing(sizing)[0]


def test_replication_efficiency_is_n_times_c_against_n_times_one_c():
    pairs = {pair.replicated.name: pair for pair in scalings(MEASURED)}
    assert set(pairs) == {"2x0.25", "4x0.25"}
    assert pairs["2x0.25"].efficiency == pytest.approx(200 / 220)
    assert pairs["4x0.25"].efficiency == pytest.approx(360 / 440)


def test_beyond_every_measured_capacity_it_extrapolates_from_the_most_efficient_replica_size():
    sizing = size_for(MEASURED, target_rps=1000, headroom=0.2)  # needs 1200
    extra = sizing.extrapolation
    assert sizing.pick is None
    assert extra.replica.name == "1x0.5"  # 460 req/s per CPU, ahead of 1x0.25 (440) and 1x1.0 (380)
    # No 2 x 0.5 was measured: the efficiency is the mean of the measured ones (2 x 0.25 and 4 x 0.25).
    assert extra.efficiency_measured and extra.efficiency == pytest.approx((200 / 220 + 360 / 440) / 2)
    assert extra.replicas == 7 and extra.estimated_rps >= 1200
    text = describe_sizing(sizing)[0]
    assert "Extrapolated (not measured): 7 × 0.5 CPU / 256M" in text and "the measured scaling efficiency" in text


def test_without_any_replicated_measurement_the_efficiency_is_assumed_and_said_so():
    extra = size_for([row(1, 1, 0.25, 110), row(2, 1, 0.5, 230)], target_rps=500, headroom=0.2).extrapolation
    assert (extra.replica.name, extra.efficiency, extra.efficiency_measured, extra.replicas) == ("1x0.5", 1.0, False, 3)
    assert "assumed scaling efficiency of 1" in describe_sizing(size_for([row(1, 1, 0.5, 230)], 500, 0.2))[0]


def test_the_extrapolation_uses_the_measured_efficiency_of_its_replica_size():
    measured = [row(1, 1, 0.25, 110), row(2, 2, 0.25, 200), row(3, 1, 0.5, 200)]
    extra = size_for(measured, target_rps=500, headroom=0.2).extrapolation  # needs 600
    assert extra.replica.name == "1x0.25" and extra.efficiency_measured
    assert extra.efficiency == pytest.approx(200 / 220)
    assert extra.replicas == 6  # ceil(600 / (110 x 0.909))


def test_nothing_to_extrapolate_from_says_so():
    sizing = size_for([row(1, 1, 0.25, None), row(2, 1, 1.0, 360, bound="generator")], target_rps=1000, headroom=0.2)
    assert (sizing.pick, sizing.extrapolation, sizing.replicas) == (None, None, None)
    assert describe_sizing(sizing)[0].startswith("**No measured configuration holds 1000 req/s")
